/**
 * Contract edits between runs, through the real CLI against the HubSpot emulator, on DuckDB and on PostgreSQL. The
 * row hash covers the mapped values only, so two edits leave it unchanged: a field mapping change (a renamed `to`, a
 * changed `on_null`) must still reach every synced record, and a target change (another object, match field, list)
 * must be refused before anything is sent, since the ledger's record ids belong to the old target.
 */
import { Client } from "@hubspot/api-client";
import { afterEach, describe, expect, it } from "vitest";
import { startHubSpotEmulator, type HubSpotEmulator } from "../../emulators/hubspot/index.ts";
import { integrationProject } from "../../scripts/dbt.ts";
import { integrationPortalProperties } from "../../scripts/hubspot-portal.ts";
import { runCli, syncArgs } from "../support/cli.ts";
import { ENGINES, integrationEngine } from "../support/engines.ts";

const TOKEN = "retarget-token";
const CONTRACT = "contact_engagement_to_hubspot";
const NODE = "model.activation_integration_tests.contact_engagement";
const SOME = ["amara.singh@fathomrobotics.ai", "grace.obi@juniperschools.edu", "zoe.kim@harborcoffee.com"];
const OVERRIDE = ["--allow-large-change", "--reason", "contract remapped"];
let emulator: HubSpotEmulator | undefined;

afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

/** The portal of the integration tests, plus a `given_name` contact property and a custom object of people by email. */
async function start(): Promise<HubSpotEmulator> {
  const people = [
    { name: "email", type: "string" as const, hasUniqueValue: true },
    ...["firstname", "lastname", "jobtitle"].map((name) => ({ name, type: "string" as const })),
    ...integrationPortalProperties.contacts!,
  ];
  const properties = { ...integrationPortalProperties, contacts: [...integrationPortalProperties.contacts!, { name: "given_name", type: "string" as const }], p_people: people };
  emulator = await startHubSpotEmulator({ accessToken: TOKEN, properties });
  return emulator;
}

describe.each(ENGINES)("on %s", (engineName) => {
  const engine = integrationEngine(engineName, { mutable: [CONTRACT] });

  /** The integration contract with `edit` applied to it in a copy of the build's manifest. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests rewrite the contract JSON freely
  async function target(edit: (contract: Record<string, any>) => void): Promise<string> {
    return engine.copyArtifacts({ manifest: (m) => edit(m.nodes[NODE].config.meta.activation[0]) });
  }

  async function cli(command: "sync" | "plan", targetDir: string, ...extra: string[]) {
    const args = syncArgs(targetDir, "--select", CONTRACT, "--json", ...extra, ...engine.args);
    const run = await runCli([command, ...args.slice(1)], { HUBSPOT_ACCESS_TOKEN: TOKEN, HUBSPOT_BASE_PATH: emulator!.url, ...engine.env() });
    return { ...run, outcome: run.stdout.startsWith("{") ? JSON.parse(run.stdout).contracts?.[0] : undefined };
  }
  const sync = (targetDir: string, ...extra: string[]) => cli("sync", targetDir, ...extra);

  const contacts = () => emulator!.records("contacts");

  describe("a field mapping change", () => {
    it("writes a renamed field to every synced record, shard by shard as a run killed halfway would, then goes quiet", async () => {
      await start();
      const first = await sync(await target(() => undefined));
      expect(first.exitCode, first.stderr).toBe(0);
      expect(first.outcome.counts).toMatchObject({ created: 16 });
      const renamed = await target((c) => (c.fields.first_name = { to: "given_name" }));

      // The plan names the field the remapping writes, and every row as an update (the values did not change).
      const plan = await cli("plan", renamed, ...OVERRIDE);
      expect(plan.outcome.plan).toMatchObject({ update: 16, unchanged: 0, create: 0 });
      expect(plan.outcome.fieldChanges).toEqual({ given_name: 16 });
      // The blast radius counts them: rewriting every record is a large change.
      const stopped = await sync(renamed);
      expect(stopped.outcome.status).toBe("stopped");
      expect(stopped.outcome.reasons.join(" ")).toMatch(/blast radius: 100\.0% of the 16 synced rows would change/);
      expect(contacts().filter((r) => r.properties.given_name)).toHaveLength(0);

      // Half the keys first (a shard; a run killed after some batches leaves the same ledger): only they get the field.
      const half = await sync(renamed, "--shard", "0/2", ...OVERRIDE);
      expect(half.exitCode, half.stderr).toBe(0);
      const done = half.outcome.counts.updated as number;
      expect(done).toBeGreaterThan(0);
      expect(done).toBeLessThan(16);
      expect(contacts().filter((r) => r.properties.given_name)).toHaveLength(done);

      // The rest are still written under the old mapping: the next full run updates exactly those.
      const rest = await sync(renamed, ...OVERRIDE);
      expect(rest.exitCode, rest.stderr).toBe(0);
      expect(rest.outcome.counts).toMatchObject({ updated: 16 - done, unchanged: done, created: 0 });
      expect(contacts()).toHaveLength(16);
      for (const record of contacts()) expect(record.properties.given_name, record.properties.email).toBe(record.properties.firstname);
      const amara = emulator!.findByProperty("contacts", "email", SOME[0]!)!.properties;
      expect([amara.firstname, amara.given_name]).toEqual(["Amara", "Amara"]);

      // Nothing changed since: zero calls, every row unchanged.
      const calls = emulator!.calls().length;
      const quiet = await sync(renamed);
      expect(quiet.exitCode, quiet.stderr).toBe(0);
      expect(quiet.outcome.counts).toMatchObject({ updated: 0, created: 0, unchanged: 16 });
      expect(emulator!.calls().length).toBe(calls);
    });

    it("clears a null the old on_null left out, once on_null becomes clear", async () => {
      await start();
      // One contact's title is null in the model (its row hash changes with it, as the model's would).
      await engine.mutate(`update ${engine.model(CONTRACT)} set job_title = null, _activation_row_hash = md5(email || 'v2') where email = '${SOME[0]}'`);
      expect((await sync(await target(() => undefined))).exitCode).toBe(0);
      expect(emulator!.findByProperty("contacts", "email", SOME[0]!)!.properties.jobtitle ?? "").toBe("");
      // A rep types a title in HubSpot: on_null skip leaves it, as declared.
      const client = new Client({ accessToken: TOKEN, basePath: emulator!.url });
      await client.crm.contacts.batchApi.upsert({ inputs: [{ id: SOME[0]!, idProperty: "email", properties: { jobtitle: "Typed By Rep" } }] });
      expect((await sync(await target(() => undefined))).outcome.counts).toMatchObject({ unchanged: 16, updated: 0 });
      expect(emulator!.findByProperty("contacts", "email", SOME[0]!)!.properties.jobtitle).toBe("Typed By Rep");

      // on_null: clear now: the model's null empties the field, though no value changed in the warehouse.
      const clearing = await target((c) => (c.fields.job_title = { to: "jobtitle", on_null: "clear" }));
      const run = await sync(clearing, ...OVERRIDE);
      expect(run.exitCode, run.stderr).toBe(0);
      expect(run.outcome.counts).toMatchObject({ updated: 16, unchanged: 0 });
      expect(emulator!.findByProperty("contacts", "email", SOME[0]!)!.properties.jobtitle ?? "").toBe("");
      expect(emulator!.findByProperty("contacts", "email", SOME[1]!)!.properties.jobtitle).toBe("IT Director");
      const calls = emulator!.calls().length;
      expect((await sync(clearing)).outcome.counts).toMatchObject({ unchanged: 16, updated: 0 });
      expect(emulator!.calls().length).toBe(calls);
    });

    it("releases a row an on_null: fail dead-lettered once on_null changes, though its values did not", async () => {
      await start();
      await engine.mutate(`update ${engine.model(CONTRACT)} set job_title = null, _activation_row_hash = md5(email || 'v2') where email = '${SOME[0]}'`);
      // One failed row of 16 must not trip the fixture's pause rule (5 %): the test is about the dead letter.
      const lenient = { pause_if: { failed_rows_percent: 50 }, rollback: "restore_previous" };
      const failing = await target((c) => Object.assign(c, { monitoring: lenient, fields: { ...c.fields, job_title: { to: "jobtitle", on_null: "fail" } } }));
      const first = await sync(failing);
      expect(first.exitCode).toBe(4);
      expect(first.outcome.counts).toMatchObject({ created: 15, failed: 1 });
      // Unchanged and failed permanently: held back, no call.
      const calls = emulator!.calls().length;
      expect((await sync(failing)).outcome.counts).toMatchObject({ failedUnchanged: 1, created: 0, unchanged: 15 });
      expect(emulator!.calls().length).toBe(calls);

      const clearing = await target((c) => Object.assign(c, { monitoring: lenient, fields: { ...c.fields, job_title: { to: "jobtitle", on_null: "clear" } } }));
      const released = await sync(clearing, ...OVERRIDE);
      expect(released.exitCode, released.stderr).toBe(0);
      expect(released.outcome.counts).toMatchObject({ created: 1, updated: 15, failedUnchanged: 0, failed: 0 });
      const amara = emulator!.findByProperty("contacts", "email", SOME[0]!)!.properties;
      expect([amara.firstname, amara.jobtitle ?? ""]).toEqual(["Amara", ""]);
      const letters = await engine.query(`select close_reason from ${engine.ledgerTable("activation_dead_letters")} where contract_name = '${CONTRACT}' and sync_key = '${SOME[0]}'`);
      expect(letters).toEqual([{ close_reason: "written" }]);
    });

    it("treats ledger rows written before the fingerprint existed as today's mapping: an upgrade resends nothing", async () => {
      await start();
      const unchanged = await target(() => undefined);
      expect((await sync(unchanged)).exitCode).toBe(0);
      const [stored] = await engine.query(`select count(distinct mapping_hash) as n, min(mapping_hash) as hash from ${engine.ledgerTable("activation_ledger")} where contract_name = '${CONTRACT}'`);
      expect(Number(stored!.n)).toBe(1);
      expect(String(stored!.hash)).toMatch(/^[0-9a-f]{16}$/);
      // What a ledger from before migration 11 holds.
      await engine.mutate(`update ${engine.ledgerTable("activation_ledger")} set mapping_hash = null`);
      await engine.mutate(`update ${engine.ledgerTable("activation_run_log")} set target = null`);
      const calls = emulator!.calls().length;
      const rerun = await sync(unchanged);
      expect(rerun.exitCode, rerun.stderr).toBe(0);
      expect(rerun.outcome.counts).toMatchObject({ unchanged: 16, updated: 0, created: 0 });
      expect(emulator!.calls().length).toBe(calls);
    });
  });

  describe("a target change", () => {
    it("is refused before anything is sent, removals included, and the previous destination syncs on", async () => {
      await start();
      const deleting = await target((c) => (c.destination.on_removed = "delete"));
      expect((await sync(deleting)).exitCode).toBe(0);
      expect(contacts()).toHaveLength(16);
      // The contract now points at another object, and a row left: its delete would go to that object by a contact's id.
      await engine.mutate(`delete from ${engine.model(CONTRACT)} where email = '${SOME[0]}'`);
      const moved = await target((c) => Object.assign(c.destination, { object: "p_people", on_removed: "delete" }));
      const calls = emulator!.calls().length;

      const refused = await sync(moved, ...OVERRIDE);
      expect(refused.exitCode).toBe(2);
      expect(refused.stderr).not.toMatch(/\n\s+at /);
      expect(refused.stderr + refused.stdout).toMatch(/contract contact_engagement_to_hubspot, field destination: the destination changed from "hubspot contacts by email" to "hubspot p_people by email"/);
      expect(refused.stderr + refused.stdout).toMatch(/Restore the previous destination, or give the contract a new name so a new ledger starts/);
      const plan = await cli("plan", moved);
      expect(plan.exitCode).toBe(2);
      expect(plan.stderr + plan.stdout).toMatch(/"hubspot contacts by email" to "hubspot p_people by email"/);
      // Nothing reached the destination: not a write, not a delete, not a preflight.
      expect(emulator!.calls().length).toBe(calls);
      expect(emulator!.records("p_people")).toHaveLength(0);
      expect(contacts()).toHaveLength(16);
      const [logged] = await engine.query(`select status, stop_reason, target from ${engine.ledgerTable("activation_run_log")} where contract_name = '${CONTRACT}' order by started_at desc limit 1`);
      expect(logged).toMatchObject({ status: "refused", target: null, stop_reason: expect.stringContaining(`to "hubspot p_people by email"`) });
      const status = await runCli(["status", "--project-dir", integrationProject, "--profiles-dir", integrationProject, "--target-dir", moved, ...engine.args], engine.env());
      expect(status.stdout).toMatch(/contact_engagement_to_hubspot: active; last run refused at .*: the destination changed from "hubspot contacts by email"/);

      // Refusing again and again does not make the new target the recorded one.
      expect((await sync(moved, ...OVERRIDE)).exitCode).toBe(2);
      // Back to the previous destination: the sync goes on where it was, deleting the contact whose row left.
      const back = await sync(deleting);
      expect(back.exitCode, back.stderr).toBe(0);
      expect(back.outcome.counts).toMatchObject({ removed: 1, unchanged: 15 });
      expect(emulator!.findByProperty("contacts", "email", SOME[0]!)).toBeUndefined();
      expect(contacts()).toHaveLength(15);
      expect(emulator!.records("p_people")).toHaveLength(0);
    });

    it("is refused for another match field, and allowed once nothing synced is left in the ledger", async () => {
      await start();
      expect((await sync(await target(() => undefined))).exitCode).toBe(0);
      const byId = await sync(await target((c) => (c.destination.match = { field: "hs_object_id" })));
      expect(byId.exitCode).toBe(2);
      expect(byId.stderr + byId.stdout).toMatch(/from "hubspot contacts by email" to "hubspot contacts by hs_object_id"/);
      // A contract whose every synced row was retired (here: marked removed) starts afresh in the new target.
      await engine.mutate(`update ${engine.ledgerTable("activation_ledger")} set status = 'removed'`);
      const fresh = await sync(await target((c) => (c.destination.object = "p_people")));
      expect(fresh.exitCode, fresh.stderr).toBe(0);
      expect(fresh.outcome.counts).toMatchObject({ created: 16 });
      expect(emulator!.records("p_people")).toHaveLength(16);
      const [logged] = await engine.query(`select target from ${engine.ledgerTable("activation_run_log")} where contract_name = '${CONTRACT}' order by started_at desc limit 1`);
      expect(logged).toEqual({ target: "hubspot p_people by email" });
    });

    it("syncs to the new target with --accept-new-target: the old rows retired, nothing removed anywhere, every eligible row created", async () => {
      await start();
      const before = await sync(await target((c) => (c.destination.on_removed = "delete")));
      expect(before.exitCode).toBe(0);
      await engine.mutate(`delete from ${engine.model(CONTRACT)} where email = '${SOME[0]}'`);
      const moved = await target((c) => Object.assign(c.destination, { object: "p_people", on_removed: "delete" }));
      const ledgerRows = () => engine.query(`select status, count(*) as n from ${engine.ledgerTable("activation_ledger")} where contract_name = '${CONTRACT}' group by status order by status`);
      const calls = emulator!.calls().length;

      // The plan shows what the flag will do, and does it not.
      const plan = await cli("plan", moved, "--accept-new-target");
      expect(plan.exitCode, plan.stderr).toBe(0);
      expect(plan.outcome.plan).toMatchObject({ eligible: 15, create: 15, update: 0, unchanged: 0, removed: 0 });
      expect(plan.outcome.overridden.join(" ")).toMatch(/--accept-new-target: the ledger's rows synced to "hubspot contacts by email" are retired/);
      expect(await ledgerRows()).toEqual([{ status: "synced", n: 16n }]);
      // One run retires the whole ledger: not a shard's.
      const sharded = await sync(moved, "--accept-new-target", "--shard", "0/2");
      expect(sharded.exitCode).toBe(2);
      expect(sharded.stderr + sharded.stdout).toMatch(/--accept-new-target retires the contract's whole ledger: run it once without --shard/);
      expect(emulator!.calls().length).toBe(calls);

      const accepted = await sync(moved, "--accept-new-target");
      expect(accepted.exitCode, accepted.stderr).toBe(0);
      expect(accepted.outcome.counts).toMatchObject({ eligible: 15, created: 15, updated: 0, unchanged: 0, removed: 0 });
      expect(emulator!.records("p_people")).toHaveLength(15);
      // The contact whose row left is not deleted (its ledger row is retired, not removed), nor any other.
      expect(contacts()).toHaveLength(16);
      expect(emulator!.findByProperty("contacts", "email", SOME[0]!)).toBeDefined();
      expect(emulator!.calls().some((c) => /archive/.test(c.path))).toBe(false);
      expect(await ledgerRows()).toEqual([{ status: "retired", n: 1n }, { status: "synced", n: 15n }]);
      const ids = (await engine.query(`select destination_record_id as id from ${engine.ledgerTable("activation_ledger")} where contract_name = '${CONTRACT}' and status = 'synced'`)).map((r) => String(r.id)).sort();
      expect(ids).toEqual(emulator!.records("p_people").map((r) => r.id).sort());
      const [logged] = await engine.query(`select status, target, override_reason from ${engine.ledgerTable("activation_run_log")} where contract_name = '${CONTRACT}' order by started_at desc limit 1`);
      expect(logged).toMatchObject({ status: "success", target: "hubspot p_people by email", override_reason: expect.stringContaining("--accept-new-target") });

      // From now on the new target is the contract's: a rerun is quiet, without the flag.
      const after = emulator!.calls().length;
      const quiet = await sync(moved);
      expect(quiet.exitCode, quiet.stderr).toBe(0);
      expect(quiet.outcome.counts).toMatchObject({ unchanged: 15, created: 0, removed: 0 });
      expect(emulator!.calls().length).toBe(after);

      // Rollback acts on the new target's records only: the run before the change wrote records of the old target,
      // now retired, so undoing it is refused; the accepting run created every record, so nothing has earlier values
      // to restore (the old target's values are never written into the new one).
      const rollback = (runId: string) =>
        runCli(["rollback", "--project-dir", integrationProject, "--profiles-dir", integrationProject, "--target-dir", moved, "--contract", CONTRACT, "--run", runId, "--json", ...engine.args], {
          HUBSPOT_ACCESS_TOKEN: TOKEN,
          HUBSPOT_BASE_PATH: emulator!.url,
          ...engine.env(),
        });
      const old = await rollback(before.outcome.runId as string);
      expect(old.exitCode).toBe(2);
      expect(old.stderr).toMatch(new RegExp(`run ${before.outcome.runId as string} changed no record of contract ${CONTRACT}`));
      expect(emulator!.calls().length).toBe(after);
      const undo = await rollback(accepted.outcome.runId as string);
      expect(undo.exitCode, undo.stderr).toBe(0);
      expect(JSON.parse(undo.stdout)).toMatchObject({ strategy: "restore_previous", records: 0, notRestorable: 15 });
      // Nothing written anywhere by either rollback: the old contacts and the new people are as the runs left them.
      expect(emulator!.calls().slice(after).filter((c) => c.method !== "GET")).toEqual([]);
      expect(contacts()).toHaveLength(16);
      expect(emulator!.records("p_people")).toHaveLength(15);
    });
  });
});
