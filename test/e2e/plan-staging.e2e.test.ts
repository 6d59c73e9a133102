/**
 * The plan is computed once per run into a staging table beside the ledger (src/ledger/plan-staging.ts): a run drops
 * it when it ends, whether it succeeded or failed, and `plan` (a dry run) leaves no table behind. The real CLI on
 * the integration build, DuckDB and PostgreSQL, against the HubSpot emulator.
 */
import { describe, expect, it } from "vitest";
import { PLAN_STAGING_PREFIX } from "../../src/ledger/plan-staging.ts";
import { runCli, syncArgs } from "../support/cli.ts";
import { useHubSpotEmulator } from "../support/emulators.ts";
import { ENGINES, integrationEngine } from "../support/engines.ts";

const TOKEN = "plan-staging-token";
const CONTRACT = "contact_engagement_to_hubspot";
const MODEL_NODE = "model.activation_integration_tests.contact_engagement";
// Started once, reset (records, calls, faults) before each test.
const emulator = useHubSpotEmulator({ accessToken: TOKEN });

describe.each(ENGINES)("on %s", (engineName) => {
  const engine = integrationEngine(engineName, { mutable: [CONTRACT] });
  const env = (): Record<string, string> => ({ ...emulator.cliEnv(), ...engine.env() });
  const sync = (target: string, ...extra: string[]) => runCli(syncArgs(target, "--select", CONTRACT, "--json", ...extra, ...engine.args), env());
  const plan = (target: string) => runCli(["plan", ...syncArgs(target, "--select", CONTRACT).slice(1), "--json", ...engine.args], env());
  /** Every table of the ledger's schema (the run log's), by name. */
  const ledgerSchemaTables = async (): Promise<string[]> => {
    const schema = /"([^"]+)"\."activation_run_log"$/.exec(engine.ledgerTable("activation_run_log"))![1]!;
    const rows = await engine.query(`select table_name from information_schema.tables where table_schema = '${schema}' order by table_name`);
    return rows.map((r) => String(r.table_name));
  };
  const stagingTables = async (): Promise<string[]> => (await ledgerSchemaTables()).filter((t) => t.startsWith(PLAN_STAGING_PREFIX));

  it("a sync, a plan with updates and removals, and the sync after it leave no staging table", async () => {
    const first = await sync(engine.targetPath());
    expect(first.exitCode, first.stderr).toBe(0);
    expect(JSON.parse(first.stdout).contracts[0].counts).toMatchObject({ created: 16 });
    expect(await stagingTables()).toEqual([]);

    // One row changes, one leaves: the plan has an update and a removal to read from its staging table.
    await engine.mutate(`update ${engine.model(CONTRACT)} set first_name = 'Changed', _activation_row_hash = md5(email || 'changed') where email = 'amara.singh@fathomrobotics.ai'`);
    await engine.mutate(`delete from ${engine.model(CONTRACT)} where email = (select min(email) from ${engine.model(CONTRACT)} where email <> 'amara.singh@fathomrobotics.ai')`);
    const tablesBefore = await ledgerSchemaTables();
    const dry = await plan(engine.targetPath());
    expect(dry.exitCode, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout).contracts[0]).toMatchObject({ status: "planned", plan: { eligible: 15, update: 1, removed: 1 }, fieldChanges: { firstname: 1 } });
    // A dry run leaves the warehouse's tables as they were.
    expect(await ledgerSchemaTables()).toEqual(tablesBefore);

    const second = await sync(engine.targetPath());
    expect(second.exitCode, second.stderr).toBe(0);
    expect(JSON.parse(second.stdout).contracts[0].counts).toMatchObject({ eligible: 15, updated: 1 });
    expect(await stagingTables()).toEqual([]);
  });

  it("a sync that fails after planning drops its staging table: the destination's answers fail the rows, or fail the run", async () => {
    const withContract = (edit: (contract: Record<string, Record<string, unknown>>) => void) =>
      engine.copyArtifacts({ manifest: (m) => edit(m.nodes[MODEL_NODE].config.meta.activation[0]) });
    // Every write answered 5xx, no retry: the rows fail (dead letters), the run ends normally.
    emulator.setFaults({ serverErrorRate: 1, pathPattern: "/batch/upsert$" });
    const failedRows = await sync(await withContract((c) => (c.monitoring!.retry_budget = { max_retries: 0 })));
    expect(failedRows.exitCode, failedRows.stderr).not.toBe(0);
    expect(emulator.calls().filter((c) => c.path.endsWith("/batch/upsert")).length).toBeGreaterThan(0);
    expect(await stagingTables()).toEqual([]);

    // Update mode reads the records back before writing; that read answered 5xx throws out of the run while it
    // streams the staging table's rows: the contract fails, and the table still goes.
    emulator.reset();
    emulator.setFaults({ serverErrorRate: 1, pathPattern: "/batch/read$" });
    const failedRun = await sync(
      await withContract((c) => {
        c.monitoring!.retry_budget = { max_retries: 0 };
        c.destination!.mode = "update";
      }),
    );
    expect(failedRun.exitCode, failedRun.stderr).not.toBe(0);
    expect(JSON.parse(failedRun.stdout).contracts[0]).toMatchObject({ status: "failed", cause: "destination" });
    expect(emulator.calls().filter((c) => c.path.endsWith("/batch/read")).length).toBeGreaterThan(0);
    expect(emulator.records("contacts")).toEqual([]);
    expect(await stagingTables()).toEqual([]);
  });
});
