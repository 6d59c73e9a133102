/**
 * 2. Salesforce: API calls per record through sObject Collections (200 a request) and Bulk API 2.0 (jobs of up to
 * SALESFORCE_BULK_MAX_RECORDS rows, 25,000: create, upload, close, polls, successful and failed results) at several sizes, measured at the
 * emulator's call log; wall time on the emulator as a ratio of the two paths; the crossover that sets the default
 * `SALESFORCE_BULK_THRESHOLD`; the Bulk path's peak RSS per size, whose ratio 1M ÷ 100k shows whether memory stays
 * flat as a run grows (goal ≤ 1.3).
 *
 * `BENCH_SALESFORCE_SIZES=100000,1000000` and `BENCH_SALESFORCE_PATHS=bulk` (comma separated) run chosen cases only
 * and log them, writing no results file (its ratios need every case).
 */
import { join } from "node:path";
import { startSalesforceEmulator } from "../emulators/salesforce/index.ts";
import { SALESFORCE_BULK_MAX_RECORDS } from "../src/destinations/salesforce/destination.ts";
import type { SalesforceInput, SalesforceResult } from "./salesforce-client.ts";
import { BENCH_DIR, QUICK, log, median, round, runChild, writeResult } from "./lib.ts";

const PATHS = ["collections", "bulk"] as const;
/** RSS(1M) ÷ RSS(100k) on the Bulk path at most this: memory flat in the run's size. */
const FLAT_RSS_RATIO = 1.3;

interface Trial {
  elapsedMs: number;
  apiCalls: number;
  written: number;
  lost: number;
  bulk: boolean;
  maxRssMB: number;
  liveMB: number;
}

/** Calls our engine makes, analytically: the describe, then ceil(n/200) upserts, or per job 6 calls + polls. */
function analyticCalls(rows: number, path: "collections" | "bulk", pollsPerJob: number): number {
  if (path === "collections") return 1 + Math.ceil(rows / 200);
  return 1 + Math.ceil(rows / SALESFORCE_BULK_MAX_RECORDS) * (5 + pollsPerJob);
}

export async function run(): Promise<Record<string, unknown>> {
  const chosenSizes = process.env.BENCH_SALESFORCE_SIZES?.split(",").map(Number).filter((n) => Number.isInteger(n) && n > 0) ?? [];
  const chosenPaths = process.env.BENCH_SALESFORCE_PATHS?.split(",").filter((p): p is (typeof PATHS)[number] => (PATHS as readonly string[]).includes(p)) ?? [];
  const partial = chosenSizes.length > 0 || chosenPaths.length > 0;
  const sizes = chosenSizes.length > 0 ? chosenSizes : QUICK ? [1_000, 2_000, 5_000, 10_000] : [1_000, 2_000, 5_000, 10_000, 100_000, 1_000_000];
  // Collections at 1M is 5,000 requests (minutes on the emulator): measured up to 100k, extrapolated above (calls are exact: 1 + ceil(n / 200)).
  const collectionsMax = QUICK ? 10_000 : 100_000;
  const client = join(BENCH_DIR, "salesforce-client.ts");
  const cases: Record<string, unknown>[] = [];
  const bulkPolls: number[] = [];
  for (const rows of sizes) {
    const reps = rows >= 1_000_000 ? 1 : rows >= 100_000 ? 3 : 5;
    const perPath: Record<string, Record<string, unknown>> = {};
    for (const path of chosenPaths.length > 0 ? chosenPaths : PATHS) {
      if (path === "collections" && rows > collectionsMax) continue;
      const trials: Trial[] = [];
      for (let rep = 0; rep < reps; rep += 1) {
        // A fresh org per trial: every row is a create, and the call log holds this trial only.
        const emulator = await startSalesforceEmulator({ limits: { dailyApiRequests: 10_000_000 } });
        try {
          const input: SalesforceInput = { url: emulator.url, token: emulator.accessToken, rows, path };
          const { result } = await runChild<SalesforceResult>(client, input, { timeoutMs: 20 * 60_000, nodeHeap: true, execArgv: ["--expose-gc"] });
          const calls = emulator.calls();
          if (path === "bulk") {
            const polls = calls.filter((c) => c.method === "GET" && /\/jobs\/ingest\/[^/]+$/.test(c.path)).length;
            bulkPolls.push(polls / Math.ceil(rows / SALESFORCE_BULK_MAX_RECORDS));
          }
          const maxRssMB = round(result.maxRssKB / 1024, 1);
          trials.push({ elapsedMs: round(result.elapsedMs, 1), apiCalls: calls.length, written: result.written, lost: result.lost, bulk: result.bulk, maxRssMB, liveMB: result.liveMB });
          log(`salesforce ${rows} ${path} rep ${rep + 1}: ${calls.length} calls, ${Math.round(result.elapsedMs)} ms, ${result.written} written, peak RSS ${maxRssMB} MB, live after GC ${result.liveMB} MB`);
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
        maxRssMB: median(trials.map((t) => t.maxRssMB)),
        liveMB: median(trials.map((t) => t.liveMB)),
        trials,
      };
    }
    if (!perPath.collections) {
      const calls = analyticCalls(rows, "collections", 0);
      perPath.collections = { extrapolated: true, apiCalls: calls, apiCallsPerRecord: round(calls / rows, 6), note: "not run at this size: calls computed as 1 describe + ceil(n / 200)" };
    }
    const c = perPath.collections as { apiCalls: number; elapsedMs?: number };
    if (!perPath.bulk) continue;
    const b = perPath.bulk as { apiCalls: number; elapsedMs: number };
    cases.push({
      rows,
      collections: perPath.collections,
      bulk: perPath.bulk,
      callsRatioBulkToCollections: round(b.apiCalls / c.apiCalls, 4),
      timeRatioBulkToCollections: c.elapsedMs === undefined ? null : round(b.elapsedMs / c.elapsedMs, 3),
    });
  }
  // Memory as the run grows: the Bulk path's peak RSS at 1M rows over its peak at 100k.
  const bulkOf = (rows: number) => cases.find((c) => c.rows === rows)?.bulk as { maxRssMB?: number; liveMB?: number } | undefined;
  const rss100k = bulkOf(100_000)?.maxRssMB;
  const rss1M = bulkOf(1_000_000)?.maxRssMB;
  const live100k = bulkOf(100_000)?.liveMB;
  const live1M = bulkOf(1_000_000)?.liveMB;
  const bulkMemory =
    rss100k === undefined || rss1M === undefined || live100k === undefined || live1M === undefined
      ? undefined
      : {
          maxRssMB100k: rss100k,
          maxRssMB1M: rss1M,
          ratio1MTo100k: round(rss1M / rss100k, 2),
          liveMB100k: live100k,
          liveMB1M: live1M,
          liveRatio1MTo100k: round(live1M / live100k, 2),
          goal: FLAT_RSS_RATIO,
          // Peak RSS, as the planner's goal is measured; the child collects garbage fully every 20,000 rows (to sample
          // what it holds), so its peak is what the run holds plus at most 20,000 rows' garbage.
          flat: rss1M / rss100k <= FLAT_RSS_RATIO,
        };
  if (bulkMemory) log(`salesforce bulk: live after GC ${live100k} MB at 100k rows, ${live1M} MB at 1M (x${bulkMemory.liveRatio1MTo100k}); peak RSS ${rss100k} / ${rss1M} MB (x${bulkMemory.ratio1MTo100k}); goal x${FLAT_RSS_RATIO}`);
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
    ...(bulkMemory ? { bulkMemory } : {}),
    cases,
  };
  if (!partial) writeResult("salesforce", result);
  return result;
}
