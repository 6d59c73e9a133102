/**
 * `sync --dbt-cloud-run` / `--dbt-cloud-job`: the artifacts of a real dbt build (DuckDB and PostgreSQL), served by the
 * dbt Cloud emulator as a job run's steps, read by the real CLI, synced to the HubSpot emulator.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { integrationProject } from "../../scripts/dbt.ts";
import { cloudSteps } from "../../emulators/dbt-cloud/index.ts";
import { runCli } from "../support/cli.ts";
import { ENGINES, integrationEngine } from "../support/engines.ts";
import { useDbtCloudEmulator, useHubSpotEmulator } from "../support/emulators.ts";

const TOKEN = "cloud-hubspot-token";
const CONTRACT = "contact_engagement_to_hubspot";
const hubspot = useHubSpotEmulator({ accessToken: TOKEN });
const cloud = useDbtCloudEmulator();

describe.each(ENGINES)("dbt Cloud artifacts on %s", (engineName) => {
  const engine = integrationEngine(engineName);

  /** A job run as dbt Cloud keeps it: setup steps, `dbt build` (errored: one test failed), then `dbt docs generate`. */
  async function addBuildRun(id: number, jobId: number, status = 20): Promise<void> {
    const manifest = await readFile(join(engine.targetPath(), "manifest.json"), "utf8");
    const runResults = await readFile(join(engine.targetPath(), "run_results.json"), "utf8");
    // The docs step wrote run_results.json last: a sync that read the run's last step would be refused by the gate.
    const docs = JSON.parse(runResults);
    docs.args.which = "generate";
    docs.metadata.invocation_id = "docs-invocation";
    docs.results = [];
    const docsManifest = JSON.parse(manifest);
    docsManifest.metadata.invocation_id = "docs-invocation";
    cloud.addRun({
      id,
      jobId,
      status,
      steps: cloudSteps([
        { command: "dbt build --select +tag:activation", status: 20, artifacts: { "manifest.json": manifest, "run_results.json": runResults } },
        { command: "dbt docs generate", status: 10, artifacts: { "manifest.json": JSON.stringify(docsManifest), "run_results.json": JSON.stringify(docs) } },
      ]),
    });
  }

  const sync = (args: string[], extra: Record<string, string> = {}) =>
    runCli(["sync", "--project-dir", integrationProject, "--profiles-dir", integrationProject, ...engine.args, ...args], {
      ...engine.env(),
      ...hubspot.cliEnv(),
      DBT_CLOUD_ACCOUNT_ID: String(cloud.accountId),
      DBT_CLOUD_API_TOKEN: cloud.token,
      DBT_CLOUD_HOST: cloud.url,
      ...extra,
    });

  it("reads the build step's artifacts (not the last step's), syncs what they prove, then a job's newest finished run across pages", async () => {
    await addBuildRun(101, 7);
    const first = await sync(["--dbt-cloud-run", "101", "--json"]);
    expect(first.exitCode, first.stderr).toBe(3);
    const report = JSON.parse(first.stdout);
    expect(report.command).toBe("build");
    const synced = report.contracts.find((c: { contract: string }) => c.contract === CONTRACT);
    expect(synced.status).toBe("synced");
    expect(synced.counts.created).toBeGreaterThan(10);
    expect(hubspot.records("contacts")).toHaveLength(synced.counts.created);
    expect(report.contracts.find((c: { contract: string }) => c.contract === "account_health_to_hubspot").status).toBe("skipped");
    // The run with its steps, then both artifacts of step 4 (the build): never step 5, never a step-less read.
    const artifactCalls = cloud.calls().filter((c) => c.path.includes("/artifacts/"));
    expect(artifactCalls.map((c) => `${c.path.split("/artifacts/")[1]}?step=${c.query.step}`).sort()).toEqual(["manifest.json?step=4", "run_results.json?step=4"]);
    expect(cloud.calls()[0]).toMatchObject({ path: `/api/v2/accounts/${cloud.accountId}/runs/101/`, status: 200 });

    // The job's newest runs are still going (120 of them: two pages): its newest finished run is 101, already synced.
    for (let id = 200; id < 320; id += 1) cloud.addRun({ id, jobId: 7, status: 3, steps: cloudSteps([{ command: "dbt build", status: 3 }]) });
    cloud.addRun({ id: 90, jobId: 7, status: 10, steps: cloudSteps([{ command: "dbt build", status: 10 }]) });
    cloud.addRun({ id: 400, jobId: 8, status: 10, steps: cloudSteps([{ command: "dbt build", status: 10 }]) });
    const calls = hubspot.calls().length;
    const again = await sync(["--dbt-cloud-job", "7", "--json"]);
    expect(again.exitCode, again.stderr).toBe(3);
    const second = JSON.parse(again.stdout).contracts.find((c: { contract: string }) => c.contract === CONTRACT);
    expect(second.counts).toMatchObject({ created: 0, updated: 0, unchanged: synced.counts.created });
    expect(hubspot.calls().length).toBe(calls);
    const pages = cloud.calls().filter((c) => c.path.endsWith("/runs/"));
    expect(pages.map((c) => c.query.offset)).toEqual(["0", "100"]);
    expect(pages.every((c) => c.query.job_definition_id === "7" && c.query.order_by === "-id")).toBe(true);
  });

  it("retries 503 and 429 from dbt Cloud", async () => {
    await addBuildRun(101, 7);
    cloud.failNext(2, 503);
    const retried = await sync(["--dbt-cloud-run", "101", "--select", CONTRACT]);
    expect(retried.exitCode, retried.stderr).toBe(0);
    expect(cloud.calls().slice(0, 3).map((c) => c.status)).toEqual([503, 503, 200]);
    cloud.failNext(1, 429);
    expect((await sync(["--dbt-cloud-run", "101", "--select", CONTRACT])).exitCode).toBe(0);
    cloud.failNext(10, 503);
    const down = await sync(["--dbt-cloud-run", "101", "--select", CONTRACT]);
    expect(down.exitCode).toBe(2);
    expect(down.stderr).toContain("dbt Cloud did not answer run 101 after 5 attempts: 503 Service unavailable");
  });

  it("says clearly: a wrong token, another account, a run in progress, a run whose build never ran, no build step, an unknown run", async () => {
    await addBuildRun(101, 7);
    const writes = hubspot.calls().length;

    const wrongToken = await sync(["--dbt-cloud-run", "101"], { DBT_CLOUD_API_TOKEN: "dbtc_wrong_secret_token" });
    expect(wrongToken.exitCode).toBe(2);
    expect(wrongToken.stderr).toContain("dbt Cloud refused the API token (401 Invalid token.): check DBT_CLOUD_API_TOKEN");
    expect(wrongToken.stderr + wrongToken.stdout).not.toContain("dbtc_wrong_secret_token");

    const otherAccount = await sync(["--dbt-cloud-run", "101"], { DBT_CLOUD_ACCOUNT_ID: "999" });
    expect(otherAccount.exitCode).toBe(2);
    expect(otherAccount.stderr).toMatch(/403 .*no access to account 999/);

    cloud.addRun({ id: 102, jobId: 7, status: 3, steps: cloudSteps([{ command: "dbt build", status: 3 }]) });
    const running = await sync(["--dbt-cloud-run", "102"]);
    expect(running.exitCode).toBe(2);
    expect(running.stderr).toContain("dbt Cloud run 102 is still Running: sync it once it has finished");

    const deps = cloudSteps([{ command: "dbt build", status: 1 }]);
    deps[2]!.status = 20;
    cloud.addRun({ id: 103, jobId: 7, status: 20, steps: deps });
    const failed = await sync(["--dbt-cloud-run", "103"]);
    expect(failed.exitCode).toBe(2);
    expect(failed.stderr).toMatch(/dbt Cloud run 103 ended Error before its step 4 \(Invoke dbt with `dbt build`\) ran to the end \(Queued\): nothing is proven .*3\. Invoke dbt with `dbt deps` \(Error\)/);

    cloud.addRun({ id: 104, jobId: 7, status: 10, steps: cloudSteps([{ command: "dbt run", status: 10 }]) });
    const noBuild = await sync(["--dbt-cloud-run", "104"]);
    expect(noBuild.exitCode).toBe(2);
    expect(noBuild.stderr).toContain("dbt Cloud run 104 has no dbt build or dbt test step: nothing in it proves a contract");

    const unknown = await sync(["--dbt-cloud-run", "555"]);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toMatch(/dbt Cloud has no run 555 \(404/);

    const unset = await sync(["--dbt-cloud-run", "101"], { DBT_CLOUD_ACCOUNT_ID: "" });
    expect(unset.exitCode).toBe(2);
    expect(unset.stderr).toContain("DBT_CLOUD_ACCOUNT_ID is not set: --dbt-cloud-run needs it");
    const both = await sync(["--dbt-cloud-run", "101", "--target-path", "x"]);
    expect(both.exitCode).toBe(2);
    for (const r of [wrongToken, otherAccount, running, failed, noBuild, unknown, unset]) expect(r.stderr).not.toMatch(/\n\s+at /);
    // None of the refused runs wrote anything.
    expect(hubspot.calls().length).toBe(writes);
  });
});
