/**
 * Concurrency: two syncers started on one sync of 5,000 rows, at the same instant and one while the other is
 * sending. Exactly one writes (every row sent once); the other exits cleanly: busy (exit 7) having made no call, or
 * a no-op (exit 0) finding nothing left to do. On DuckDB the database file's lock decides; on PostgreSQL the lease.
 */
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp } from "node:fs/promises";
import { join } from "node:path";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { dbt } from "../../scripts/dbt.ts";
import { startHubSpotEmulator, type HubSpotEmulator } from "../../emulators/hubspot/index.ts";
import { integrationPortalProperties } from "../../scripts/hubspot-portal.ts";
import { buildBulk, bulkCopy, bulkProject, bulkSyncArgs, checkState, some, startCli, UPSERT, waitFor, type BulkBuild } from "./support.ts";

const TOKEN = "concurrency-token";
const ROWS = 5_000;
let emulator: HubSpotEmulator;

beforeAll(async () => {
  emulator = await startHubSpotEmulator({ accessToken: TOKEN, properties: integrationPortalProperties, limits: { perTenSeconds: 100, windowMs: 1000 } });
});
afterAll(async () => {
  await emulator?.close();
});

interface Outcome {
  exitCode: number | undefined;
  stdout: string;
  stderr: string;
}

/** Exactly one run wrote, every row was sent once, and the other run is busy (no call) or a no-op. */
function expectOneWriter(runs: Outcome[], busyMessage: RegExp): void {
  const codes = runs.map((r) => r.exitCode).sort();
  expect([[0, 0], [0, 7]], runs.map((r) => r.stdout + r.stderr).join("\n---\n")).toContainEqual(codes);
  const busy = runs.find((r) => r.exitCode === 7);
  if (busy) expect(busy.stdout + busy.stderr).toMatch(busyMessage);
  const written = runs.map((r) => JSON.parse(r.stdout)).map((report) => report.contracts?.[0]?.counts?.created ?? 0);
  expect(written.sort((a: number, b: number) => a - b)).toEqual([0, ROWS]);
  const sent = emulator.calls().filter((c) => c.endpoint === UPSERT).reduce((n, c) => n + (c.inputs ?? 0), 0);
  expect(sent).toBe(ROWS);
}

async function run(args: string[], env: Record<string, string>): Promise<Outcome> {
  const result = await startCli(args, env);
  return { exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr) };
}

async function staggered(args: string[], env: Record<string, string>): Promise<Outcome[]> {
  const first = run(args, env);
  let exited = false;
  void first.then(() => (exited = true));
  await waitFor(() => emulator.calls().filter((c) => c.endpoint === UPSERT).length >= 5, () => exited, 120_000);
  const second = await run(args, env);
  return [await first, second];
}

describe("two syncers on one sync: DuckDB", () => {
  let build: BulkBuild;
  beforeAll(async () => {
    build = await buildBulk();
  });

  it.each(["at once", "one while the other sends"] as const)("%s", async (when) => {
    emulator.reset();
    const duckdbPath = await bulkCopy(build, ROWS);
    const env = { HUBSPOT_ACCESS_TOKEN: TOKEN, HUBSPOT_BASE_PATH: emulator.url, ACTIVATION_DUCKDB_PATH: duckdbPath };
    const args = bulkSyncArgs(build, "--json");
    const runs = when === "at once" ? await Promise.all([run(args, env), run(args, env)]) : await staggered(args, env);
    expectOneWriter(runs, /is open in another process \(another sync, or dbt, is running\); nothing was done/);
    const state = await checkState(duckdbPath, emulator);
    expect(state.duplicates).toEqual([]);
    expect(state.missingOrStale, some(state.missingOrStale)).toEqual([]);
    expect(state.ledgerMismatches).toEqual([]);
  });
});

describe("two syncers on one sync: PostgreSQL (the lease decides)", () => {
  const server = inject("postgres");
  let build: BulkBuild;
  let env: Record<string, string>;
  let schema: string;

  beforeAll(async () => {
    if (!server.ok) throw new Error(`PostgreSQL is not available: ${server.error}`);
    schema = `reliability_${randomUUID().slice(0, 8)}`;
    env = {
      ACTIVATION_PG_HOST: server.host,
      ACTIVATION_PG_PORT: String(server.port),
      ACTIVATION_PG_USER: server.user,
      ACTIVATION_PG_DATABASE: server.database,
      RELIABILITY_PG_SCHEMA: schema,
    };
    const dir = await mkdtemp(join(inject("scratchRoot"), "bulk-pg-"));
    build = { targetPath: join(dir, "target"), duckdbPath: join(dir, "unused.duckdb") };
    await mkdir(build.targetPath, { recursive: true });
    const run = await dbt(["build", "--target", "postgres", "--vars", JSON.stringify({ rows: ROWS })], { projectDir: bulkProject, ...build, env });
    if (run.exitCode !== 0) throw new Error(`dbt build --target postgres failed:\n${run.stdout}\n${run.stderr}`);
    // Create the ledger tables first, so each scenario below can start from an empty ledger by deleting its rows.
    const status = await startCli(["status", "--project-dir", bulkProject, "--profiles-dir", bulkProject, "--target", "postgres"], env);
    if (status.exitCode !== 0) throw new Error(`status (migrations) failed:\n${String(status.stdout)}\n${String(status.stderr)}`);
  });
  afterAll(async () => {
    if (!server.ok || !schema) return;
    const client = new pg.Client({ host: server.host, port: server.port, user: server.user, database: server.database });
    await client.connect();
    await client.query(`drop schema if exists "${schema}" cascade`);
    await client.query(`drop schema if exists "${schema}_fresh" cascade`);
    await client.end();
  });

  // Found by this suite: on a fresh ledger, two first runs at once raced in `create table if not exists` and the loser
  // exited 1 (duplicate key value violates unique constraint "pg_type_typname_nsp_index"). The migrations now run
  // under an advisory lock (src/ledger/migrations.ts).
  it("two first runs at once on a fresh ledger: both migrate, exactly one writes", async () => {
    emulator.reset();
    const runEnv = { ...env, HUBSPOT_ACCESS_TOKEN: TOKEN, HUBSPOT_BASE_PATH: emulator.url };
    const args = bulkSyncArgs(build, "--target", "postgres", "--ledger-schema", `${schema}_fresh`, "--json");
    const runs = await Promise.all([run(args, runEnv), run(args, runEnv)]);
    expectOneWriter(runs, /another runner .* has been syncing this contract since/);
    expect(emulator.records("contacts")).toHaveLength(ROWS);
  });

  it.each(["at once", "one while the other sends"] as const)("%s", async (when) => {
    emulator.reset();
    // Each scenario starts from an empty ledger (its tables exist: see beforeAll).
    const client = new pg.Client({ host: server.ok ? server.host : "", port: server.ok ? server.port : 0, user: server.ok ? server.user : "", database: server.ok ? server.database : "" });
    await client.connect();
    try {
      for (const table of ["activation_ledger", "activation_leases", "activation_run_log", "activation_dead_letters"]) {
        await client.query(`delete from "${schema}"."${table}"`);
      }
    } finally {
      await client.end();
    }
    const runEnv = { ...env, HUBSPOT_ACCESS_TOKEN: TOKEN, HUBSPOT_BASE_PATH: emulator.url };
    const args = bulkSyncArgs(build, "--target", "postgres", "--json");
    const runs = when === "at once" ? await Promise.all([run(args, runEnv), run(args, runEnv)]) : await staggered(args, runEnv);
    expectOneWriter(runs, /another runner .* has been syncing this contract since/);
    const records = emulator.records("contacts");
    expect(new Set(records.map((r) => r.properties.email)).size).toBe(ROWS);
    expect(records).toHaveLength(ROWS);
  });
});
