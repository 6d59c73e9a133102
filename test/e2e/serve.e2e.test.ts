/**
 * `serve`: the real CLI as a webhook server, deliveries from the dbt Cloud emulator's webhook builder (signed,
 * unsigned, tampered, stale, replayed, other events), runs read from the dbt Cloud emulator, rows to HubSpot's.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { integrationProject } from "../../scripts/dbt.ts";
import { cloudSteps, webhookDelivery } from "../../emulators/dbt-cloud/index.ts";
import { startCli } from "../support/cli.ts";
import { ENGINES, integrationEngine, type IntegrationEngine } from "../support/engines.ts";
import { useDbtCloudEmulator, useHubSpotEmulator } from "../support/emulators.ts";

const TOKEN = "serve-hubspot-token";
const SECRET = "whsec-serve-test-secret";
const CONTRACT = "contact_engagement_to_hubspot";
const hubspot = useHubSpotEmulator({ accessToken: TOKEN });
const cloud = useDbtCloudEmulator();

async function addRun(engine: IntegrationEngine, id: number): Promise<void> {
  const manifest = await readFile(join(engine.targetPath(), "manifest.json"), "utf8");
  const runResults = await readFile(join(engine.targetPath(), "run_results.json"), "utf8");
  cloud.addRun({ id, jobId: 7, status: 20, steps: cloudSteps([{ command: "dbt build", status: 20, artifacts: { "manifest.json": manifest, "run_results.json": runResults } }]) });
}

/** The server as a child process; resolves once it prints its URL. */
async function startServer(engine: IntegrationEngine) {
  const child = startCli(["serve", "--project-dir", integrationProject, "--profiles-dir", integrationProject, "--port", "0", ...engine.args], {
    ...engine.env(),
    ...hubspot.cliEnv(),
    DBT_CLOUD_ACCOUNT_ID: String(cloud.accountId),
    DBT_CLOUD_API_TOKEN: cloud.token,
    DBT_CLOUD_HOST: cloud.url,
    DBT_CLOUD_WEBHOOK_SECRET: SECRET,
  });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      const match = /listening on (http:\/\/[^/\s]+)/.exec(out);
      if (match) resolve(match[1]!);
    });
    void child.then((r) => reject(new Error(`serve exited ${r.exitCode}: ${stderr}`)));
  });
  const post = (delivery: { body: string; headers: Record<string, string> }) =>
    fetch(`${url}/webhooks/dbt-cloud`, { method: "POST", body: delivery.body, headers: delivery.headers }).then(async (r) => ({ status: r.status, body: (await r.json()) as Record<string, unknown> }));
  const health = async () => (await (await fetch(`${url}/healthz`)).json()) as Record<string, unknown>;
  /** Waits until the server has no run queued or in progress and `done(health)` holds. */
  const settle = async (done: (h: Record<string, unknown>) => boolean) => {
    for (let i = 0; i < 600; i += 1) {
      const h = await health();
      if (h.queued === 0 && h.processing === null && done(h)) return h;
      await delay(200);
    }
    throw new Error(`serve did not settle: ${JSON.stringify(await health())}\n${stderr}`);
  };
  return { child, url, post, health, settle, stderr: () => stderr };
}

describe.each(ENGINES)("serve on %s", (engineName) => {
  const engine = integrationEngine(engineName);

  it("syncs a signed job.run.completed once, refuses unsigned, tampered, stale and foreign deliveries, and stops gracefully", async () => {
    await addRun(engine, 101);
    const server = await startServer(engine);
    expect(await server.health()).toMatchObject({ status: "ok", queued: 0, processing: null });
    const run = { id: 101, jobId: 7, status: 20 };
    const account = cloud.accountId;

    const unsigned = await server.post(webhookDelivery(run, { accountId: account }));
    expect(unsigned).toMatchObject({ status: 401, body: { error: "unsigned delivery (no Authorization header)" } });
    const tampered = webhookDelivery(run, { accountId: account, secret: SECRET });
    expect((await server.post({ ...tampered, body: tampered.body.replace('"runId":"101"', '"runId":"102"') })).status).toBe(401);
    const wrongSecret = await server.post(webhookDelivery(run, { accountId: account, secret: "not-the-secret" }));
    expect(wrongSecret).toMatchObject({ status: 401, body: { error: "bad signature" } });
    const stale = await server.post(webhookDelivery(run, { accountId: account, secret: SECRET, timestamp: new Date(Date.now() - 3_600_000) }));
    expect(stale.status).toBe(401);
    expect(String(stale.body.error)).toMatch(/^stale delivery/);
    expect((await server.post(webhookDelivery(run, { accountId: 999, secret: SECRET }))).status).toBe(403);
    expect((await server.post(webhookDelivery(run, { accountId: account, secret: SECRET, eventType: "job.run.started" }))).body).toEqual({ ignored: "event job.run.started" });
    expect(hubspot.calls()).toEqual([]);
    expect(cloud.calls()).toEqual([]);

    // The signed delivery is queued at once; dbt Cloud's retry of it while queued is a duplicate.
    const delivery = webhookDelivery(run, { accountId: account, secret: SECRET });
    expect(await server.post(delivery)).toMatchObject({ status: 202, body: { queued: true, runId: "101" } });
    await server.post(delivery);
    const first = await server.settle((h) => h.synced === 1);
    expect(first).toMatchObject({ rejected: 5, failed: 0 });
    const created = hubspot.records("contacts").length;
    expect(created).toBeGreaterThan(10);
    expect(hubspot.records("companies")).toEqual([]);

    // A replay after it was synced (a fresh, validly signed delivery of the same run): claimed already, nothing sent.
    const calls = hubspot.calls().length;
    expect((await server.post(webhookDelivery(run, { accountId: account, secret: SECRET }))).status).toBe(202);
    const replayed = await server.settle((h) => Number(h.duplicates) >= 2);
    expect(replayed.synced).toBe(1);
    expect(hubspot.calls().length).toBe(calls);

    // Two more runs delivered at once: one after the other, each proven again, nothing to change.
    await addRun(engine, 102);
    await addRun(engine, 103);
    const both = await Promise.all([102, 103].map((id) => server.post(webhookDelivery({ id, jobId: 7, status: 20 }, { accountId: account, secret: SECRET }))));
    expect(both.map((r) => r.status)).toEqual([202, 202]);
    await server.settle((h) => h.synced === 3);
    expect(hubspot.records("contacts")).toHaveLength(created);
    expect(hubspot.calls().length).toBe(calls);

    server.child.kill("SIGTERM");
    const exit = await server.child;
    expect(exit.exitCode, server.stderr()).toBe(0);
    expect(server.stderr()).toContain("SIGTERM: finishing the batch in flight, then stopping");
    const rows = await engine.query(`select run_id, status, exit_code from ${engine.ledgerTable("activation_cloud_runs")} order by run_id`);
    expect(rows.map((r) => [r.run_id, r.status, Number(r.exit_code)])).toEqual([["101", "done", 3], ["102", "done", 3], ["103", "done", 3]]);
    const runLog = await engine.query(`select count(*) as n from ${engine.ledgerTable("activation_run_log")} where contract_name = '${CONTRACT}'`);
    expect(Number(runLog[0]!.n)).toBe(3);
  });

  it("a server stopped with a run accepted resumes it on the next start: every row lands once", async () => {
    await addRun(engine, 201);
    const server = await startServer(engine);
    expect((await server.post(webhookDelivery({ id: 201, jobId: 7, status: 20 }, { accountId: cloud.accountId, secret: SECRET }))).status).toBe(202);
    // Stop at once: the run is queued, syncing or done, whichever the timing; none of them may lose or repeat a row.
    server.child.kill("SIGTERM");
    expect((await server.child).exitCode).toBe(0);
    const again = await startServer(engine);
    await again.settle(() => true);
    again.child.kill("SIGTERM");
    expect((await again.child).exitCode).toBe(0);
    const [row] = await engine.query(`select status from ${engine.ledgerTable("activation_cloud_runs")} where run_id = '201'`);
    expect(row?.status).toBe("done");
    const records = hubspot.records("contacts");
    expect(records.length).toBeGreaterThan(10);
    expect(new Set(records.map((r) => String(r.properties.email))).size).toBe(records.length);
    const ledger = await engine.query(`select count(*) as n from ${engine.ledgerTable("activation_ledger")} where contract_name = '${CONTRACT}' and status = 'synced'`);
    expect(Number(ledger[0]!.n)).toBe(records.length);
  });
});
