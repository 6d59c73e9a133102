/**
 * End to end: a real `dbt build` of integration_tests on DuckDB (test/setup/global.ts), then the real CLI in a
 * child process against the HubSpot emulator through the official @hubspot/api-client.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startHubSpotEmulator, type HubSpotEmulator } from "../../emulators/hubspot/index.ts";
import { integrationPortalProperties } from "../../scripts/hubspot-portal.ts";
import { integrationProject } from "../../scripts/dbt.ts";
import { copyArtifacts, freshDuckdb, integrationBuild, runCli, syncArgs } from "../support/cli.ts";
import { queryDuckDB } from "../support/warehouse.ts";
import { busiestWindow } from "../support/windows.ts";

const TOKEN = "e2e-token";
let emulator: HubSpotEmulator;
let duckdbPath: string;

function env(extra: Record<string, string> = {}): Record<string, string> {
  return { HUBSPOT_ACCESS_TOKEN: TOKEN, HUBSPOT_BASE_PATH: emulator.url, ACTIVATION_DUCKDB_PATH: duckdbPath, ...extra };
}

beforeAll(async () => {
  emulator = await startHubSpotEmulator({ accessToken: TOKEN, properties: integrationPortalProperties });
});
afterAll(async () => {
  await emulator.close();
});
beforeEach(async () => {
  emulator.reset();
  duckdbPath = await freshDuckdb();
});

describe("sync after dbt build", () => {
  it("lands the passing contract's rows with the right properties and makes zero calls for the gated one", async () => {
    const run = await runCli(syncArgs(integrationBuild().targetPath), env());
    expect(run.exitCode, run.stderr).toBe(3);

    // What lands is the generated activation model's rows (consent applied), not the raw model's.
    const expected = await queryDuckDB(
      duckdbPath,
      `select email, first_name, last_name, job_title, plan_tier, engagement_band from "integration_tests"."main"."contact_engagement_to_hubspot" order by email`,
    );
    expect(expected.length).toBeGreaterThan(10);
    const landed = emulator
      .records("contacts")
      .map((r) => r.properties)
      .sort((a, b) => String(a.email).localeCompare(String(b.email)));
    expect(landed.map((p) => [p.email, p.firstname, p.lastname, p.jobtitle, p.plan_tier, p.engagement_band])).toEqual(
      expected.map((r) => [r.email, r.first_name, r.last_name, r.job_title, r.plan_tier, r.engagement_band]),
    );

    // The gated contract (account_health, whose not_null test on domain failed) touched nothing in HubSpot.
    expect(emulator.records("companies")).toEqual([]);
    expect(emulator.calls().filter((c) => c.path.includes("companies"))).toEqual([]);

    expect(run.stdout).toMatch(new RegExp(`SYNCED   contact_engagement_to_hubspot .*: ${expected.length} eligible rows, ${expected.length} created, 0 updated, 0 unchanged, 0 failed`));
    expect(run.stdout).toContain("SKIPPED  account_health_to_hubspot (model account_health → hubspot companies)");
    expect(run.stdout).toContain("held back by the gate: test not_null_account_health_domain: fail (1 failing row)");
  });

  it("makes zero destination calls on a rerun with nothing changed, and reports it as JSON", async () => {
    await runCli(syncArgs(integrationBuild().targetPath), env());
    const first = emulator.records("contacts").map((r) => r.id).sort();
    const callsAfterFirst = emulator.calls().length;
    const again = await runCli(syncArgs(integrationBuild().targetPath, "--json"), env());
    expect(again.exitCode).toBe(3);
    expect(emulator.records("contacts").map((r) => r.id).sort()).toEqual(first);
    expect(emulator.calls().length).toBe(callsAfterFirst);

    const report = JSON.parse(again.stdout);
    expect(report.exitCode).toBe(3);
    expect(report.command).toBe("build");
    const [health, braze, engagement] = report.contracts;
    // The Braze contract is paused in the fixture (test/e2e/braze.e2e.test.ts resumes it): skipped, nothing sent.
    expect(braze).toMatchObject({ contract: "contact_engagement_to_braze", status: "skipped", reasons: ["paused (status: paused in the contract)"] });
    expect(health).toMatchObject({ contract: "account_health_to_hubspot", status: "skipped" });
    expect(health.gate.checks.find((c: { name: string }) => c.name === "not_null_account_health_domain")).toMatchObject({ status: "fail", failures: 1 });
    expect(engagement).toMatchObject({ contract: "contact_engagement_to_hubspot", status: "synced" });
    expect(engagement.counts).toEqual({ eligible: first.length, created: 0, updated: 0, unchanged: first.length, removed: 0, skipped: 0, failed: 0, rejected: 0, notSent: 0, failedUnchanged: 0, retryLater: 0 });
    expect(engagement.requests).toBe(0);
  });

  it("exits 0 when every selected contract synced cleanly, and 3 with zero calls when the selection is gated", async () => {
    const clean = await runCli(syncArgs(integrationBuild().targetPath, "--select", "contact_engagement_to_hubspot"), env());
    expect(clean.exitCode, clean.stdout + clean.stderr).toBe(0);
    emulator.reset();
    const gated = await runCli(syncArgs(integrationBuild().targetPath, "--select", "account_health_to_hubspot"), env());
    expect(gated.exitCode).toBe(3);
    expect(emulator.calls()).toEqual([]);
  });

  it("maps per-record rejections (207) back to their rows into dead letters, exits 4, pauses past the pause rule, holds them while unchanged, and replay resends them", async () => {
    const flaky = await startHubSpotEmulator({ accessToken: TOKEN, properties: integrationPortalProperties, faults: { recordRejectRate: 0.3, seed: 3 } });
    try {
      // The fixture's rule is 5 % from the default sample of 20 attempted rows; its 16 rows need a smaller sample to trip it.
      const target = await copyArtifacts({
        manifest: (m) => (m.nodes["model.activation_integration_tests.contact_engagement"].config.meta.activation[0].monitoring.pause_if = { failed_rows_percent: 5, min_attempted: 4 }),
      });
      const args = syncArgs(target, "--select", "contact_engagement_to_hubspot", "--json");
      const run = await runCli(args, env({ HUBSPOT_BASE_PATH: flaky.url }));
      expect(run.exitCode, run.stderr).toBe(4);
      const [outcome] = JSON.parse(run.stdout).contracts;
      expect(outcome.counts.failed).toBeGreaterThan(0);
      expect(outcome.counts.created + outcome.counts.failed).toBe(outcome.counts.eligible);
      expect(flaky.records("contacts")).toHaveLength(outcome.counts.created);
      const letters = await queryDuckDB(duckdbPath, `select sync_key, error_code, message, failure_kind from "integration_tests"."main"."activation_dead_letters" order by sync_key`);
      expect(letters.map((l) => l.sync_key)).toEqual(outcome.failures.map((f: { key: string }) => f.key).sort());
      expect(letters.every((l) => l.error_code === "INJECTED_REJECTION" && String(l.message).includes("Injected rejection") && l.failure_kind === "permanent")).toBe(true);

      // Far past the contract's pause rule: the contract paused itself, and the run log says why.
      expect(outcome).toMatchObject({ result: "paused" });
      expect(outcome.paused).toMatch(new RegExp(`^monitoring.pause_if: ${outcome.counts.failed} of ${outcome.counts.eligible} attempted rows failed \\(.* %; the rule pauses at 5 % from 4 attempted rows\\)$`));
      const runLog = await queryDuckDB(duckdbPath, `select status, stop_reason, rows_failed, finished_at from "integration_tests"."main"."activation_run_log"`);
      expect(runLog).toEqual([expect.objectContaining({ status: "paused", stop_reason: outcome.paused, rows_failed: BigInt(outcome.counts.failed) })]);
      flaky.setFaults({});
      const callsBefore = flaky.calls().length;
      const held = await runCli(args, env({ HUBSPOT_BASE_PATH: flaky.url }));
      expect(held.exitCode).toBe(3);
      expect(JSON.parse(held.stdout).contracts[0].reasons[0]).toMatch(/^paused by dbt-activation: monitoring.pause_if: /);
      expect(flaky.calls()).toHaveLength(callsBefore);
      const connection = ["--project-dir", integrationProject, "--profiles-dir", integrationProject];
      expect((await runCli(["resume", ...connection, "--contract", "contact_engagement_to_hubspot"], env())).exitCode).toBe(0);

      // Failed permanently and unchanged: the next sync holds them back (zero calls); replay resends them.
      const quiet = await runCli(args, env({ HUBSPOT_BASE_PATH: flaky.url }));
      expect(quiet.exitCode, quiet.stderr).toBe(0);
      expect(JSON.parse(quiet.stdout).contracts[0].counts).toMatchObject({ created: 0, failed: 0, failedUnchanged: outcome.counts.failed, unchanged: outcome.counts.created });
      expect(flaky.calls()).toHaveLength(callsBefore);
      const replay = await runCli(["replay", ...connection, "--target-dir", target, "--contract", "contact_engagement_to_hubspot", "--json"], env({ HUBSPOT_BASE_PATH: flaky.url }));
      expect(replay.exitCode, replay.stderr).toBe(0);
      const [second] = JSON.parse(replay.stdout).contracts;
      expect(second.counts).toMatchObject({ created: outcome.counts.failed, updated: 0, failed: 0, eligible: outcome.counts.failed });
      expect(flaky.records("contacts")).toHaveLength(outcome.counts.eligible);
    } finally {
      await flaky.close();
    }
  });

  it("stops before any write when the contract's allowed values are not all options of the HubSpot property (schema drift)", async () => {
    const narrowed = { ...integrationPortalProperties, contacts: integrationPortalProperties.contacts!.map((p) => (p.name === "engagement_band" ? { ...p, options: ["high", "medium"] } : p)) };
    const strict = await startHubSpotEmulator({ accessToken: TOKEN, properties: narrowed });
    try {
      const run = await runCli(syncArgs(integrationBuild().targetPath, "--select", "contact_engagement_to_hubspot"), env({ HUBSPOT_BASE_PATH: strict.url }));
      expect(run.exitCode).toBe(2);
      expect(run.stdout).toMatch(/FAILED {3}contact_engagement_to_hubspot[^\n]*\n\s+.*engagement_band.*low/);
      expect(strict.calls().filter((c) => c.method !== "GET")).toEqual([]);
    } finally {
      await strict.close();
    }
  });

  it("paces through a tight rate limit: every row lands, no burst of 429s", async () => {
    const tight = await startHubSpotEmulator({ accessToken: TOKEN, properties: integrationPortalProperties, limits: { perTenSeconds: 1, windowMs: 300 } });
    try {
      const run = await runCli(syncArgs(integrationBuild().targetPath, "--select", "contact_engagement_to_hubspot", "--json"), env({ HUBSPOT_BASE_PATH: tight.url }));
      expect(run.exitCode, run.stderr).toBe(0);
      const [outcome] = JSON.parse(run.stdout).contracts;
      // The pacer keeps to the limit from the first request (the mapping check included): at most one 429.
      expect(tight.calls().filter((c) => c.status === 429).length).toBeLessThanOrEqual(1);
      expect(tight.calls().filter((c) => c.status === 200).length).toBeGreaterThanOrEqual(2);
      expect(tight.records("contacts")).toHaveLength(outcome.counts.eligible);
    } finally {
      await tight.close();
    }
  });
});

describe("shards", () => {
  it("a worker of --shard i/n paces at 1/n of the portal's limit: one request per window where the portal allows n", async () => {
    const windowMs = 400;
    const tight = await startHubSpotEmulator({ accessToken: TOKEN, properties: integrationPortalProperties, limits: { perTenSeconds: 4, windowMs } });
    try {
      const run = await runCli(syncArgs(integrationBuild().targetPath, "--select", "contact_engagement_to_hubspot", "--shard", "0/4", "--json"), env({ HUBSPOT_BASE_PATH: tight.url }));
      expect(run.exitCode, run.stderr).toBe(0);
      const [outcome] = JSON.parse(run.stdout).contracts;
      expect(outcome.counts.created).toBeGreaterThan(0);
      expect(tight.records("contacts")).toHaveLength(outcome.counts.created);
      // Its mapping check and its writes: more than one request, never two in one window (the portal allows 4).
      const stamps = tight.calls().filter((c) => c.status !== 429).map((c) => c.at).sort((a, b) => a - b);
      expect(stamps.length).toBeGreaterThanOrEqual(2);
      expect(busiestWindow(stamps, windowMs)).toBe(1);
      expect(tight.calls().filter((c) => c.status === 429)).toEqual([]);
    } finally {
      await tight.close();
    }
  });
});

describe("bad input: clear error, exit 2, zero writes", () => {
  it("a malformed contract names the model, the contract and the field", async () => {
    const target = await copyArtifacts({
      manifest: (m) => {
        const node = m.nodes["model.activation_integration_tests.contact_engagement"];
        delete node.config.meta.activation[0].destination.match;
        node.config.meta.activation[0].fields.first_name = { too: "firstname" };
      },
    });
    const run = await runCli(syncArgs(target), env());
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain("models/schema.yml: model contact_engagement, contract contact_engagement_to_hubspot, field destination.match");
    expect(run.stderr).toContain("field fields.first_name");
    expect(emulator.calls()).toEqual([]);
  });

  it("a missing run_results.json", async () => {
    const target = await copyArtifacts();
    await rm(join(target, "run_results.json"));
    const run = await runCli(syncArgs(target, "--json"), env());
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(/run_results\.json not found at .*run `dbt build` first/);
    expect(JSON.parse(run.stdout).error.message).toMatch(/run_results\.json not found/);
    expect(emulator.calls()).toEqual([]);
  });

  it("artifacts of two different invocations", async () => {
    const target = await copyArtifacts({ runResults: (r) => (r.metadata.invocation_id = "00000000-0000-0000-0000-000000000000") });
    const run = await runCli(syncArgs(target), env());
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(/come from different dbt invocations/);
    expect(emulator.calls()).toEqual([]);
  });

  it("an unsupported manifest version, a missing token, a mapped column the model lacks, an unknown --select", async () => {
    const old = await copyArtifacts({ manifest: (m) => (m.metadata.dbt_schema_version = "https://schemas.getdbt.com/dbt/manifest/v11.json") });
    const oldRun = await runCli(syncArgs(old), env());
    expect([oldRun.exitCode, oldRun.stderr]).toEqual([2, expect.stringMatching(/schema .*v11\.json; dbt-activation reads v12/)]);

    const noToken = await runCli(syncArgs(integrationBuild().targetPath), env({ HUBSPOT_ACCESS_TOKEN: "" }));
    expect([noToken.exitCode, noToken.stderr]).toEqual([2, expect.stringContaining("contract contact_engagement_to_hubspot: set HUBSPOT_ACCESS_TOKEN")]);

    const missingColumn = await copyArtifacts({
      manifest: (m) => (m.nodes["model.activation_integration_tests.contact_engagement"].config.meta.activation[0].fields.favourite_colour = "color"),
    });
    const columnRun = await runCli(syncArgs(missingColumn), env());
    expect(columnRun.exitCode).toBe(2);
    expect(columnRun.stderr).toContain("fields.favourite_colour: column favourite_colour");

    const unknown = await runCli(syncArgs(integrationBuild().targetPath, "--select", "nope"), env());
    expect([unknown.exitCode, unknown.stderr]).toEqual([2, expect.stringContaining("--select names no contract: nope")]);
    expect(emulator.calls()).toEqual([]);
  });

  it("a mapping to a property HubSpot does not have fails that contract before any write", async () => {
    const bare = await startHubSpotEmulator({ accessToken: TOKEN });
    try {
      const run = await runCli(syncArgs(integrationBuild().targetPath, "--select", "contact_engagement_to_hubspot"), env({ HUBSPOT_BASE_PATH: bare.url }));
      expect(run.exitCode).toBe(2);
      expect(run.stdout).toContain("fields: plan_tier is not a field of HubSpot contacts");
      expect(bare.calls().filter((c) => c.method !== "GET")).toEqual([]);
      expect(bare.records("contacts")).toEqual([]);
      // The run log closes the run as failed, with the reason (no row left `running`).
      const runLog = await queryDuckDB(duckdbPath, `select status, stop_reason, rows_created, finished_at from "integration_tests"."main"."activation_run_log"`);
      expect(runLog).toEqual([expect.objectContaining({ status: "failed", stop_reason: expect.stringContaining("plan_tier is not a field of HubSpot contacts"), rows_created: 0n })]);
      expect(runLog[0]!.finished_at).not.toBeNull();
    } finally {
      await bare.close();
    }
  });

  it("usage errors and help", async () => {
    // No --project-dir: as dbt, the working directory or a parent with dbt_project.yml; "/" has none.
    const missing = await runCli(["sync"], {}, "/");
    expect([missing.exitCode, missing.stderr]).toEqual([2, expect.stringContaining("dbt_project.yml not found in / (--project-dir names the dbt project")]);
    const help = await runCli(["sync", "--help"]);
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toContain("Exit codes:");
    // Every variable the sync reads is named, tuning as well as credentials.
    for (const name of ["DBT_CLOUD_API_TOKEN", "DBT_ACTIVATION_TARGET_TYPE", "HUBSPOT_ACCESS_TOKEN", "SALESFORCE_ACCESS_TOKEN", "SALESFORCE_BULK_THRESHOLD", "DBT_ACTIVATION_PAUSE", "DBT_ACTIVATION_LEASE_TTL_MS", "DBT_ACTIVATION_PLAN_PARTITION_ROWS"]) {
      expect(help.stdout).toContain(name);
    }
  });
});
