/** The gate against artifacts of real dbt invocations of integration_tests on DuckDB. */
import { copyFile, mkdtemp } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it, inject } from "vitest";
import { readManifest, readRunResults, type Manifest, type RunResults } from "../src/dbt/artifacts.ts";
import { checkInvocation, createGate } from "../src/gate/gate.ts";
import { BadInputError } from "../src/errors.ts";
import { dbt } from "../scripts/dbt.ts";
import { integrationBuild } from "./support/cli.ts";

const ENGAGEMENT = "model.activation_integration_tests.contact_engagement";
const HEALTH = "model.activation_integration_tests.account_health";

async function load(targetPath: string): Promise<{ manifest: Manifest; runResults: RunResults; manifestPath: string; runResultsPath: string }> {
  const manifestPath = join(targetPath, "manifest.json");
  const runResultsPath = join(targetPath, "run_results.json");
  return { manifest: await readManifest(manifestPath), runResults: await readRunResults(runResultsPath), manifestPath, runResultsPath };
}

describe("gate on a dbt build", () => {
  it("passes the model whose tests all passed and holds back the one whose test failed, naming it", async () => {
    const artifacts = await load(integrationBuild().targetPath);
    expect(() => checkInvocation(artifacts)).not.toThrow();
    const gate = createGate(artifacts.manifest, artifacts.runResults);

    const engagement = gate.verdictFor(ENGAGEMENT);
    expect(engagement.passed).toBe(true);
    expect(engagement.checks.filter((c) => c.kind === "test").map((c) => c.status)).toEqual(["pass", "pass", "pass", "pass"]);
    expect(engagement.checks.find((c) => c.kind === "model")?.status).toBe("success");

    const health = gate.verdictFor(HEALTH);
    expect(health.passed).toBe(false);
    expect(health.reasons).toEqual(["test not_null_account_health_domain: fail (1 failing row)"]);
  });

  it("treats a missing test result as not verified, and warn as not passed", async () => {
    const artifacts = await load(integrationBuild().targetPath);
    const results = artifacts.runResults.results.filter((r) => !r.unique_id.includes("unique_contact_engagement_email"));
    const warned = results.map((r) => (r.unique_id.includes("not_null_contact_engagement_email") ? { ...r, status: "warn" } : r));
    const verdict = createGate(artifacts.manifest, { ...artifacts.runResults, results: warned }).verdictFor(ENGAGEMENT);
    expect(verdict.passed).toBe(false);
    expect([...verdict.reasons].sort()).toEqual([
      "test not_null_contact_engagement_email: warn",
      "test unique_contact_engagement_email: no result in this invocation (not verified)",
    ]);
  });

  it("holds back a model that has no tests, and one whose model result errored", async () => {
    const artifacts = await load(integrationBuild().targetPath);
    const manifest: Manifest = {
      ...artifacts.manifest,
      nodes: Object.fromEntries(Object.entries(artifacts.manifest.nodes).filter(([, n]) => !(n.resource_type === "test" && n.attached_node === ENGAGEMENT))),
    };
    expect(createGate(manifest, artifacts.runResults).verdictFor(ENGAGEMENT).reasons).toEqual([
      "model contact_engagement has no tests: nothing in this invocation proves it",
    ]);
    const errored = artifacts.runResults.results.map((r) => (r.unique_id === ENGAGEMENT ? { ...r, status: "error", message: "Catalog Error: boom\nmore" } : r));
    const verdict = createGate(artifacts.manifest, { ...artifacts.runResults, results: errored }).verdictFor(ENGAGEMENT);
    expect(verdict.reasons).toEqual(["model contact_engagement: error: Catalog Error: boom"]);
  });
});

describe("gate across real dbt commands", () => {
  let scratch: string;
  let duckdbPath: string;
  beforeAll(async () => {
    scratch = await mkdtemp(join(inject("scratchRoot"), "gate-"));
    duckdbPath = join(scratch, "copy.duckdb");
    await copyFile(integrationBuild().duckdbPath, duckdbPath);
  });

  it("refuses run_results written by a command that runs no tests (dbt run)", async () => {
    const targetPath = join(scratch, "run");
    expect((await dbt(["run", "--select", "contact_engagement"], { targetPath, duckdbPath })).exitCode).toBe(0);
    const artifacts = await load(targetPath);
    expect(() => checkInvocation(artifacts)).toThrow(BadInputError);
    expect(() => checkInvocation(artifacts)).toThrow(/written by `dbt run`, which does not run the models' tests/);
  });

  it("accepts dbt test for the models whose tests ran in it, and refuses artifacts of two invocations", async () => {
    const targetPath = join(scratch, "test");
    expect((await dbt(["test", "--select", "contact_engagement"], { targetPath, duckdbPath })).exitCode).toBe(0);
    const artifacts = await load(targetPath);
    expect(() => checkInvocation(artifacts)).not.toThrow();
    const gate = createGate(artifacts.manifest, artifacts.runResults);
    expect(gate.verdictFor(ENGAGEMENT)).toMatchObject({ passed: true, reasons: [] });
    expect(gate.verdictFor(HEALTH).reasons).toEqual(["none of the 4 tests on model account_health ran in this `dbt test` invocation (not verified)"]);

    const build = await load(integrationBuild().targetPath);
    const mixed = { ...build, runResults: artifacts.runResults, runResultsPath: artifacts.runResultsPath };
    expect(() => checkInvocation(mixed)).toThrow(/come from different dbt invocations/);
  });
});
