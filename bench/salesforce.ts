/**
 * 2. Salesforce: API calls per record through sObject Collections (200 a request) and Bulk API 2.0 (jobs of up to
 * 100,000 rows: create, upload, close, polls, successful and failed results) at several sizes, measured at the
 * emulator's call log; wall time on the emulator as a ratio of the two paths; the crossover that sets the default
 * `SALESFORCE_BULK_THRESHOLD`.
 */
import { join } from "node:path";
import { startSalesforceEmulator } from "../emulators/salesforce/index.ts";
import type { SalesforceInput, SalesforceResult } from "./salesforce-client.ts";
import { BENCH_DIR, QUICK, log, median, round, runChild, writeResult } from "./lib.ts";

interface Trial {
  elapsedMs: number;
  apiCalls: number;
  written: number;
  lost: number;
  bulk: boolean;
}

/** Calls our engine makes, analytically: the describe, then ceil(n/200) upserts, or per job 6 calls + polls. */
function analyticCalls(rows: number, path: "collections" | "bulk", pollsPerJob: number): number {
  if (path === "collections") return 1 + Math.ceil(rows / 200);
  return 1 + Math.ceil(rows / 100_000) * (5 + pollsPerJob);
}

export async function run(): Promise<Record<string, unknown>> {
  const sizes = QUICK ? [1_000, 2_000, 5_000, 10_000] : [1_000, 2_000, 5_000, 10_000, 100_000, 1_000_000];
  // Collections at 1M is 5,000 requests (minutes on the emulator): measured up to 100k, extrapolated above (calls are exact: 1 + ceil(n / 200)).
  const collectionsMax = QUICK ? 10_000 : 100_000;
  const client = join(BENCH_DIR, "salesforce-client.ts");
  const cases: Record<string, unknown>[] = [];
  const bulkPolls: number[] = [];
  for (const rows of sizes) {
    const reps = rows >= 1_000_000 ? 1 : rows >= 100_000 ? 3 : 5;
    const perPath: Record<string, Record<string, unknown>> = {};
    for (const path of ["collections", "bulk"] as const) {
      if (path === "collections" && rows > collectionsMax) continue;
      const trials: Trial[] = [];
      for (let rep = 0; rep < reps; rep += 1) {
        // A fresh org per trial: every row is a create, and the call log holds this trial only.
        const emulator = await startSalesforceEmulator({ limits: { dailyApiRequests: 10_000_000 } });
        try {
          const input: SalesforceInput = { url: emulator.url, token: emulator.accessToken, rows, path };
          const { result } = await runChild<SalesforceResult>(client, input, { timeoutMs: 20 * 60_000 });
          const calls = emulator.calls();
          if (path === "bulk") {
            const polls = calls.filter((c) => c.method === "GET" && /\/jobs\/ingest\/[^/]+$/.test(c.path)).length;
            bulkPolls.push(polls / Math.ceil(rows / 100_000));
          }
          trials.push({ elapsedMs: round(result.elapsedMs, 1), apiCalls: calls.length, written: result.written, lost: result.lost, bulk: result.bulk });
          log(`salesforce ${rows} ${path} rep ${rep + 1}: ${calls.length} calls, ${Math.round(result.elapsedMs)} ms, ${result.written} written`);
        } finally {
          await emulator.close();
        }
      }
      perPath[path] = {
        repetitions: reps,
        apiCalls: median(trials.map((t) => t.apiCalls)),
        apiCallsPerRecord: round(median(trials.map((t) => t.apiCalls)) / rows, 6),
        elapsedMs: median(trials.map((t) => t.elapsedMs)),
        recordsPerSecond: round(rows / (median(trials.map((t) => t.elapsedMs)) / 1000), 0),
        lost: median(trials.map((t) => t.lost)),
        trials,
      };
    }
    if (!perPath.collections) {
      const calls = analyticCalls(rows, "collections", 0);
      perPath.collections = { extrapolated: true, apiCalls: calls, apiCallsPerRecord: round(calls / rows, 6), note: "not run at this size: calls computed as 1 describe + ceil(n / 200)" };
    }
    const c = perPath.collections as { apiCalls: number; elapsedMs?: number };
    const b = perPath.bulk as { apiCalls: number; elapsedMs: number };
    cases.push({
      rows,
      collections: perPath.collections,
      bulk: perPath.bulk,
      callsRatioBulkToCollections: round(b.apiCalls / c.apiCalls, 4),
      timeRatioBulkToCollections: c.elapsedMs === undefined ? null : round(b.elapsedMs / c.elapsedMs, 3),
    });
  }
  const pollsPerJob = Math.round(median(bulkPolls));
  // A job is 5 calls (create, upload, close, successful and failed results) + its polls. Calls break even where
  // ceil(n / 200) = 5 + polls, for one job.
  const callsCrossover = 200 * (5 + pollsPerJob);
  const result = {
    description:
      "Rows through our engine (jsforce, the mapping preflight included) to the Salesforce emulator (bulk processing delay 200 ms per job, the emulator's default), " +
      "forced onto Collections or Bulk API 2.0. API calls counted at the emulator. Wall times are the emulator's, not a real org's: a real Bulk job queues for seconds to minutes.",
    medianPollsPerBulkJob: pollsPerJob,
    callsCrossoverRows: callsCrossover,
    currentDefaultThreshold: 10_000,
    cases,
  };
  writeResult("salesforce", result);
  return result;
}
