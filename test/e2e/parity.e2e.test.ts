/**
 * Parity and the match rate, through the real CLI and the real dbt on DuckDB and PostgreSQL, against the HubSpot
 * emulator:
 * - `reconcile` captures the destination; the generated `<contract>__parity` model (rebuilt by dbt) classifies each
 *   key against it (missing in the destination, value mismatch, no longer eligible) and tells drift from what the
 *   next sync resolves; its test warns by default and holds the sync only under `gates.parity: hold`.
 * - `gates.min_match_rate` on a first sync into a destination that already holds some of the records: the syncer
 *   looks the eligible keys up before any write and holds the sync back below the rate.
 */
import { Client } from "@hubspot/api-client";
import { mkdtemp, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { dbt, integrationProject } from "../../scripts/dbt.ts";
import { runCli, syncArgs } from "../support/cli.ts";
import { ENGINES, integrationEngine, type IntegrationEngine } from "../support/engines.ts";
import { useHubSpotEmulator } from "../support/emulators.ts";

const TOKEN = "parity-token";
const CONTRACT = "contact_engagement_to_hubspot";
const PARITY = `${CONTRACT}__parity`;
const MODEL_NODE = "model.activation_integration_tests.contact_engagement";
const AMARA = "amara.singh@fathomrobotics.ai";
const GRACE = "grace.obi@juniperschools.edu";
const ZOE = "zoe.kim@harborcoffee.com";
const emulator = useHubSpotEmulator({ accessToken: TOKEN });

/** A share as the stop reason writes it (one decimal, none when whole). */
const share = (x: number): string => `${(100 * x).toFixed(1).replace(/\.0$/, "")}%`;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests rewrite arbitrary artifact JSON
type Json = any;

interface DbtResult {
  unique_id: string;
  status: string;
  failures?: number | null;
}

/** The schema of a quoted relation `"db"."schema"."name"` or `"schema"."name"`. */
function schemaOf(relation: string): string {
  const parts = relation.split(".").map((p) => p.replace(/"/g, ""));
  return parts[parts.length - 2]!;
}

/**
 * `dbt build --select <contract>__parity` on the test's warehouse, the syncer's tables read where this test's ledger
 * is: the parity view and its test as a user's next `dbt build` makes them. Returns their results.
 */
async function buildParity(engine: IntegrationEngine): Promise<DbtResult[]> {
  const targetPath = await mkdtemp(join(inject("scratchRoot"), "parity-build-"));
  const env = engine.env();
  const ledgerSchema = schemaOf(engine.ledgerTable("activation_ledger"));
  // PostgreSQL: the build's relations live in their own schema, the test's ledger in another.
  const pgEnv = engine.name === "postgres" ? { ...env, ACTIVATION_PG_SCHEMA: schemaOf(engine.model(CONTRACT)) } : env;
  const vars = engine.name === "postgres" ? ["--vars", JSON.stringify({ activation_schema: ledgerSchema })] : [];
  const run = await dbt(["build", ...engine.args, "--select", PARITY, ...vars], { targetPath, duckdbPath: env.ACTIVATION_DUCKDB_PATH ?? join(targetPath, "unused.duckdb"), env: pgEnv });
  expect([0, 1], `${run.stdout}\n${run.stderr}`).toContain(run.exitCode);
  const results = JSON.parse(await readFile(join(targetPath, "run_results.json"), "utf8")) as { results: DbtResult[] };
  return results.results;
}

describe.each(ENGINES)("on %s", (engineName) => {
  const engine = integrationEngine(engineName, { mutable: [CONTRACT] });
  const env = (): Record<string, string> => ({ ...emulator.cliEnv(), ...engine.env(), USER: "parity" });
  const connection = ["--project-dir", integrationProject, "--profiles-dir", integrationProject, ...engine.args];
  const sync = (target: string, ...extra: string[]) => runCli(syncArgs(target, "--select", CONTRACT, ...extra, ...engine.args), env());
  const reconcile = () => runCli(["reconcile", ...connection, "--target-dir", engine.targetPath(), "--contract", CONTRACT, "--json"], env());
  /** The build's artifacts with the contract's gates changed and the parity build's results merged in (same invocation). */
  const artifacts = (gates: (g: Json) => void, parity: DbtResult[] = []) =>
    engine.copyArtifacts({
      manifest: (m) => gates((m.nodes[MODEL_NODE].config.meta.activation[0].gates ??= {})),
      runResults: (r) => {
        const ids = new Set(parity.map((p) => p.unique_id));
        r.results = [...r.results.filter((x: DbtResult) => !ids.has(x.unique_id)), ...parity];
      },
    });
  const parityRows = async () =>
    (await engine.query(`select sync_key, discrepancy, expected from ${engine.model(PARITY)} order by sync_key, discrepancy`)).map((r) => ({
      key: r.sync_key,
      discrepancy: r.discrepancy,
      expected: r.expected === true || r.expected === "true",
    }));

  describe("parity per contract", () => {
    it("classifies drift against reconcile's snapshot, warns by default, and holds the next sync only under gates.parity: hold", async () => {
      const first = await sync(engine.targetPath());
      expect(first.exitCode, first.stderr).toBe(0);
      expect((await reconcile()).exitCode).toBe(0);
      const clean = await buildParity(engine);
      const cleanTest = clean.find((r) => r.unique_id.startsWith("test."))!;
      expect([cleanTest.status, cleanTest.failures]).toEqual(["pass", 0]);
      expect(await parityRows()).toEqual([]);
      // Parity holds: the contract that holds on drift syncs (nothing to send).
      const heldClean = await sync(await artifacts((g) => (g.parity = "hold"), clean), "--json");
      expect(heldClean.exitCode, heldClean.stderr).toBe(0);

      // Drift: a person edits one record and archives another in HubSpot. Pending: one row changes in the warehouse,
      // another leaves the eligible set (on_removed: keep leaves its record as it is).
      const client = new Client({ accessToken: TOKEN, basePath: emulator.url });
      await client.crm.contacts.batchApi.upsert({ inputs: [{ id: AMARA, idProperty: "email", properties: { firstname: "Amy" } }] });
      await client.crm.contacts.batchApi.archive({ inputs: [{ id: emulator.findByProperty("contacts", "email", GRACE)!.id }] });
      await engine.mutate(`update ${engine.model(CONTRACT)} set job_title = 'CTO', _activation_row_hash = md5('cto') where email = '${ZOE}'`);
      const [leaving] = await engine.query(`select email from ${engine.model(CONTRACT)} where email not in ('${AMARA}', '${GRACE}', '${ZOE}') order by email limit 1`);
      await engine.mutate(`delete from ${engine.model(CONTRACT)} where email = '${String(leaving!.email)}'`);

      expect((await reconcile()).exitCode).toBe(4);
      const drifted = await buildParity(engine);
      expect(await parityRows()).toEqual(
        [
          { key: AMARA, discrepancy: "value_mismatch", expected: false },
          { key: GRACE, discrepancy: "missing_in_destination", expected: false },
          { key: String(leaving!.email), discrepancy: "no_longer_eligible", expected: true },
          { key: ZOE, discrepancy: "value_mismatch", expected: true },
        ].sort((a, b) => a.key.localeCompare(b.key)),
      );
      // The generated test (severity warn by default) counts the drift only.
      const test = drifted.find((r) => r.unique_id.startsWith("test."))!;
      expect([test.status, test.failures]).toEqual(["warn", 2]);

      // gates.parity: hold: the gate holds the contract back with the parity test as the reason; nothing is sent.
      const before = emulator.calls().length;
      const held = await sync(await artifacts((g) => (g.parity = "hold"), drifted), "--json");
      expect(held.exitCode, held.stderr).toBe(3);
      const outcome = JSON.parse(held.stdout).contracts[0];
      expect(outcome.status).toBe("skipped");
      expect(outcome.reasons.join("\n")).toMatch(/parity_drift.*warn/);
      expect(emulator.calls().length).toBe(before);
      const [log] = await engine.query(`select status, gate_passed from ${engine.ledgerTable("activation_run_log")} order by started_at desc limit 1`);
      expect(log).toMatchObject({ status: "gated", gate_passed: false });

      // The default (warn): the same results let the sync through; it sends the changed row.
      const warned = await sync(await artifacts(() => undefined, drifted), "--json");
      expect(warned.exitCode, warned.stderr).toBe(0);
      expect(JSON.parse(warned.stdout).contracts[0].counts).toMatchObject({ updated: 1 });
      expect(emulator.findByProperty("contacts", "email", ZOE)?.properties.jobtitle).toBe("CTO");
    });
  });

  describe("gates.min_match_rate on a first sync", () => {
    const eligible = async (): Promise<string[]> => (await engine.query(`select email from ${engine.model(CONTRACT)} order by email`)).map((r) => String(r.email));
    /** The destination already holds these contacts (created by someone else, before the contract's first sync). */
    const preseed = async (emails: string[]) => {
      const client = new Client({ accessToken: TOKEN, basePath: emulator.url });
      await client.crm.contacts.batchApi.upsert({ inputs: emails.map((email) => ({ id: email, idProperty: "email", properties: { email, firstname: "Existing" } })) });
    };
    const withRate = () =>
      artifacts((g) => {
        g.min_match_rate = 0.7;
        delete g.match_rate_not_needed;
      });

    it("syncs when 80% of the keys already have a record: they are updated, not duplicated", async () => {
      const keys = await eligible();
      const present = keys.slice(0, Math.ceil(keys.length * 0.8));
      await preseed(present);
      const run = await sync(await withRate(), "--json");
      expect(run.exitCode, run.stderr).toBe(0);
      expect(emulator.records("contacts")).toHaveLength(keys.length);
      expect(emulator.findByProperty("contacts", "email", present[0]!)?.properties.firstname).not.toBe("Existing");
      const [ledger] = await engine.query(`select count(*) as n from ${engine.ledgerTable("activation_ledger")} where status = 'synced'`);
      expect(ledger).toEqual({ n: BigInt(keys.length) });
      // Measured on the first sync only: the next run (nothing changed) reads nothing at all.
      const before = emulator.calls().length;
      expect((await sync(await withRate())).exitCode).toBe(0);
      expect(emulator.calls().length).toBe(before);
    });

    it("holds the sync back with the reason when 50% match, reading only, and measures again on the next run", async () => {
      const keys = await eligible();
      const present = keys.slice(0, Math.floor(keys.length / 2));
      await preseed(present);
      const writes = () => emulator.calls().filter((c) => !/read|search|properties|GET/i.test(`${c.method} ${c.endpoint}`)).length;
      const before = writes();
      const run = await sync(await withRate(), "--json");
      expect(run.exitCode, run.stderr).toBe(6);
      const outcome = JSON.parse(run.stdout).contracts[0];
      expect(outcome.status).toBe("stopped");
      expect(outcome.reasons).toEqual([
        `gates.min_match_rate: ${present.length} of the ${keys.length} eligible keys (${share(present.length / keys.length)}) match an existing hubspot contacts record, fewer than 70% (first sync: looked up in the destination before any write)`,
      ]);
      expect(writes()).toBe(before);
      expect(emulator.records("contacts")).toHaveLength(present.length);
      const [log] = await engine.query(`select status, stop_reason from ${engine.ledgerTable("activation_run_log")} order by started_at desc limit 1`);
      expect(log).toMatchObject({ status: "stopped", stop_reason: outcome.reasons[0] });
      const [ledger] = await engine.query(`select count(*) as n from ${engine.ledgerTable("activation_ledger")}`);
      expect(ledger).toEqual({ n: 0n });
      // Still a first sync: the next run looks up again, and passes once enough records exist.
      await preseed(keys.slice(present.length, Math.ceil(keys.length * 0.75)));
      const again = await sync(await withRate(), "--json");
      expect(again.exitCode, again.stderr).toBe(0);
      expect(emulator.records("contacts")).toHaveLength(keys.length);
    });
  });
});
