/**
 * dbt Fusion (dbt v2) artifacts: the fixtures in test/fixtures/fusion follow what Fusion writes (see make.ts there for
 * the sources). The gate reads them like dbt-core's; a model Fusion reused under state-aware orchestration is proven
 * only when the syncer's run log shows it gated the invocation that built the activation model's rows.
 */
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { readManifest, readRunResults } from "../../src/dbt/artifacts.ts";
import { checkInvocation, createGate, reusedOnly } from "../../src/gate/gate.ts";
import { startHubSpotEmulator, type HubSpotEmulator } from "../../emulators/hubspot/index.ts";
import { integrationPortalProperties } from "../../scripts/hubspot-portal.ts";
import { repoRoot } from "../../scripts/dbt.ts";
import { freshDuckdb, runCli, syncArgs } from "../support/cli.ts";
import { execDuckDB, queryDuckDB } from "../support/warehouse.ts";

const fixtures = join(repoRoot, "test", "fixtures", "fusion");
const BUILD = join(fixtures, "build");
const REUSED = join(fixtures, "sao-reused");
const BUILD_ID = "f0510000-0000-4000-8000-0000000000b1";
const PKG = "activation_integration_tests";
const ENGAGEMENT = `model.${PKG}.contact_engagement`;
const ENGAGEMENT_SYNC = `model.${PKG}.contact_engagement_to_hubspot`;
const HEALTH = `model.${PKG}.account_health`;
const HEALTH_SYNC = `model.${PKG}.account_health_to_hubspot`;

async function load(dir: string) {
  const manifestPath = join(dir, "manifest.json");
  const runResultsPath = join(dir, "run_results.json");
  return { manifest: await readManifest(manifestPath), runResults: await readRunResults(runResultsPath), manifestPath, runResultsPath };
}

describe("Fusion artifacts through the gate", () => {
  it("reads a Fusion build (v12 manifest, v6 run_results with Fusion's fields) and gates it as dbt-core's", async () => {
    const artifacts = await load(BUILD);
    expect(artifacts.runResults.metadata.dbt_version).toMatch(/^2\./);
    expect(() => checkInvocation(artifacts)).not.toThrow();
    const gate = createGate(artifacts.manifest, artifacts.runResults);
    expect(gate.verdictFor(ENGAGEMENT)).toMatchObject({ passed: true, reasons: [] });
    expect(gate.verdictFor(ENGAGEMENT_SYNC)).toMatchObject({ passed: true, reasons: [] });
    expect(gate.verdictFor(HEALTH).reasons).toEqual(["test not_null_account_health_domain: fail (1 failing row)"]);
    // Fusion writes no result for nodes skipped after a failure: each is "not verified", never a pass.
    const skipped = gate.verdictFor(HEALTH_SYNC);
    expect(skipped.passed).toBe(false);
    expect(skipped.reasons[0]).toBe("model account_health_to_hubspot: no result in this invocation (not verified)");
    expect(skipped.checks.filter((c) => c.kind === "test").every((c) => c.status === "missing")).toBe(true);
  });

  it("holds back reused models, and marks the verdicts that failed only because of the reuse", async () => {
    const artifacts = await load(REUSED);
    expect(() => checkInvocation(artifacts)).not.toThrow();
    const gate = createGate(artifacts.manifest, artifacts.runResults);
    for (const id of [ENGAGEMENT, ENGAGEMENT_SYNC, HEALTH, HEALTH_SYNC]) {
      const verdict = gate.verdictFor(id);
      expect(verdict.passed).toBe(false);
      expect(verdict.reasons[0]).toMatch(/: reused from an earlier run \(state-aware orchestration\), not built by this invocation/);
      expect(reusedOnly(verdict)).toBe(true);
    }
  });

  it("refuses a Fusion run_results with a status it does not know as a pass", async () => {
    const artifacts = await load(BUILD);
    const results = artifacts.runResults.results.map((r) => (r.unique_id === ENGAGEMENT_SYNC ? { ...r, status: "no-op" } : r));
    const verdict = createGate(artifacts.manifest, { ...artifacts.runResults, results }).verdictFor(ENGAGEMENT_SYNC);
    expect(verdict.reasons).toEqual(["model contact_engagement_to_hubspot: no-op"]);
    expect(reusedOnly(verdict)).toBe(false);
  });
});

describe("Fusion state-aware orchestration through the CLI (DuckDB)", () => {
  const TOKEN = "fusion-token";
  let emulator: HubSpotEmulator | undefined;
  afterEach(async () => {
    await emulator?.close();
    emulator = undefined;
  });

  it("a reused activation model syncs only after the syncer gated the build that made its rows", async () => {
    emulator = await startHubSpotEmulator({ accessToken: TOKEN, properties: integrationPortalProperties });
    const duckdbPath = await freshDuckdb();
    const table = `"integration_tests"."main"."contact_engagement_to_hubspot"`;
    // The rows as the Fusion build of the fixture made them.
    await execDuckDB(duckdbPath, `update ${table} set _activation_invocation_id = '${BUILD_ID}'`);
    const sync = async (target: string) => {
      const run = await runCli(syncArgs(target, "--select", "contact_engagement_to_hubspot", "--json"), {
        HUBSPOT_ACCESS_TOKEN: TOKEN,
        HUBSPOT_BASE_PATH: emulator!.url,
        ACTIVATION_DUCKDB_PATH: duckdbPath,
      });
      expect(run.stdout.startsWith("{"), run.stderr).toBe(true);
      return { exitCode: run.exitCode, outcome: JSON.parse(run.stdout).contracts[0] };
    };
    const reuseReason = /^model contact_engagement: reused from an earlier run/;

    // No sync ever gated the build that made the rows: nothing shows they were tested.
    const unproven = await sync(REUSED);
    expect(unproven.exitCode).toBe(3);
    expect(unproven.outcome.status).toBe("skipped");
    expect(unproven.outcome.reasons[0]).toMatch(reuseReason);
    expect(unproven.outcome.reasons.at(-1)).toBe(
      `activation model contact_engagement_to_hubspot was not built by this invocation and holds rows built by dbt invocation ${BUILD_ID}, on which no sync of this contract passed the gate: nothing shows those rows were tested`,
    );
    expect(emulator.callCount()).toBe(0);

    // The Fusion build itself: proven here, synced.
    const built = await sync(BUILD);
    expect(built.exitCode).toBe(0);
    expect(built.outcome).toMatchObject({ status: "synced", counts: { eligible: 16, created: 16 } });

    // Reused twice: the run log now shows the build was gated; nothing changed, so no destination call.
    for (let i = 0; i < 2; i += 1) {
      const calls = emulator.callCount();
      const reused = await sync(REUSED);
      expect(reused.exitCode).toBe(0);
      expect(reused.outcome).toMatchObject({ status: "synced", counts: { eligible: 16, created: 0, updated: 0, unchanged: 16 } });
      expect(emulator.callCount()).toBe(calls);
    }

    // The table rebuilt since by an invocation no sync gated (say a `dbt run`): reuse proves nothing any more.
    await execDuckDB(duckdbPath, `update ${table} set _activation_invocation_id = 'later-untested-run', job_title = 'Untested'`);
    const rebuilt = await sync(REUSED);
    expect(rebuilt.exitCode).toBe(3);
    expect(rebuilt.outcome.reasons.at(-1)).toMatch(/holds rows built by dbt invocation later-untested-run, on which no sync of this contract passed the gate/);
    expect(emulator.records("contacts").some((r) => r.properties.jobtitle === "Untested")).toBe(false);
    const runs = await queryDuckDB(duckdbPath, `select invocation_id, gate_passed from "integration_tests"."main"."activation_run_log" where status <> 'gated' order by started_at`);
    expect(runs.map((r) => r.invocation_id)).toEqual([BUILD_ID, "f0510000-0000-4000-8000-0000000000b2", "f0510000-0000-4000-8000-0000000000b2"]);
  });
});
