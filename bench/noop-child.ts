/**
 * One sync in its own process, against the HubSpot emulator the parent runs:
 * - `sync`: the whole pipeline (`runSync`: gate, plan, preflight, send, checkpoints, run log);
 * - `engine`: the same stages wired by hand (plan → preflight → send with a checkpoint per batch → run log), with
 *   the planner's stream and the ledger's writes on two connections of one DuckDB instance. `runSync` streams and
 *   checkpoints on one connection, and DuckDB ends a streamed result when another statement runs on its connection,
 *   so a `runSync` of more than one chunk (2,048 rows) sends only the first chunk (see the benchmark's finding).
 */
import { randomUUID } from "node:crypto";
import { DuckDBInstance } from "@duckdb/node-api";
import { loadContracts } from "../src/contract/load.ts";
import { readManifest } from "../src/dbt/artifacts.ts";
import { openDestination } from "../src/pipeline/destination.ts";
import { retrying } from "../src/engine/retry.ts";
import { sendRecords } from "../src/engine/send.ts";
import { Ledger } from "../src/ledger/ledger.ts";
import { ledgerTables, migrate } from "../src/ledger/migrations.ts";
import { planCounts, plannedRecords, type PlannedRecord } from "../src/plan/diff.ts";
import { runSync } from "../src/pipeline/sync.ts";
import type { SyncReport } from "../src/report/types.ts";
import { DuckDBWarehouse } from "../src/warehouse/duckdb/adapter.ts";
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
  report?: SyncReport;
}

async function engine(input: NoopInput): Promise<Omit<NoopResult, "elapsedMs">> {
  const [contract] = loadContracts(await readManifest(`${input.projectDir}/target/manifest.json`));
  if (!contract) throw new Error("no contract in the bench manifest");
  const instance = await DuckDBInstance.create(input.database);
  const reader = new DuckDBWarehouse(instance, await instance.connect(), "main");
  const writer = new DuckDBWarehouse(instance, await instance.connect(), "main");
  try {
    const tables = ledgerTables(writer.dialect, "main");
    await migrate(writer, tables);
    const ledger = new Ledger(writer, tables);
    const plan = await planCounts(reader, contract, tables);
    let created = 0;
    let requests = 0;
    let checkpointMs = 0;
    if (plan.create + plan.update > 0) {
      const destination = openDestination(contract, input.env);
      const counters = { requests: 0, retries: 0 };
      const problems = await retrying(() => destination.checkMapping(), {}, counters);
      if (problems.length > 0) throw new Error(problems.join("; "));
      const runId = randomUUID();
      const summary = await sendRecords(destination, plannedRecords(reader, contract, tables), {
        onAcknowledged: async (sent, outcomes) => {
          const at = performance.now();
          await ledger.checkpoint(contract.spec.name, runId, sent as PlannedRecord[], outcomes);
          checkpointMs += performance.now() - at;
        },
      });
      created = summary.created;
      requests = counters.requests + summary.requests;
    }
    return { created, unchanged: plan.unchanged, eligible: plan.eligible, requests, status: "synced", checkpointMs };
  } finally {
    reader.close().catch(() => undefined);
    writer.close().catch(() => undefined);
  }
}

async function sync(input: NoopInput): Promise<Omit<NoopResult, "elapsedMs">> {
  const report = await runSync({ projectDir: input.projectDir, profilesDir: input.projectDir, env: { ...process.env, ...input.env }, cwd: input.projectDir });
  const outcome = report.contracts[0];
  if (outcome?.status !== "synced") return { created: 0, unchanged: 0, eligible: 0, requests: 0, status: outcome?.status ?? "none", report };
  return { created: outcome.counts.created, unchanged: outcome.counts.unchanged, eligible: outcome.counts.eligible, requests: outcome.requests, status: outcome.status };
}

runAsChild<NoopInput, NoopResult>(async (input) => {
  const started = performance.now();
  const result = await (input.mode === "sync" ? sync(input) : engine(input));
  return { elapsedMs: performance.now() - started, ...result };
});
