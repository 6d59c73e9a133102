/**
 * Syncs in one process, one after another, on one DuckDB file (as `serve` runs them, and the model-based suite): runs
 * that destination faults stop early (a write or a removal fails for good mid-stream, the retry budget is spent) leave
 * nothing of their DuckDB session behind. Before the fix, a stream such a run stopped reading kept the database
 * instance alive after the session closed: the file stayed locked for other processes, and when the garbage collector
 * freed it, the old instance wrote its state over the file the next run had open (lost ledger rows, "Could not read
 * enough bytes", or a native crash of the process: "Worker exited unexpectedly"). The garbage collector runs four
 * times a second here, so a stale instance is soon noticed.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { integrationProject, repoRoot } from "../../scripts/dbt.ts";
import { integrationPortalProperties } from "../../scripts/hubspot-portal.ts";
import { startHubSpotEmulator, type HubSpotEmulator } from "../../emulators/hubspot/index.ts";
import { CloudRuns } from "../../src/ledger/cloud-runs.ts";
import { runReconcile } from "../../src/pipeline/reconcile.ts";
import { openLedgerSession } from "../../src/pipeline/session.ts";
import { runSync } from "../../src/pipeline/sync.ts";
import { copyArtifacts, freshDuckdb } from "../support/cli.ts";
import { execDuckDB, queryDuckDB } from "./support.ts";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

const TOKEN = "inprocess-token";
const CONTRACT = "contact_engagement_to_hubspot";
const TABLE = `"integration_tests"."main"."${CONTRACT}"`;
const ROUNDS = 12;

let hubspot: HubSpotEmulator;
let collector: NodeJS.Timeout;
beforeAll(async () => {
  hubspot = await startHubSpotEmulator({ accessToken: TOKEN, properties: integrationPortalProperties });
  collector = setInterval(gc, 250);
});
afterAll(async () => {
  clearInterval(collector);
  await hubspot.close();
});

/** Whether another process can open the file for writing now (DuckDB locks it while an instance of it lives). */
function freeForOtherProcesses(path: string): string {
  const script = `require(${JSON.stringify(join(repoRoot, "node_modules", "@duckdb", "node-api"))}).DuckDBInstance.create(${JSON.stringify(path)}).then((i) => { i.closeSync(); console.log("free"); }, (e) => console.log(e.message))`;
  return execFileSync(process.execPath, ["-e", script], { encoding: "utf8" }).trim();
}

async function setup() {
  hubspot.reset();
  const path = await freshDuckdb();
  const targetPath = await copyArtifacts({
    manifest: (m) => {
      const contract = m.nodes["model.activation_integration_tests.contact_engagement"].config.meta.activation[0];
      // A fault ends the run at once: no retry, and removals clear the record's fields.
      contract.monitoring = { ...contract.monitoring, retry_budget: { max_retries: 0 } };
      contract.destination = { type: "hubspot", object: "contacts", match: { field: "email" }, mode: "upsert", on_removed: "clear" };
      // Rows come and go every round: the change gate is not what is tested here.
      contract.gates = { ...contract.gates, max_change: { percent: 100 } };
    },
  });
  const env = { HUBSPOT_ACCESS_TOKEN: TOKEN, HUBSPOT_BASE_PATH: hubspot.url, ACTIVATION_DUCKDB_PATH: path, DBT_ACTIVATION_DEAD_LETTER_BACKOFF_MS: "0" };
  const options = { projectDir: integrationProject, profilesDir: integrationProject, targetPath, env, select: [CONTRACT], log: (): void => undefined };
  const rows = await queryDuckDB(path, `select * from ${TABLE} where email is not null order by email`);
  return { path, options, rows };
}

/** Round `n`'s data change: a row edited, one removed (and put back the round after), so each run writes and removes. */
async function change(path: string, rows: Record<string, unknown>[], n: number): Promise<void> {
  const edited = rows[n % rows.length]!;
  await execDuckDB(path, `update ${TABLE} set first_name = 'Round ${n}', _activation_row_hash = md5(_activation_row_hash || '${n}') where email = '${String(edited.email)}'`);
  const removed = rows[(n + 3) % rows.length]!;
  if (n % 2 === 0) await execDuckDB(path, `delete from ${TABLE} where email = '${String(removed.email)}'`);
  else {
    const back = rows[(n + 2) % rows.length]!;
    const columns = Object.keys(back);
    const values = columns.map((c) => (back[c] === null ? "null" : `'${String(back[c] instanceof Date ? (back[c] as Date).toISOString() : back[c]).replaceAll("'", "''")}'`));
    await execDuckDB(path, `insert into ${TABLE} (${columns.join(", ")}) select ${values.join(", ")} where not exists (select 1 from ${TABLE} where email = '${String(back.email)}')`);
  }
}

describe("in-process syncs on one DuckDB file, runs stopped early by destination faults", () => {
  it(`${ROUNDS} rounds of a faulted run then a clean one: the file is free after each, and the ledger agrees with the destination at the end`, async () => {
    const { path, options, rows } = await setup();
    expect((await runSync(options)).exitCode).toBe(0);
    for (let n = 0; n < ROUNDS; n += 1) {
      await change(path, rows, n);
      // Writes fail (5xx, no retry), or removals do: the run stops mid-stream.
      hubspot.setFaults({ serverErrorRate: 1, seed: n, pathPattern: n % 3 === 0 ? "/batch/(update|archive)$" : "/batch/(upsert|update|archive)$" });
      try {
        const faulted = await runSync(options);
        expect(faulted.contracts[0]?.status, JSON.stringify(faulted.contracts[0])).toMatch(/^(synced|failed)$/);
      } finally {
        hubspot.setFaults({});
      }
      expect(freeForOtherProcesses(path), `round ${n}, after the faulted run`).toBe("free");
      const clean = await runSync(options);
      expect(clean.contracts[0]?.status, JSON.stringify(clean.contracts[0])).toBe("synced");
    }
    // Settled: what the ledger says was sent is what HubSpot holds.
    await runSync(options);
    const reconcile = await runReconcile({ ...options, contract: CONTRACT });
    expect(reconcile.counts).toMatchObject({ missing_in_destination: 0, value_mismatch: 0, suppressed_but_present: 0, consent_revoked_but_present: 0, stale: 0 });
    expect(freeForOtherProcesses(path)).toBe("free");
  });

  it("a serve-like sequence: ledger sessions opened and closed around each faulted sync, over and over", async () => {
    const { path, options, rows } = await setup();
    const withRuns = async <T>(work: (runs: CloudRuns) => Promise<T>): Promise<T> => {
      const session = await openLedgerSession(options);
      try {
        return await work(new CloudRuns(session.warehouse, session.tables));
      } finally {
        await session.close();
      }
    };
    for (let n = 0; n < 6; n += 1) {
      const runId = String(1000 + n);
      expect(await withRuns((runs) => runs.claim("1", runId, "7", `event-${n}`))).toBe(true);
      await withRuns((runs) => runs.setStatus("1", runId, "syncing"));
      await change(path, rows, n);
      hubspot.setFaults({ serverErrorRate: 1, seed: n, pathPattern: "/batch/(upsert|update|archive)$" });
      const report = await runSync(options).finally(() => hubspot.setFaults({}));
      await withRuns((runs) => runs.setStatus("1", runId, "done", { exitCode: report.exitCode }));
    }
    expect(await withRuns((runs) => runs.unfinished("1"))).toEqual([]);
    expect((await runSync(options)).contracts[0]?.status).toBe("synced");
    const reconcile = await runReconcile({ ...options, contract: CONTRACT });
    expect(reconcile.counts).toMatchObject({ missing_in_destination: 0, value_mismatch: 0, suppressed_but_present: 0, consent_revoked_but_present: 0, stale: 0 });
    expect(freeForOtherProcesses(path)).toBe("free");
  });
});
