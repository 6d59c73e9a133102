/**
 * Proven rows only, through the real CLI on DuckDB and PostgreSQL: the activation model records the dbt invocation
 * that built its rows, and a sync reads them only when that is the invocation it gated. A `dbt run` after the gated
 * `dbt build` rebuilds the table with rows no test saw: the sync refuses the contract and makes no destination call.
 */
import { mkdtemp } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, describe, expect, inject, it } from "vitest";
import { startHubSpotEmulator, type HubSpotEmulator } from "../../emulators/hubspot/index.ts";
import { integrationPortalProperties } from "../../scripts/hubspot-portal.ts";
import { dbt } from "../../scripts/dbt.ts";
import { runCli, syncArgs } from "../support/cli.ts";
import { ENGINES, integrationEngine, type IntegrationEngine } from "../support/engines.ts";

const TOKEN = "rows-proof-token";
const CONTRACT = "contact_engagement_to_hubspot";
let emulator: HubSpotEmulator | undefined;

afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

/** A real dbt command on the engine's relations after the build: `run` rebuilds the activation model (no tests). */
async function dbtAfterBuild(engine: IntegrationEngine, command: "run" | "test", select: string[] = [CONTRACT]): Promise<string> {
  const targetPath = join(await mkdtemp(join(inject("scratchRoot"), `${command}-`)), "target");
  const env = engine.env();
  // The PostgreSQL build's schema is the one its relations are named in ("<schema>"."<name>").
  if (engine.name === "postgres") env.ACTIVATION_PG_SCHEMA = /^"([^"]+)"/.exec(engine.model(CONTRACT))![1]!;
  const run = await dbt([command, "--select", ...select, ...engine.args], { targetPath, duckdbPath: env.ACTIVATION_DUCKDB_PATH ?? join(targetPath, "unused.duckdb"), env });
  expect(run.exitCode, run.stdout).toBe(0);
  return targetPath;
}

describe.each(ENGINES)("on %s", (engineName) => {
  const engine = integrationEngine(engineName, { mutable: [CONTRACT] });

  async function sync(targetDir: string) {
    const run = await runCli(syncArgs(targetDir, "--select", CONTRACT, "--json", ...engine.args), { HUBSPOT_ACCESS_TOKEN: TOKEN, HUBSPOT_BASE_PATH: emulator!.url, ...engine.env() });
    return { ...run, report: run.stdout.startsWith("{") ? JSON.parse(run.stdout) : undefined };
  }

  it("every row of the activation model carries the build's invocation id", async () => {
    const manifest = (await import(join(engine.targetPath(), "manifest.json"), { with: { type: "json" } })).default as { metadata: { invocation_id: string } };
    const rows = await engine.query(`select _activation_invocation_id as id, count(*) as n from ${engine.model(CONTRACT)} group by 1`);
    expect(rows).toEqual([{ id: manifest.metadata.invocation_id, n: 16n }]);
  });

  it("syncs the build's rows, then refuses them once a dbt run rebuilt the table after the build, sending nothing", async () => {
    emulator = await startHubSpotEmulator({ accessToken: TOKEN, properties: integrationPortalProperties });
    const first = await sync(engine.targetPath());
    expect(first.exitCode, first.stderr).toBe(0);
    expect(first.report.contracts[0]).toMatchObject({ status: "synced", counts: { eligible: 16, created: 16 } });

    const rerun = await dbtAfterBuild(engine, "run");
    const rerunId = (await engine.query(`select distinct _activation_invocation_id as id from ${engine.model(CONTRACT)}`))[0]!.id as string;
    const buildId = first.report.invocationId as string;
    expect(rerunId).not.toBe(buildId);
    // The rebuilt rows differ from what was sent: a sync that read them would update HubSpot.
    await engine.mutate(`update ${engine.model(CONTRACT)} set job_title = 'Untested', _activation_row_hash = md5(email || 'untested')`);
    const calls = emulator.callCount();
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const refused = await sync(engine.targetPath());
      expect(refused.exitCode, refused.stderr).toBe(3);
      const outcome = refused.report.contracts[0];
      expect(outcome.status).toBe("skipped");
      expect(outcome.reasons).toEqual([
        `activation model ${CONTRACT} holds rows built by dbt invocation ${rerunId}, not by the gated invocation ${buildId}: ` +
          "it was rebuilt after that build (e.g. by `dbt run`), so its rows are untested; sync the target directory of the build that made them",
      ]);
    }
    expect(emulator.callCount()).toBe(calls);
    expect(emulator.records("contacts").some((r) => r.properties.jobtitle === "Untested")).toBe(false);
    // Nor does the dbt run's own target directory prove anything.
    const own = await sync(rerun);
    expect(own.exitCode).toBe(2);
    expect(own.stderr).toMatch(/written by `dbt run`/);
    // Only the first sync wrote; the refused ones left `gated` rows saying why.
    const runs = await engine.query(`select count(*) as n from ${engine.ledgerTable("activation_run_log")} where status <> 'gated'`);
    expect(runs).toEqual([{ n: 1n }]);
  });

  it("after dbt test, syncs the build's rows only once a sync gated that build", async () => {
    emulator = await startHubSpotEmulator({ accessToken: TOKEN, properties: integrationPortalProperties });
    const tested = await dbtAfterBuild(engine, "test", ["contact_engagement", CONTRACT]);
    const unproven = await sync(tested);
    expect(unproven.exitCode).toBe(3);
    expect(unproven.report.contracts[0].reasons).toEqual([
      expect.stringMatching(new RegExp(`^activation model ${CONTRACT} was not built by this invocation and holds rows built by dbt invocation [0-9a-f-]+, on which no sync of this contract passed the gate`)),
    ]);
    expect(emulator.callCount()).toBe(0);
    const built = await sync(engine.targetPath());
    expect(built.report.contracts[0]).toMatchObject({ status: "synced", counts: { created: 16 } });
    const calls = emulator.callCount();
    const proven = await sync(tested);
    expect(proven.exitCode, proven.stderr).toBe(0);
    expect(proven.report.contracts[0]).toMatchObject({ status: "synced", counts: { eligible: 16, unchanged: 16 } });
    expect(emulator.callCount()).toBe(calls);
  });

  it("a table holding rows of two invocations is refused too, and plan reads none of them", async () => {
    emulator = await startHubSpotEmulator({ accessToken: TOKEN, properties: integrationPortalProperties });
    await engine.mutate(`update ${engine.model(CONTRACT)} set _activation_invocation_id = 'another-run' where email like 'a%'`);
    const refused = await sync(engine.targetPath());
    expect(refused.exitCode).toBe(3);
    expect(refused.report.contracts[0].reasons[0]).toMatch(/holds rows built by dbt invocation another-run, not by the gated invocation/);
    const plan = await runCli(["plan", ...syncArgs(engine.targetPath(), "--select", CONTRACT, "--json", ...engine.args).slice(1)], engine.env());
    expect(plan.exitCode).toBe(3);
    expect(JSON.parse(plan.stdout).contracts[0].status).toBe("skipped");
    expect(emulator.callCount()).toBe(0);
  });
});
