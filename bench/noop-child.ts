/**
 * One sync in its own process, against the HubSpot emulator the parent runs:
 * - `sync`: the whole pipeline (`runSync`: gate, plan, preflight, send, checkpoints, run log);
 * - `engine`: the same stages wired by hand (plan → preflight → send with a checkpoint per batch → run log), with
 *   the plan (materialized once, as sync does) and the ledger's writes on two connections of one DuckDB instance;
 *   its phases timed (start-up and plan, preflight, send until the last checkpoint returned).
 */
import { randomUUID } from "node:crypto";
import { DuckDBInstance } from "@duckdb/node-api";
import { loadContracts, type Contract } from "../src/contract/load.ts";
import { readManifest } from "../src/dbt/artifacts.ts";
import { openDestination } from "../src/pipeline/destination.ts";
import { retrying } from "../src/engine/retry.ts";
import { sendRecords } from "../src/engine/send.ts";
import { Ledger } from "../src/ledger/ledger.ts";
import { ledgerTables, migrate } from "../src/ledger/migrations.ts";
import { MaterializedPlan, type PlannedRecord } from "../src/plan/diff.ts";
import { runSync } from "../src/pipeline/sync.ts";
import type { SyncReport } from "../src/report/types.ts";
import { DuckDBWarehouse } from "../src/warehouse/duckdb/adapter.ts";
import { attachPlanScratch } from "../src/warehouse/duckdb/driver.ts";
import { runAsChild } from "./lib.ts";

export interface NoopInput {
  mode: "sync" | "engine";
  projectDir: string;
  database: string;
  env: Record<string, string>;
}

export interface NoopResult {
  elapsedMs: number;
  created: number;
  unchanged: number;
  eligible: number;
  requests: number;
  status: string;
  /** Time spent in the ledger checkpoints (they run one at a time), ms. */
  checkpointMs?: number;
  /** engine: ms from the start to the plan's counts (manifest, DuckDB, migrations, plan), the preflight, the send. */
  phases?: { planMs: number; preflightMs: number; sendMs: number };
  report?: SyncReport;
}

async function engine(input: NoopInput, started: number): Promise<Omit<NoopResult, "elapsedMs">> {
  const [contract] = loadContracts(await readManifest(`${input.projectDir}/target/manifest.json`));
  if (!contract) throw new Error("no contract in the bench manifest");
  const instance = await DuckDBInstance.create(input.database);
  // As the driver does: the plan's staging table lives in the in-memory database it attaches.
  const setup = await instance.connect();
  await attachPlanScratch(setup);
  setup.closeSync();
  const reader = new DuckDBWarehouse(instance, await instance.connect(), "main");
  const writer = new DuckDBWarehouse(instance, await instance.connect(), "main");
  try {
    const tables = ledgerTables(writer.dialect, "main");
    await migrate(writer, tables);
    const ledger = new Ledger(writer, tables);
    // As sync does: the plan materialized once, its counts and rows to send read from it, dropped at the end.
    const materialized = await MaterializedPlan.materialize(reader, contract, tables);
    try {
      return await send(input, contract, materialized, ledger, started);
    } finally {
      await materialized.drop();
    }
  } finally {
    reader.close().catch(() => undefined);
    writer.close().catch(() => undefined);
  }
}

async function send(input: NoopInput, contract: Contract, materialized: MaterializedPlan, ledger: Ledger, started: number): Promise<Omit<NoopResult, "elapsedMs">> {
  const plan = await materialized.counts();
  const planned = performance.now();
  let created = 0;
  let requests = 0;
  let checkpointMs = 0;
  let phases: NoopResult["phases"];
  if (plan.create + plan.update > 0) {
    const destination = openDestination(contract, input.env);
    const counters = { requests: 0, retries: 0 };
    const problems = await retrying(() => destination.checkMapping(), {}, counters);
    if (problems.length > 0) throw new Error(problems.join("; "));
    const checked = performance.now();
    const runId = randomUUID();
    const summary = await sendRecords(destination, materialized.records(), {
      onAcknowledged: async (sent, outcomes) => {
        const at = performance.now();
        await ledger.checkpoint(contract.spec.name, runId, sent as PlannedRecord[], outcomes);
        checkpointMs += performance.now() - at;
      },
    });
    created = summary.created;
    requests = counters.requests + summary.requests;
    phases = { planMs: planned - started, preflightMs: checked - planned, sendMs: performance.now() - checked };
  }
  return { created, unchanged: plan.unchanged, eligible: plan.eligible, requests, status: "synced", checkpointMs, ...(phases ? { phases } : {}) };
}

async function sync(input: NoopInput): Promise<Omit<NoopResult, "elapsedMs">> {
  const report = await runSync({ projectDir: input.projectDir, profilesDir: input.projectDir, env: { ...process.env, ...input.env }, cwd: input.projectDir });
  const outcome = report.contracts[0];
  if (outcome?.status !== "synced") return { created: 0, unchanged: 0, eligible: 0, requests: 0, status: outcome?.status ?? "none", report };
  return { created: outcome.counts.created, unchanged: outcome.counts.unchanged, eligible: outcome.counts.eligible, requests: outcome.requests, status: outcome.status };
}

runAsChild<NoopInput, NoopResult>(async (input) => {
  const started = performance.now();
  const result = await (input.mode === "sync" ? sync(input) : engine(input, started));
  return { elapsedMs: performance.now() - started, ...result };
});
