/**
 * 8-9. Braze and Zendesk at the limit: N new users into the destination's emulator (in this process) from a client in
 * a child process, our engine against a hand-written fetch loop (bench/destinations-client.ts). Records/s as a
 * fraction of the ideal (objects per write request × allowed requests/s), API calls per record (every call the
 * emulator saw: mapping checks, writes, job polls, 429s), 429s, rows lost.
 * - Braze /users/track: 75 objects a request, its documented 3 s window with the allowance scaled down (the limit
 *   the pacer learns from X-RateLimit-Limit) so a run spans many windows.
 * - Zendesk create_or_update_many: 100 users a request, then its job polled; the per-minute window is Zendesk's
 *   own (60 s: the destination knows no other), so a trial spans a minute or more at full size.
 */
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { startBrazeEmulator } from "../emulators/braze/index.ts";
import { startZendeskEmulator } from "../emulators/zendesk/index.ts";
import type { DestinationClientInput, DestinationClientResult, DestinationName } from "./destinations-client.ts";
import { BENCH_DIR, QUICK, log, median, round, runChild, writeResult } from "./lib.ts";

interface Emulated {
  url: string;
  apiKey: string;
  email?: string;
  calls(): { status: number }[];
  reset(): void;
  close(): Promise<void>;
}

export interface Setup {
  rows: number;
  reps: number;
  perRequest: number;
  perWindow: number;
  windowMs: number;
  stands: string;
  start(): Promise<Emulated>;
}

/** Braze's /users/track, 75 objects a request, at `perWindow` requests per 3 s (its documented window). */
export function brazeSetup(perWindow: number, rows: number, reps: number, stands: string): Setup {
  const windowMs = 3000;
  return {
    rows,
    reps,
    perRequest: 75,
    perWindow,
    windowMs,
    stands,
    start: async () => {
      const e = await startBrazeEmulator({ apiKey: "bench-braze-key", attributes: [{ name: "plan_tier", type: "String" }], limits: { "users/track": { max: perWindow, windowMs } } });
      return { url: e.url, apiKey: e.apiKey, calls: () => e.calls(), reset: () => e.reset(), close: () => e.close() };
    },
  };
}

const SETUPS: Record<DestinationName, () => Setup> = {
  // 400 requests: about 7 windows, enough for the loop's 429s to show; three trials (they agree within about 1 %).
  braze: () => brazeSetup(60, QUICK ? 9_000 : 30_000, QUICK ? 2 : 3, "/users/track at 60 requests per 3 s (Braze's documented 3,000 per 3 s scaled down 50x)"),
  zendesk: () => {
    const perWindow = 300;
    const windowMs = 60_000;
    return {
      // A 60 s window cannot be time-scaled (the pacer reads it from X-Rate-Limit per minute): one trial each, as the
      // minute bounds it (two trials agreed within 0.1 % when we ran them).
      rows: QUICK ? 6_000 : 30_000,
      reps: 1,
      perRequest: 100,
      perWindow,
      windowMs,
      stands: "create_or_update_many at 300 requests per minute (Zendesk Professional's limit, 60 s window)",
      start: async () => {
        const e = await startZendeskEmulator({ requestsPerMinute: perWindow });
        return { url: e.url, apiKey: e.credentials.apiToken, email: e.credentials.email, calls: () => e.calls(), reset: () => e.reset(), close: () => e.close() };
      },
    };
  },
};

/** Trials of each variant against a fresh emulator: a case per variant, with medians (bench/engine.ts too). */
export async function measureDestination(name: DestinationName, setup: Setup, variants: readonly ("ours" | "loop")[]): Promise<Record<string, unknown>[]> {
  const ideal = (setup.perRequest * setup.perWindow * 1000) / setup.windowMs;
  const client = join(BENCH_DIR, "destinations-client.ts");
  const cases: Record<string, unknown>[] = [];
  for (const variant of variants) {
    const trials: { fractionOfIdeal: number; elapsedMs: number; written: number; lost: number; status429: number; apiCallsPerRecord: number; clientCpuUsPerRecord: number }[] = [];
    for (let rep = 0; rep < setup.reps; rep += 1) {
      // A fresh emulator per trial: a clean window and no users, so every row is a create.
      const emulator = await setup.start();
      try {
        const input: DestinationClientInput = { destination: name, variant, url: emulator.url, apiKey: emulator.apiKey, ...(emulator.email ? { email: emulator.email } : {}), rows: setup.rows };
        const { result } = await runChild<DestinationClientResult>(client, input, { timeoutMs: 20 * 60_000 });
        const calls = emulator.calls();
        const trial = {
          fractionOfIdeal: round(setup.rows / (result.elapsedMs / 1000) / ideal),
          elapsedMs: round(result.elapsedMs, 0),
          written: result.written,
          lost: result.lost,
          status429: calls.filter((c) => c.status === 429).length,
          apiCallsPerRecord: round(calls.length / setup.rows, 5),
          clientCpuUsPerRecord: round(((result.cpuMs ?? 0) * 1000) / setup.rows, 2),
        };
        trials.push(trial);
        log(`${name} ${variant} ${setup.perWindow}/${setup.windowMs}ms rep ${rep + 1}: ${trial.fractionOfIdeal} of ideal, ${trial.status429} 429s, ${trial.apiCallsPerRecord} calls/record, ${trial.lost} lost`);
      } finally {
        await emulator.close();
      }
      await delay(50);
    }
    cases.push({
      variant,
      repetitions: setup.reps,
      idealRecordsPerSecond: ideal,
      median: {
        fractionOfIdeal: median(trials.map((t) => t.fractionOfIdeal)),
        recordsPerSecond: round(median(trials.map((t) => setup.rows / (t.elapsedMs / 1000))), 0),
        status429: median(trials.map((t) => t.status429)),
        apiCallsPerRecord: median(trials.map((t) => t.apiCallsPerRecord)),
        lost: median(trials.map((t) => t.lost)),
        clientCpuUsPerRecord: median(trials.map((t) => t.clientCpuUsPerRecord)),
      },
      max429: Math.max(...trials.map((t) => t.status429)),
      trials,
    });
  }
  return cases;
}

async function bench(name: DestinationName): Promise<Record<string, unknown>> {
  const setup = SETUPS[name]();
  const ideal = (setup.perRequest * setup.perWindow * 1000) / setup.windowMs;
  const cases = await measureDestination(name, setup, ["ours", "loop"]);
  const result = {
    description:
      `N new users to the ${name} emulator, ${setup.stands}. fractionOfIdeal = records/s ÷ (${setup.perRequest} × allowed requests/s). ours: our engine (destination, pacer, send); ` +
      "loop: a hand-written sequential fetch loop over the documented API (waits as each 429 says, three attempts, then counts the batch lost). API calls per record: every call the emulator saw.",
    rows: setup.rows,
    perRequest: setup.perRequest,
    limit: { perWindow: setup.perWindow, windowMs: setup.windowMs },
    idealRecordsPerSecond: ideal,
    cases,
  };
  writeResult(name, result);
  return result;
}

export const braze = (): Promise<Record<string, unknown>> => bench("braze");
export const zendesk = (): Promise<Record<string, unknown>> => bench("zendesk");
