/** The gate against artifacts of real dbt invocations of integration_tests on DuckDB. */
import { copyFile, mkdtemp } from "node:fs/promises";
import { join } from "node:path";
import { beforeAll, describe, expect, it, inject } from "vitest";
import { readManifest, readRunResults, type Manifest, type RunResults } from "../../src/dbt/artifacts.ts";
import { checkInvocation, checkRowsProof, createGate, reusedOnly } from "../../src/gate/gate.ts";
import { BadInputError } from "../../src/errors.ts";
import { dbt } from "../../scripts/dbt.ts";
import { integrationBuild } from "../support/cli.ts";

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

describe("gate: artifacts that prove nothing about the rows", () => {
  it("refuses a dbt build --empty (args.empty), naming the flag", async () => {
    const artifacts = await load(integrationBuild().targetPath);
    const empty = { ...artifacts, runResults: { ...artifacts.runResults, args: { ...artifacts.runResults.args, empty: true } } };
    expect(() => checkInvocation(empty)).toThrow(BadInputError);
    expect(() => checkInvocation(empty)).toThrow(/comes from `dbt build --empty`: every model was built from zero input rows/);
    // The real build says empty: false, and passes.
    expect(artifacts.runResults.args.empty).toBe(false);
    expect(() => checkRowsProof(artifacts)).not.toThrow();
  });

  it("refuses a dbt build --sample, and accepts sample: null", async () => {
    const artifacts = await load(integrationBuild().targetPath);
    const withSample = (sample: unknown) => ({ ...artifacts, runResults: { ...artifacts.runResults, args: { ...artifacts.runResults.args, sample } } });
    expect(() => checkRowsProof(withSample("3 days"))).toThrow(/--sample` \("3 days"\): the models read a sample of their inputs/);
    expect(() => checkRowsProof(withSample(null))).not.toThrow();
  });

  it("refuses run_results with two results for one node, naming the node and the count", async () => {
    const artifacts = await load(integrationBuild().targetPath);
    const results = artifacts.runResults.results;
    const model = results.find((r) => r.unique_id === ENGAGEMENT)!;
    const duplicated = { ...artifacts, runResults: { ...artifacts.runResults, results: [...results, { ...model, status: "error" }, { ...model }] } };
    try {
      checkInvocation(duplicated);
      expect.unreachable("duplicate results were accepted");
    } catch (error) {
      expect(error).toBeInstanceOf(BadInputError);
      expect((error as BadInputError).message).toBe("run_results.json holds more than one result for 1 node: which one proved it cannot be told");
      expect((error as BadInputError).details).toEqual([`${ENGAGEMENT}: 3 results`]);
    }
  });

  it("holds back a model deferred to another environment (--defer: defer_relation, no result here)", async () => {
    const artifacts = await load(integrationBuild().targetPath);
    const manifest = structuredClone(artifacts.manifest);
    manifest.nodes[ENGAGEMENT]!.defer_relation = { relation_name: '"prod"."main"."contact_engagement"', schema: "main", alias: "contact_engagement" };
    const results = artifacts.runResults.results.filter((r) => r.unique_id !== ENGAGEMENT);
    const verdict = createGate(manifest, { ...artifacts.runResults, results }).verdictFor(ENGAGEMENT);
    expect(verdict.passed).toBe(false);
    expect(verdict.reasons).toEqual(['model contact_engagement: not built by this invocation (deferred to "prod"."main"."contact_engagement", whose rows this invocation did not test)']);
    // Built here despite a defer_relation (selected in a --defer build): proven as usual.
    expect(createGate(manifest, artifacts.runResults).verdictFor(ENGAGEMENT).passed).toBe(true);
  });

  it("holds back a reused model, and tells reuse alone apart from a failure beside it", async () => {
    const artifacts = await load(integrationBuild().targetPath);
    const engagementTests = new Set(Object.values(artifacts.manifest.nodes).filter((n) => n.attached_node === ENGAGEMENT).map((n) => n.unique_id));
    // Fusion under state-aware orchestration: the model `reused`, its tests skipped (without `failures`).
    const reused = artifacts.runResults.results.map((r) =>
      r.unique_id === ENGAGEMENT ? { ...r, status: "reused", message: "Reused (no changes)" } : engagementTests.has(r.unique_id) ? { unique_id: r.unique_id, status: "skipped" } : r,
    );
    const verdict = createGate(artifacts.manifest, { ...artifacts.runResults, results: reused }).verdictFor(ENGAGEMENT);
    expect(verdict.passed).toBe(false);
    expect(verdict.reasons[0]).toBe(
      "model contact_engagement: reused from an earlier run (state-aware orchestration), not built by this invocation; proven only when the syncer gated the run that built its rows",
    );
    expect(reusedOnly(verdict)).toBe(true);
    const failing = reused.map((r, i) => (engagementTests.has(r.unique_id) && i === reused.findIndex((x) => engagementTests.has(x.unique_id)) ? { ...r, status: "fail", failures: 2 } : r));
    expect(reusedOnly(createGate(artifacts.manifest, { ...artifacts.runResults, results: failing }).verdictFor(ENGAGEMENT))).toBe(false);
    expect(reusedOnly(createGate(artifacts.manifest, artifacts.runResults).verdictFor(ENGAGEMENT))).toBe(false);
    expect(reusedOnly(createGate(artifacts.manifest, artifacts.runResults).verdictFor(HEALTH))).toBe(false);
  });

  it("a real dbt build --empty is refused", async () => {
    const scratch = await mkdtemp(join(inject("scratchRoot"), "gate-empty-"));
    const duckdbPath = join(scratch, "copy.duckdb");
    await copyFile(integrationBuild().duckdbPath, duckdbPath);
    const targetPath = join(scratch, "target");
    await dbt(["build", "--empty", "--select", "contact_engagement+"], { targetPath, duckdbPath });
    const artifacts = await load(targetPath);
    expect(artifacts.runResults.args.empty).toBe(true);
    expect(() => checkInvocation(artifacts)).toThrow(/`dbt build --empty`/);
  });
});
