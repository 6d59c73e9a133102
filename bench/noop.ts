/**
 * 4. No-op rerun: the whole `sync` pipeline (gate, plan against the ledger, preflight, send, checkpoints, run log)
 * for N rows into the HubSpot emulator, then the same sync again with nothing changed: zero API calls (asserted and
 * recorded), and its time as a fraction of the full run. Each sync runs in a child process; the emulator runs here.
 */
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { DuckDBInstance } from "@duckdb/node-api";
import { startHubSpotEmulator } from "../emulators/hubspot/index.ts";
import { launchReadyContract, writeArtifacts } from "./artifacts.ts";
import type { NoopInput, NoopResult } from "./noop-child.ts";
import { BENCH_DIR, DATA_DIR, QUICK, log, median, round, runChild, writeResult } from "./lib.ts";

const TOKEN = "bench-noop-token";
const CONTRACT = "people_to_hubspot";

async function project(rows: number): Promise<{ dir: string; database: string }> {
  const dir = join(DATA_DIR, `noop-${rows}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const database = join(dir, "bench.duckdb");
  const instance = await DuckDBInstance.create(database);
  const connection = await instance.connect();
  await connection.run(
    `create table people as select 'p' || lpad(i::varchar, 9, '0') || '@example.com' as email, 'First' || i as first_name, 'Last' || (i % 997) as last_name,
       now() as scored_at from range(${rows}) t(i)`,
  );
  connection.closeSync();
  instance.closeSync();
  writeFileSync(join(dir, "dbt_project.yml"), "name: bench\nprofile: bench\nversion: '1.0'\n");
  writeFileSync(join(dir, "profiles.yml"), `bench:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: ${JSON.stringify(database)}\n      schema: main\n`);
  writeArtifacts(join(dir, "target"), {
    project: "bench",
    models: 1,
    testsPerModel: 2,
    modelName: () => "people",
    key: "email",
    columns: ["first_name", "last_name", "scored_at"],
    relation: () => '"bench"."main"."people"',
    contract: () => [launchReadyContract(CONTRACT, "email", { first_name: "firstname", last_name: "lastname" })],
  });
  return { dir, database };
}

async function dropLedger(database: string): Promise<void> {
  const instance = await DuckDBInstance.create(database);
  const connection = await instance.connect();
  for (const table of ["ledger", "run_log", "dead_letters", "migrations", "controls", "leases", "destination_snapshot"]) {
    await connection.run(`drop table if exists main.activation_${table}`);
  }
  connection.closeSync();
  instance.closeSync();
}

type Trial = { fullMs: number; noopMs: number; fullCalls: number; noopCalls: number; fraction: number; checkpointMs: number; fullFractionOfIdeal: number; phases?: NoopResult["phases"] };

/** Full runs then no-op reruns at one limit, each full run on an empty ledger and a fresh destination. */
async function trialsAt(limit: { perWindow: number; windowMs: number }, rows: number, reps: number, dir: string, database: string): Promise<{ trials: Trial[]; probe: Record<string, unknown> }> {
  const child = join(BENCH_DIR, "noop-child.ts");
  const emulator = await startHubSpotEmulator({ accessToken: TOKEN, limits: { perTenSeconds: limit.perWindow, windowMs: limit.windowMs, daily: 100_000_000 } });
  const env = { HUBSPOT_ACCESS_TOKEN: TOKEN, HUBSPOT_BASE_PATH: emulator.url };
  const input = (mode: NoopInput["mode"]): NoopInput => ({ mode, projectDir: dir, database, env });
  const trials: Trial[] = [];
  const idealRecordsPerSecond = (100 * limit.perWindow * 1000) / limit.windowMs;
  try {
    // Probe: the whole pipeline (runSync) on an empty ledger, once: does it send every row?
    emulator.reset();
    await dropLedger(database);
    await delay(limit.windowMs + 50);
    const first = await runChild<NoopResult>(child, input("sync"), { timeoutMs: 15 * 60_000 });
    const probe = { rows, created: first.result.created, eligible: first.result.eligible, status: first.result.status, apiCalls: emulator.calls().length, elapsedMs: round(first.result.elapsedMs, 1) };
    log(`noop probe: runSync on an empty ledger created ${first.result.created} of ${rows} rows`);

    for (let rep = 0; rep < reps; rep += 1) {
      // A fresh destination and an empty ledger: the full run sends every row.
      emulator.reset();
      await dropLedger(database);
      await delay(limit.windowMs + 50);
      const full = await runChild<NoopResult>(child, input("engine"), { timeoutMs: 15 * 60_000 });
      const fullCalls = emulator.calls().length;
      if (full.result.created !== rows) throw new Error(`the full run created ${full.result.created} of ${rows} rows`);
      // The rerun with nothing changed goes through the whole pipeline.
      const noop = await runChild<NoopResult>(child, input("sync"), { timeoutMs: 15 * 60_000 });
      const noopCalls = emulator.calls().length - fullCalls;
      if (noopCalls !== 0) throw new Error(`the no-op rerun made ${noopCalls} API calls (expected 0)`);
      if (noop.result.status !== "synced" || noop.result.unchanged !== rows || noop.result.requests !== 0) {
        throw new Error(`the no-op rerun did not plan every row unchanged: ${JSON.stringify(noop.result).slice(0, 500)}`);
      }
      const trial: Trial = { fullMs: round(full.result.elapsedMs, 1), noopMs: round(noop.result.elapsedMs, 1), fullCalls, noopCalls, fraction: round(noop.result.elapsedMs / full.result.elapsedMs, 4),
        checkpointMs: round(full.result.checkpointMs ?? 0, 1),
        fullFractionOfIdeal: round(rows / (full.result.elapsedMs / 1000) / idealRecordsPerSecond),
        ...(full.result.phases ? { phases: { planMs: round(full.result.phases.planMs, 1), preflightMs: round(full.result.phases.preflightMs, 1), sendMs: round(full.result.phases.sendMs, 1) } } : {}),
      };
      trials.push(trial);
      log(`noop ${rows} at ${limit.perWindow}/${limit.windowMs}ms rep ${rep + 1}: full ${Math.round(trial.fullMs)} ms (${fullCalls} calls, ${trial.fullFractionOfIdeal} of ideal), rerun ${Math.round(trial.noopMs)} ms (${noopCalls} calls): ${trial.fraction}`);
    }
    return { trials, probe };
  } finally {
    await emulator.close();
  }
}

/** Medians of a limit's trials: the full run against the ideal, its phases, the no-op rerun against the full run. */
function medians(trials: Trial[], rows: number, limit: { perWindow: number; windowMs: number }): Record<string, number> {
  const idealRecordsPerSecond = (100 * limit.perWindow * 1000) / limit.windowMs;
  return {
    fullMs: median(trials.map((t) => t.fullMs)),
    noopMs: median(trials.map((t) => t.noopMs)),
    noopFractionOfFull: median(trials.map((t) => t.fraction)),
    fullCalls: median(trials.map((t) => t.fullCalls)),
    fullFractionOfIdeal: median(trials.map((t) => t.fullFractionOfIdeal)),
    checkpointShareOfFull: median(trials.map((t) => round(t.checkpointMs / t.fullMs))),
    // The full run's phases: start-up and plan, preflight, and the send until its last checkpoint returned.
    planMs: median(trials.map((t) => t.phases?.planMs ?? 0)),
    preflightMs: median(trials.map((t) => t.phases?.preflightMs ?? 0)),
    sendMs: median(trials.map((t) => t.phases?.sendMs ?? 0)),
    // The send alone against the ideal: what the engine and its checkpoints reach once the plan is made.
    sendFractionOfIdeal: median(trials.map((t) => (t.phases ? round(rows / (t.phases.sendMs / 1000) / idealRecordsPerSecond) : 0))),
  };
}

export async function run(): Promise<Record<string, unknown>> {
  const rows = QUICK ? 5_000 : 20_000;
  const reps = 3;
  // Time-scaled 5x, as the throughput bench: start-up and plan count five times their share of the ideal there.
  const limit = { perWindow: 190, windowMs: 2000 };
  // HubSpot's own limit, not scaled: what a 20,000-row run meets (issue 19, item 3).
  const realLimit = { perWindow: 190, windowMs: 10_000 };
  const { dir, database } = await project(rows);
  const scaled = await trialsAt(limit, rows, reps, dir, database);
  const real = await trialsAt(realLimit, rows, reps, dir, database);
  const result = {
    description:
      "Full run: plan → preflight → send → checkpoint per batch (the sync's stages, wired with the planner's stream and the ledger on two DuckDB connections) of N rows into the HubSpot " +
      "emulator at 190 requests per 2 s (190 / 10 s time-scaled 5x), then at HubSpot's own 190 per 10 s (realLimit). No-op rerun: runSync (the whole pipeline: artifacts, gate, lease, plan, run log) with nothing changed. " +
      "Times measured inside the child (process start-up excluded); API calls counted at the emulator. probe: one runSync on an empty ledger.",
    rows,
    repetitions: reps,
    limit,
    median: medians(scaled.trials, rows, limit),
    noopApiCalls: Math.max(...[...scaled.trials, ...real.trials].map((t) => t.noopCalls)),
    runSyncProbe: scaled.probe,
    trials: scaled.trials,
    realLimit: { limit: realLimit, repetitions: reps, median: medians(real.trials, rows, realLimit), trials: real.trials },
  };
  writeResult("noop", result);
  return result;
}
