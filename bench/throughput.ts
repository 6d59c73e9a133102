/**
 * 1. Throughput at the limit: N changed rows into the HubSpot emulator (in this process) from a client in a child
 * process, at a time-scaled rate limit, for our engine and for hand-written SDK loops. Records/s as a fraction of the
 * ideal (100 rows × allowed requests/s), 429s received, API calls per record, busiest window seen by the emulator.
 */
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { startHubSpotEmulator } from "../emulators/hubspot/index.ts";
import type { ClientInput, ClientResult, Variant } from "./throughput-client.ts";
import { busiestWindow } from "../test/support/windows.ts";
import { BENCH_DIR, QUICK, log, median, round, runChild, writeResult } from "./lib.ts";

const TOKEN = "bench-token";
const BATCH = 100;

export interface Limit {
  name: string;
  perWindow: number;
  windowMs: number;
  /** What it stands for in real time. */
  stands: string;
  /** The emulator holds each answer this long (a real API's round trip, time-scaled like the window). */
  latencyMs?: number;
  /** Rows per trial when not the run's default (a sequential loop at 60 ms per call takes 75 s for 100,000). */
  rows?: number;
}

interface Trial {
  elapsedMs: number;
  fractionOfIdeal: number;
  written: number;
  lost: number;
  status429: number;
  apiCalls: number;
  apiCallsPerRecord: number;
  busiestWindow: number;
  sdkRetries?: number | undefined;
  clientCpuMsPerRequest: number;
  /** The client process's CPU time per record (µs). */
  clientCpuUsPerRecord: number;
  /** Of which the kernel's (system time). */
  clientSystemCpuUsPerRecord: number;
}

export async function run(): Promise<Record<string, unknown>> {
  const rows = QUICK ? 10_000 : 100_000;
  // Three trials: a case's trials agree within about 1 % (the limit bounds them), and the whole bench must fit in 20 minutes.
  const reps = QUICK ? 2 : 3;
  // The real limit (190 / 10 s) time-scaled 5x is within what this machine's client + emulator can carry; 10x
  // (the brief's example) is near the client's CPU capacity, which the unlimited case measures in the same run.
  const limits: (Limit & { variants: Variant[] })[] = [
    {
      name: "190 per 2 s (HubSpot's 190 / 10 s, time-scaled 5x)",
      perWindow: 190,
      windowMs: 2000,
      stands: "190 requests / 10 s",
      variants: ["ours", "sdk-default-limiter", "sdk-mintime-limiter", "sdk-reservoir-limiter"],
    },
    {
      // Loopback answers in a few ms, which flatters a sequential loop; HubSpot's batch upserts take about 300 ms.
      name: `190 per 2 s, 60 ms per answer (HubSpot's limit and ~300 ms round trip, time-scaled 5x; ${QUICK ? "5,000" : "20,000"} rows)`,
      perWindow: 190,
      windowMs: 2000,
      latencyMs: 60,
      rows: QUICK ? 5_000 : 20_000,
      stands: "190 requests / 10 s, 300 ms per call",
      variants: ["ours", "sdk-mintime-limiter"],
    },
    { name: "190 per 1 s (time-scaled 10x: a higher limit)", perWindow: 190, windowMs: 1000, stands: "190 requests / 10 s at 10x", variants: ["ours", "sdk-mintime-limiter"] },
    { name: "no limit (this machine's capacity)", perWindow: 100_000, windowMs: 1000, stands: "none", variants: ["ours"] },
  ];
  const cases: Record<string, unknown>[] = [];
  for (const limit of limits) cases.push(...(await measureLimit(limit, limit.rows ?? rows, reps)));
  const result = {
    description:
      "N rows to the HubSpot emulator at a time-scaled rolling-window limit. fractionOfIdeal = records/s ÷ (100 × allowed requests/s). " +
      "Baselines: the official SDK with numberOfApiCallRetries 3 and its Bottleneck limiter, a sequential loop of batchApi.upsert of 100; " +
      "the SDK's fixed 10 s × attempt sleep after a 429 is time-scaled like the window. Emulator in the bench process, client in a child process.",
    rows,
    cases,
  };
  writeResult("throughput", result);
  return result;
}

/** One limit's trials, every variant in turn against one emulator: a case per variant, with medians (bench/engine.ts too). */
export async function measureLimit(limit: Limit & { variants: Variant[] }, n: number, reps: number): Promise<Record<string, unknown>[]> {
  const client = join(BENCH_DIR, "throughput-client.ts");
  const cases: Record<string, unknown>[] = [];
  const emulator = await startHubSpotEmulator({
    accessToken: TOKEN,
    limits: { perTenSeconds: limit.perWindow, windowMs: limit.windowMs, daily: 100_000_000 },
    ...(limit.latencyMs ? { latencyMs: limit.latencyMs } : {}),
  });
  const idealRecordsPerSecond = (BATCH * limit.perWindow * 1000) / limit.windowMs;
  try {
    for (const variant of limit.variants) {
      const trials: Trial[] = [];
      for (let rep = 0; rep < reps; rep += 1) {
        emulator.reset();
        await delay(limit.windowMs + 50); // a clean rolling window for every trial
        const input: ClientInput = { variant, url: emulator.url, token: TOKEN, rows: n, perWindow: limit.perWindow, windowMs: limit.windowMs };
        const { result } = await runChild<ClientResult>(client, input, { timeoutMs: 15 * 60_000 });
        const writes = emulator.calls().filter((c) => c.endpoint.endsWith("batch/upsert"));
        const accepted = writes.filter((c) => c.status !== 429).map((c) => c.at).sort((a, b) => a - b);
        const trial: Trial = {
          elapsedMs: round(result.elapsedMs, 1),
          fractionOfIdeal: round(n / (result.elapsedMs / 1000) / idealRecordsPerSecond),
          written: result.written,
          lost: result.lost,
          status429: emulator.calls().filter((c) => c.status === 429).length,
          apiCalls: emulator.calls().length,
          apiCallsPerRecord: round(emulator.calls().length / n, 5),
          busiestWindow: busiestWindow(accepted, limit.windowMs),
          sdkRetries: result.sdkRetries,
          clientCpuMsPerRequest: round((result.cpuMs ?? 0) / Math.max(1, writes.length), 2),
          clientCpuUsPerRecord: round(((result.cpuMs ?? 0) * 1000) / n, 2),
          clientSystemCpuUsPerRecord: round(((result.systemCpuMs ?? 0) * 1000) / n, 2),
        };
        trials.push(trial);
        log(`throughput ${limit.perWindow}/${limit.windowMs}ms ${variant} rep ${rep + 1}: ${trial.fractionOfIdeal} of ideal, ${trial.status429} 429s, ${trial.lost} lost`);
      }
      cases.push({
        limit: limit.name,
        stands: limit.stands,
        perWindow: limit.perWindow,
        windowMs: limit.windowMs,
        latencyMs: limit.latencyMs ?? 0,
        variant,
        rows: n,
        repetitions: reps,
        idealRecordsPerSecond,
        median: {
          fractionOfIdeal: median(trials.map((t) => t.fractionOfIdeal)),
          recordsPerSecond: round(median(trials.map((t) => n / (t.elapsedMs / 1000))), 0),
          status429: median(trials.map((t) => t.status429)),
          apiCallsPerRecord: median(trials.map((t) => t.apiCallsPerRecord)),
          lost: median(trials.map((t) => t.lost)),
          busiestWindow: median(trials.map((t) => t.busiestWindow)),
          clientCpuMsPerRequest: median(trials.map((t) => t.clientCpuMsPerRequest)),
          clientCpuUsPerRecord: median(trials.map((t) => t.clientCpuUsPerRecord)),
          clientSystemCpuUsPerRecord: median(trials.map((t) => t.clientSystemCpuUsPerRecord)),
        },
        max429: Math.max(...trials.map((t) => t.status429)),
        trials,
      });
    }
  } finally {
    await emulator.close();
  }
  return cases;
}
