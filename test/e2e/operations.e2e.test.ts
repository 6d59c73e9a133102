/**
 * Operations through the real CLI on the integration build, on DuckDB and on PostgreSQL: plan (dry run), pause /
 * resume / status, rollback, replay, reconcile, and two syncers on one contract.
 */
import { Client } from "@hubspot/api-client";
import { describe, expect, it } from "vitest";
import { startHubSpotEmulator } from "../../emulators/hubspot/index.ts";
import { HUBSPOT_DOCUMENTED_LIMITS } from "../../src/destinations/hubspot/limits.ts";
import { integrationPortalProperties } from "../../scripts/hubspot-portal.ts";
import { integrationProject } from "../../scripts/dbt.ts";
import { runCli, startCli, syncArgs } from "../support/cli.ts";
import { ENGINES, integrationEngine } from "../support/engines.ts";
import { useHubSpotEmulator } from "../support/emulators.ts";

const TOKEN = "ops-token";
const CONTRACT = "contact_engagement_to_hubspot";
const emulator = useHubSpotEmulator({ accessToken: TOKEN });

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe.each(ENGINES)("on %s", (engineName) => {
  const engine = integrationEngine(engineName, { mutable: [CONTRACT] });
  function env(extra: Record<string, string> = {}): Record<string, string> {
    return { ...emulator.cliEnv(), ...engine.env(), USER: "ops-tester", ...extra };
  }
  const connection = ["--project-dir", integrationProject, "--profiles-dir", integrationProject, ...engine.args];
  const sync = (...extra: string[]) => syncArgs(engine.targetPath(), "--select", CONTRACT, ...extra, ...engine.args);

  describe("plan", () => {
    it("shows rows per class and samples, needs no credentials, and writes nothing", async () => {
      const run = await runCli(["plan", ...syncArgs(engine.targetPath()).slice(1), "--json", ...engine.args], env({ HUBSPOT_ACCESS_TOKEN: "" }));
      expect(run.exitCode, run.stderr).toBe(3);
      const [health, braze, engagement] = JSON.parse(run.stdout).contracts;
      expect(health.status).toBe("skipped");
      expect(braze).toMatchObject({ contract: "contact_engagement_to_braze", status: "skipped" }); // paused in the fixture
      expect(engagement).toMatchObject({ status: "planned", wouldStop: [] });
      expect(engagement.plan).toMatchObject({ create: 16, update: 0, unchanged: 0, removed: 0, eligible: 16 });
      expect(engagement.samples).toHaveLength(5);
      expect(engagement.samples[0]).toMatchObject({ change: "create", key: "amara.singh@fathomrobotics.ai", fields: { firstname: "Amara", engagement_band: "high" } });
      expect(emulator.calls()).toEqual([]);
      expect(await engine.query(`select count(*) as n from ${engine.ledgerTable("activation_run_log")}`)).toEqual([{ n: 0n }]);
    });

    it("says what would stop the sync", async () => {
      const target = await engine.copyArtifacts({
        manifest: (m) => (m.nodes["model.activation_integration_tests.contact_engagement"].config.meta.activation[0].gates.min_rows = 1000),
      });
      const run = await runCli(["plan", ...syncArgs(target, "--select", CONTRACT).slice(1), ...engine.args], env());
      expect(run.exitCode).toBe(6);
      expect(run.stdout).toContain("would stop: gates.min_rows: 16 eligible rows, fewer than 1000");
      const real = await runCli(syncArgs(target, "--select", CONTRACT, ...engine.args), env());
      expect(real.exitCode).toBe(6);
      expect(real.stdout).toContain("STOPPED  contact_engagement_to_hubspot");
      expect(emulator.calls()).toEqual([]);
      const [log] = await engine.query(`select status, stop_reason from ${engine.ledgerTable("activation_run_log")}`);
      expect(log).toEqual({ status: "stopped", stop_reason: "gates.min_rows: 16 eligible rows, fewer than 1000" });
    });
  });

  describe("kill switch and status", () => {
    it("pause stops the contract (zero calls) until resume, and status reports it", async () => {
      expect((await runCli(["pause", ...connection, "--contract", CONTRACT], env())).exitCode).toBe(2); // a reason is required
      expect((await runCli(["pause", ...connection, "--contract", CONTRACT, "--reason", "scores look wrong"], env())).exitCode).toBe(0);
      const paused = await runCli(sync(), env());
      expect(paused.exitCode).toBe(3);
      expect(paused.stdout).toContain("paused by ops-tester: scores look wrong (dbt-activation resume)");
      expect(emulator.calls()).toEqual([]);
      const status = await runCli(["status", ...connection, "--json"], env());
      expect(JSON.parse(status.stdout).paused).toEqual([expect.objectContaining({ contract: CONTRACT, reason: "scores look wrong", actor: "ops-tester" })]);
      // The held run is in the run log with why (it passed the gate), and status says the kill switch held it.
      const held = await engine.query(`select status, gate_passed, stop_reason from ${engine.ledgerTable("activation_run_log")}`);
      expect(held).toEqual([{ status: "held", gate_passed: true, stop_reason: expect.stringContaining("scores look wrong") }]);
      expect((await runCli(["status", ...connection], env())).stdout).toMatch(/contact_engagement_to_hubspot: PAUSED; last run held by the kill switch at .*: paused by ops-tester: scores look wrong/);

      expect((await runCli(["resume", ...connection, "--contract", CONTRACT], env())).exitCode).toBe(0);
      expect((await runCli(sync(), env())).exitCode).toBe(0);
      expect(emulator.records("contacts")).toHaveLength(16);
      const after = await runCli(["status", ...connection], env());
      expect(after.stdout).toMatch(/contact_engagement_to_hubspot: active; last run success at .* \(16 created, 0 updated, 0 unchanged, 0 failed\); 16 rows in the ledger; 0 records in dead letters/);
    });

    it("the environment variable pauses with no destination call (the held run is logged)", async () => {
      const run = await runCli(sync(), env({ DBT_ACTIVATION_PAUSE: CONTRACT }));
      expect([run.exitCode, run.stdout.includes("paused by DBT_ACTIVATION_PAUSE")]).toEqual([3, true]);
      expect(emulator.calls()).toEqual([]);
    });
  });

  describe("operators during a run", () => {
    /**
     * 2,896 rows (the build's 16, each copied 180 times under new emails) to a portal that answers slowly and allows
     * 4 calls per 10 s: 29 batches over more than a minute, so other processes act while the sync sends.
     */
    async function manyRows(): Promise<number> {
      const copy = engine.model("bulk_copy");
      await engine.mutate(`create table ${copy} as select m.*, g.i as bulk_i from ${engine.model(CONTRACT)} as m cross join generate_series(1, 180) as g(i)`);
      await engine.mutate(`update ${copy} set email = 'bulk' || cast(bulk_i as varchar) || '-' || email, _activation_row_hash = md5('bulk' || cast(bulk_i as varchar) || email)`);
      await engine.mutate(`alter table ${copy} drop column bulk_i`);
      await engine.mutate(`insert into ${engine.model(CONTRACT)} select * from ${copy}`);
      await engine.mutate(`drop table ${copy}`);
      const [row] = await engine.query(`select count(*) as n from ${engine.model(CONTRACT)}`);
      return Number(row!.n);
    }

    it("pause from another process stops the running sync before its next batch, and status shows the run meanwhile", async () => {
      const rows = await manyRows();
      expect(rows).toBe(16 * 181);
      const slow = await startHubSpotEmulator({ accessToken: TOKEN, properties: integrationPortalProperties, latencyMs: 1_000, limits: { perTenSeconds: 4 } });
      const upserts = (): number => slow.calls().filter((c) => c.endpoint.endsWith("batch/upsert")).length;
      try {
        const running = startCli(sync("--json", "--allow-large-change", "--reason", "bulk"), env({ HUBSPOT_BASE_PATH: slow.url }));
        await until(() => upserts() > 0, 120_000);

        // status from another process: exit 0, the contract's run is going.
        const status = await runCli(["status", ...connection, "--json"], env());
        expect(status.exitCode, status.stderr).toBe(0);
        const during = JSON.parse(status.stdout);
        expect(during.contracts.find((c: { contract: string }) => c.contract === CONTRACT).lastRun).toMatchObject({ status: "running" });
        if (engineName === "duckdb") {
          // The database is the running sync's: status shows what that sync published, and says so.
          expect(during.publishedBy).toMatchObject({ command: "sync", shard: null });
          const text = await runCli(["status", ...connection], env());
          expect(text.stdout).toMatch(/a sync \(pid \d+ on .*\) holds the DuckDB database/);
          expect(text.stdout).toMatch(/contact_engagement_to_hubspot: active; running since .* \(\d+ created, 0 updated, 0 failed so far\)/);
          // A second shard cannot open the file: it fails at once and says how shards run on DuckDB.
          const shard = await runCli(sync("--shard", "1/2"), env({ HUBSPOT_BASE_PATH: slow.url }));
          expect(shard.exitCode).toBe(7);
          expect(shard.stderr).toContain("Shards of a contract cannot run side by side on one DuckDB file");
          expect(shard.stderr).toContain("dbt-activation sync --shard 0/2 … && dbt-activation sync --shard 1/2 …");
        }

        const pause = await runCli(["pause", ...connection, "--contract", CONTRACT, "--reason", "stop mid-run"], env());
        expect(pause.exitCode, pause.stderr).toBe(0);
        const atPause = upserts();
        expect(atPause, "the pause came after the last batch: the test proves nothing").toBeLessThan(25);
        const done = await running;
        // Batches already leaving may land (at most one per slot in flight); no batch starts after the switch is seen.
        expect(upserts() - atPause).toBeLessThanOrEqual(HUBSPOT_DOCUMENTED_LIMITS.concurrency);
        expect(done.exitCode, done.stderr).toBe(4);
        const outcome = JSON.parse(done.stdout).contracts.find((c: { contract: string }) => c.contract === CONTRACT);
        expect(outcome).toMatchObject({ status: "synced", result: "paused", stopped: "paused by ops-tester: stop mid-run (dbt-activation resume)" });
        expect(outcome.counts.notSent).toBeGreaterThan(0);
        expect(outcome.counts.created + outcome.counts.notSent).toBe(rows);
        expect(slow.records("contacts")).toHaveLength(outcome.counts.created);

        const [log] = await engine.query(`select status, stop_reason from ${engine.ledgerTable("activation_run_log")}`);
        expect(log).toEqual({ status: "paused", stop_reason: "paused by ops-tester: stop mid-run (dbt-activation resume)" });
        const after = JSON.parse((await runCli(["status", ...connection, "--json"], env())).stdout);
        expect(after.publishedBy).toBeUndefined();
        expect(after.paused).toEqual([expect.objectContaining({ contract: CONTRACT, reason: "stop mid-run" })]);
        expect(after.contracts.find((c: { contract: string }) => c.contract === CONTRACT)).toMatchObject({ lastRun: { status: "paused", created: outcome.counts.created }, ledgerRows: outcome.counts.created });
        expect((await runCli(["resume", ...connection, "--contract", CONTRACT], env())).exitCode).toBe(0);
        expect(JSON.parse((await runCli(["status", ...connection, "--json"], env())).stdout).paused).toEqual([]);
      } finally {
        await slow.close();
      }
    }, 240_000);
  });

  describe("rollback and replay", () => {
    it("rollback restores the values sent before a run, and pauses the contract", async () => {
      expect((await runCli(sync(), env())).exitCode).toBe(0);
      // A later run changes every row (a bad model change): simulated by editing the built activation model.
      await engine.mutate(`update ${engine.model(CONTRACT)} set engagement_band = 'low', _activation_row_hash = md5(email || 'bad')`);
      const bad = await runCli(sync("--json", "--allow-large-change", "--reason", "test"), env());
      expect(bad.exitCode, bad.stderr).toBe(0);
      const badRun = JSON.parse(bad.stdout).contracts[0].runId as string;
      expect(emulator.findByProperty("contacts", "email", "amara.singh@fathomrobotics.ai")?.properties.engagement_band).toBe("low");

      const rollback = await runCli(["rollback", ...connection, "--target-dir", engine.targetPath(), "--contract", CONTRACT, "--run", badRun], env());
      expect(rollback.exitCode, rollback.stderr).toBe(0);
      expect(rollback.stdout).toContain("restored 16 records of run");
      expect(emulator.findByProperty("contacts", "email", "amara.singh@fathomrobotics.ai")?.properties.engagement_band).toBe("high");
      const next = await runCli(sync(), env());
      expect([next.exitCode, next.stdout.includes("rolled back run")]).toEqual([3, true]);
    });

    it("rollback leaves a record the run removed as it is: a row that left the eligible set gets none of its values back", async () => {
      const revoked = "amara.singh@fathomrobotics.ai";
      const target = await engine.copyArtifacts({
        manifest: (m) => (m.nodes["model.activation_integration_tests.contact_engagement"].config.meta.activation[0].destination.on_removed = "clear"),
      });
      const syncTo = (...extra: string[]) => runCli(syncArgs(target, "--select", CONTRACT, "--json", ...extra, ...engine.args), env());
      expect((await syncTo()).exitCode).toBe(0);
      // Her row changes once (so the ledger keeps what was sent before), then her consent is withdrawn.
      await engine.mutate(`update ${engine.model(CONTRACT)} set job_title = 'Changed', _activation_row_hash = md5('changed') where email = '${revoked}'`);
      expect((await syncTo()).exitCode).toBe(0);
      await engine.mutate(`delete from ${engine.model(CONTRACT)} where email = '${revoked}'`);
      await engine.mutate(`update ${engine.model(CONTRACT)} set job_title = 'Other', _activation_row_hash = md5('other') where email = 'zoe.kim@harborcoffee.com'`);
      const removal = await syncTo();
      const outcome = JSON.parse(removal.stdout).contracts[0];
      expect(outcome).toMatchObject({ status: "synced", counts: { removed: 1, updated: 1 } });
      expect(emulator.findByProperty("contacts", "email", revoked)?.properties.jobtitle).toBe("");

      const rollback = await runCli(["rollback", ...connection, "--target-dir", target, "--contract", CONTRACT, "--run", outcome.runId], env());
      expect(rollback.exitCode, rollback.stderr).toBe(0);
      expect(rollback.stdout).toContain("restored 1 records of run");
      // The updated record is restored; the cleared one stays cleared.
      expect(emulator.findByProperty("contacts", "email", "zoe.kim@harborcoffee.com")?.properties.jobtitle).not.toBe("Other");
      expect(emulator.findByProperty("contacts", "email", revoked)?.properties).toMatchObject({ jobtitle: "", firstname: "", engagement_band: "" });
    });

    it("replay resends dead letters after the destination is fixed", async () => {
      const narrow = await startHubSpotEmulator({ accessToken: TOKEN, properties: integrationPortalProperties, faults: { recordRejectRate: 1, seed: 1 } });
      try {
        const failed = await runCli(sync(), env({ HUBSPOT_BASE_PATH: narrow.url }));
        expect(failed.exitCode).toBe(4);
        narrow.setFaults({});
        const replay = await runCli(["replay", ...connection, "--target-dir", engine.targetPath(), "--contract", CONTRACT], env({ HUBSPOT_BASE_PATH: narrow.url }));
        expect(replay.exitCode, replay.stderr).toBe(0);
        expect(replay.stdout).toMatch(/SYNCED {3}contact_engagement_to_hubspot .*: 16 eligible rows, 16 created, 0 updated, 0 unchanged, 0 failed/);
        expect(narrow.records("contacts")).toHaveLength(16);
        const [pending] = await engine.query(`select count(*) as n from ${engine.ledgerTable("activation_dead_letters")} where closed_at is null`);
        expect(pending).toEqual({ n: 0n });
      } finally {
        await narrow.close();
      }
    });
  });

  describe("reconcile", () => {
    it("writes the destination snapshot and classifies what drifted", async () => {
      expect((await runCli(sync(), env())).exitCode).toBe(0);
      const client = new Client({ accessToken: TOKEN, basePath: emulator.url });
      // A person edits one record, another is archived in HubSpot, and one eligible row changes in the warehouse.
      await client.crm.contacts.batchApi.upsert({ inputs: [{ id: "amara.singh@fathomrobotics.ai", idProperty: "email", properties: { firstname: "Amy" } }] });
      const grace = emulator.findByProperty("contacts", "email", "grace.obi@juniperschools.edu")!;
      await client.crm.contacts.batchApi.archive({ inputs: [{ id: grace.id }] });
      await engine.mutate(`update ${engine.model(CONTRACT)} set job_title = 'CTO', _activation_row_hash = md5('x') where email = 'zoe.kim@harborcoffee.com'`);

      const run = await runCli(["reconcile", ...connection, "--target-dir", engine.targetPath(), "--contract", CONTRACT, "--json"], env());
      expect(run.exitCode, run.stderr).toBe(4);
      const result = JSON.parse(run.stdout);
      expect(result).toMatchObject({ checked: 16, snapshotRows: 15, counts: { missing_in_destination: 1, value_mismatch: 1, stale: 1, suppressed_but_present: 0, in_dead_letters: 0 } });
      expect(result.samples).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ key: "amara.singh@fathomrobotics.ai", discrepancy: "value_mismatch", detail: "destination differs from what was sent on firstname" }),
          expect.objectContaining({ key: "grace.obi@juniperschools.edu", discrepancy: "missing_in_destination" }),
          expect.objectContaining({ key: "zoe.kim@harborcoffee.com", discrepancy: "stale" }),
        ]),
      );
      // 15 records and the capture's marker row (no key): a capture that finds nothing still says it read.
      const [snapshot] = await engine.query(`select count(*) as n, count(sync_key) as keyed from ${engine.ledgerTable("activation_destination_snapshot")} where contract_name = '${CONTRACT}'`);
      expect(snapshot).toEqual({ n: 16n, keyed: 15n });
    });
  });

  describe("the lease of a runner that dies", () => {
    // A slow destination (each answer takes 45 s, longer than the test needs it) keeps the first runner busy, holding
    // the contract's lease until it is killed: with a 6 s answer, a second runner that took longer than that to start
    // on a loaded machine found the first one finished (exit 0, not 7).
    it("is renewed by a heartbeat while the runner lives, and frees the contract one TTL after it is killed", async () => {
      const slow = await startHubSpotEmulator({ accessToken: TOKEN, properties: integrationPortalProperties, latencyMs: 45_000 });
      try {
        // The heartbeat renews every quarter TTL: 5 s leaves room for a busy event loop on a loaded machine.
        const ttl = { DBT_ACTIVATION_LEASE_TTL_MS: "5000" };
        const first = startCli(sync("--json"), env({ HUBSPOT_BASE_PATH: slow.url, ...ttl }));
        await until(() => slow.calls().length > 0, 60_000); // the first runner holds the lease and waits on HubSpot
        await new Promise((r) => setTimeout(r, 6_000)); // longer than the TTL: only the heartbeat keeps the lease
        if (engineName === "postgres") {
          // DuckDB's file lock already turns a second process away; on PostgreSQL the renewed lease does.
          const second = await runCli(sync("--json"), env({ HUBSPOT_BASE_PATH: slow.url, ...ttl }));
          expect(second.exitCode, second.stderr).toBe(7);
          expect(second.stdout).toMatch(/another runner .* has been syncing this contract since/);
        }
        first.kill("SIGKILL");
        await first;
        const [lease] = await engine.query(`select acquired_at, expires_at from ${engine.ledgerTable("activation_leases")}`);
        const acquired = (lease!.acquired_at as Date).getTime();
        const expires = (lease!.expires_at as Date).getTime();
        expect(expires - acquired).toBeGreaterThan(5_000); // renewed after it was taken
        // Once the dead runner's lease has expired, the next run takes the contract and marks the dead run abandoned.
        await new Promise((r) => setTimeout(r, Math.max(0, expires - Date.now()) + 500));
        const next = await runCli(sync("--json"), env(ttl));
        expect(next.exitCode, next.stdout + next.stderr).toBe(0);
        const runs = await engine.query(`select status, stop_reason from ${engine.ledgerTable("activation_run_log")} order by started_at`);
        // On PostgreSQL the runner turned away left its own row (busy, with who held the lease).
        if (engineName === "postgres") expect(runs[1]).toMatchObject({ status: "busy", stop_reason: expect.stringMatching(/another runner .* has been syncing this contract since/) });
        expect(runs.map((r) => r.status)).toEqual(engineName === "postgres" ? ["abandoned", "busy", "success"] : ["abandoned", "success"]);
      } finally {
        await slow.close();
      }
    }, 180_000);
  });

  describe("two syncers on one contract", () => {
    it("exactly one writes; the other finds it busy or nothing left to do", async () => {
      const [a, b] = await Promise.all([runCli(sync("--json"), env()), runCli(sync("--json"), env())]);
      const codes = [a.exitCode, b.exitCode].sort();
      expect([[0, 0], [0, 7]]).toContainEqual(codes);
      const busy = [a, b].find((r) => r.exitCode === 7);
      // DuckDB: the database file's lock turns the second process away before it reads anything (stderr). PostgreSQL
      // has no such lock: the contract's lease decides, and the busy contract's outcome says who holds it.
      if (busy && engineName === "duckdb") expect(busy.stderr).toMatch(/is open in another process \(another sync, or dbt, is running\); nothing was done/);
      if (busy && engineName === "postgres") expect(busy.stdout).toMatch(/another runner .* has been syncing this contract since/);
      expect(emulator.calls().filter((c) => c.endpoint.endsWith("batch/upsert"))).toHaveLength(1);
      expect(emulator.records("contacts")).toHaveLength(16);
    });
  });
});
