/**
 * Sync modes and destination-state guards through the real CLI, on DuckDB and on PostgreSQL: update (existing only),
 * create (new only), mirror with on_removed clear / delete, audience membership, late-arriving protection and the
 * if_empty and unless_edited overwrite policies.
 */
import { Client } from "@hubspot/api-client";
import { afterEach, describe, expect, it } from "vitest";
import { startHubSpotEmulator, type HubSpotEmulator, type HubSpotEmulatorOptions } from "../../emulators/hubspot/index.ts";
import { integrationPortalProperties } from "../../scripts/hubspot-portal.ts";
import { runCli, syncArgs } from "../support/cli.ts";
import { ENGINES, integrationEngine } from "../support/engines.ts";

const TOKEN = "modes-token";
const CONTRACT = "contact_engagement_to_hubspot";
const NODE = "model.activation_integration_tests.contact_engagement";
let emulator: HubSpotEmulator | undefined;

afterEach(async () => {
  await emulator?.close();
  emulator = undefined;
});

async function start(options: HubSpotEmulatorOptions = {}): Promise<HubSpotEmulator> {
  const properties = { ...integrationPortalProperties, contacts: [...integrationPortalProperties.contacts!, { name: "last_refreshed_at", type: "datetime" as const }] };
  emulator = await startHubSpotEmulator({ accessToken: TOKEN, properties, ...options });
  return emulator;
}

async function precreate(emails: string[], properties: Record<string, string> = {}): Promise<void> {
  const client = new Client({ accessToken: TOKEN, basePath: emulator!.url });
  await client.crm.contacts.batchApi.upsert({ inputs: emails.map((email) => ({ id: email, idProperty: "email", properties: { firstname: "Before", ...properties } })) });
}

const SOME = ["amara.singh@fathomrobotics.ai", "grace.obi@juniperschools.edu", "zoe.kim@harborcoffee.com"];

describe.each(ENGINES)("on %s", (engineName) => {
  const engine = integrationEngine(engineName, { mutable: [CONTRACT] });

  /** The integration contract with `edit` applied to it in a copy of the build's manifest. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests rewrite the contract JSON freely
  async function target(edit: (contract: Record<string, any>) => void): Promise<string> {
    return engine.copyArtifacts({ manifest: (m) => edit(m.nodes[NODE].config.meta.activation[0]) });
  }

  async function sync(targetDir: string, ...extra: string[]) {
    return syncWith({}, targetDir, ...extra);
  }

  async function syncWith(env: NodeJS.ProcessEnv, targetDir: string, ...extra: string[]) {
    const run = await runCli(syncArgs(targetDir, "--select", CONTRACT, "--json", ...extra, ...engine.args), { HUBSPOT_ACCESS_TOKEN: TOKEN, HUBSPOT_BASE_PATH: emulator!.url, ...engine.env(), ...env });
    return { exitCode: run.exitCode, stderr: run.stderr, stdout: run.stdout, outcome: run.stdout.startsWith("{") ? JSON.parse(run.stdout).contracts?.[0] : undefined };
  }

  async function dropRows(emails: string[]): Promise<void> {
    await engine.mutate(`delete from ${engine.model(CONTRACT)} where email in (${emails.map((e) => `'${e}'`).join(", ")})`);
  }

  describe("modes", () => {
    it("update writes only records that already exist", async () => {
      await start();
      await precreate(SOME);
      const { exitCode, outcome } = await sync(await target((c) => (c.destination.mode = "update")));
      expect(exitCode).toBe(0);
      expect(outcome.counts).toMatchObject({ eligible: 16, created: 0, updated: 3, skipped: 13 });
      expect(outcome.skips[0].reason).toBe("no destination record to update (mode: update)");
      expect(emulator!.records("contacts")).toHaveLength(3);
      expect(emulator!.findByProperty("contacts", "email", SOME[0]!)?.properties.firstname).toBe("Amara");
    });

    it("create writes only new records and leaves existing ones alone", async () => {
      await start();
      await precreate(SOME);
      const { exitCode, outcome } = await sync(await target((c) => (c.destination.mode = "create")));
      expect(exitCode).toBe(0);
      expect(outcome.counts).toMatchObject({ created: 13, updated: 0, skipped: 3 });
      expect(emulator!.records("contacts")).toHaveLength(16);
      expect(emulator!.findByProperty("contacts", "email", SOME[0]!)?.properties.firstname).toBe("Before");
    });

    it("mirror clears the fields of records whose rows left the eligible set, and marks them removed in the ledger", async () => {
      await start();
      const mirror = await target((c) => Object.assign(c.destination, { mode: "mirror", on_removed: "clear" }));
      expect((await sync(mirror)).exitCode).toBe(0);
      await dropRows(SOME.slice(0, 2));
      const { exitCode, outcome } = await sync(mirror);
      expect(exitCode).toBe(0);
      expect(outcome.counts).toMatchObject({ removed: 2, unchanged: 14, created: 0, updated: 0 });
      const cleared = emulator!.findByProperty("contacts", "email", SOME[0]!)!.properties;
      expect([cleared.firstname ?? "", cleared.plan_tier ?? "", cleared.engagement_band ?? ""]).toEqual(["", "", ""]);
      expect(emulator!.findByProperty("contacts", "email", SOME[2]!)?.properties.firstname).toBe("Zoe");
      // Nothing left to remove: a third run makes no call.
      const calls = emulator!.calls().length;
      expect((await sync(mirror)).outcome.counts.removed).toBe(0);
      expect(emulator!.calls().length).toBe(calls);
    });

    it("a plan run in partitions creates, keeps and clears the same rows, each once", async () => {
      await start();
      // 16 rows, 3 keys per partition: 6 partitions, as a table of 6 million rows would run on DuckDB by default.
      const partitioned = { DBT_ACTIVATION_PLAN_PARTITION_ROWS: "3" };
      const mirror = await target((c) => Object.assign(c.destination, { mode: "mirror", on_removed: "clear" }));
      const first = await syncWith(partitioned, mirror);
      expect(first.exitCode, first.stderr).toBe(0);
      expect(first.outcome.counts).toMatchObject({ eligible: 16, created: 16, updated: 0 });
      expect(new Set(emulator!.records("contacts").map((r) => r.properties.email)).size).toBe(16);
      expect(emulator!.records("contacts")).toHaveLength(16);
      await dropRows(SOME.slice(0, 2));
      const second = await syncWith(partitioned, mirror);
      expect(second.outcome.counts).toMatchObject({ eligible: 14, removed: 2, unchanged: 14, created: 0, updated: 0 });
      expect(emulator!.findByProperty("contacts", "email", SOME[0]!)!.properties.firstname ?? "").toBe("");
      const bad = await syncWith({ DBT_ACTIVATION_PLAN_PARTITION_ROWS: "0" }, mirror);
      expect(bad.exitCode).not.toBe(0);
      expect(bad.stdout + bad.stderr).toMatch(/DBT_ACTIVATION_PLAN_PARTITION_ROWS must be a whole number/);
    });

    it("on_removed delete archives the records of rows that left", async () => {
      await start();
      const deleting = await target((c) => (c.destination.on_removed = "delete"));
      await sync(deleting);
      await dropRows([SOME[0]!]);
      const { outcome } = await sync(deleting);
      expect(outcome.counts.removed).toBe(1);
      expect(emulator!.findByProperty("contacts", "email", SOME[0]!)).toBeUndefined();
      expect(emulator!.records("contacts")).toHaveLength(15);
    });

    it("audience adds the records to the list and removes those whose rows left", async () => {
      await start({ lists: [{ listId: "42", name: "Engaged", processingType: "MANUAL" }] });
      const emails = (await sync(await target(() => undefined))).outcome.counts.created;
      expect(emails).toBe(16);
      const audience = await target((c) => Object.assign(c.destination, { mode: "audience", list_id: "42" }));
      const first = await sync(audience, "--ledger-schema", engine.schema("audience_ledger"));
      expect(first.exitCode, first.stderr).toBe(0);
      expect(emulator!.listMembers("42")).toHaveLength(16);
      await dropRows(SOME);
      const second = await sync(audience, "--ledger-schema", engine.schema("audience_ledger"));
      expect(second.outcome.counts.removed).toBe(3);
      expect(emulator!.listMembers("42")).toHaveLength(13);
    });
  });

  describe("guards on destination state", () => {
    it("never overwrites a record whose timestamp is newer than the row's (late-arriving)", async () => {
      await start();
      const future = new Date(Date.now() + 86_400_000).toISOString();
      await precreate([SOME[0]!], { last_refreshed_at: future });
      const { exitCode, outcome } = await sync(await target((c) => (c.late_arriving = { source: "scored_at", destination: "last_refreshed_at" })));
      expect(exitCode).toBe(0);
      expect(outcome.counts).toMatchObject({ created: 15, skipped: 1 });
      expect(outcome.skips[0]).toMatchObject({ key: SOME[0], reason: expect.stringMatching(/^destination last_refreshed_at .* is newer than the row's scored_at/) });
      expect(emulator!.findByProperty("contacts", "email", SOME[0]!)?.properties.firstname).toBe("Before");
    });

    it("if_empty fills a field only where the destination has no value", async () => {
      await start();
      await precreate([SOME[0]!], { jobtitle: "Chief Everything Officer" });
      await sync(await target((c) => (c.fields.job_title = { to: "jobtitle", overwrite: "if_empty" })));
      expect(emulator!.findByProperty("contacts", "email", SOME[0]!)?.properties).toMatchObject({ jobtitle: "Chief Everything Officer", firstname: "Amara" });
      expect(emulator!.findByProperty("contacts", "email", SOME[1]!)?.properties.jobtitle).toBe("IT Director");
    });

    it("unless_edited keeps a value a person changed since our last write, and updates the others", async () => {
      await start();
      const edited = await target((c) => (c.fields.job_title = { to: "jobtitle", overwrite: "unless_edited" }));
      expect((await sync(edited)).exitCode).toBe(0);
      // A sales rep corrects one title in HubSpot after our write (its last-modified time moves past our sync).
      await new Promise((r) => setTimeout(r, 20));
      const client = new Client({ accessToken: TOKEN, basePath: emulator!.url });
      await client.crm.contacts.batchApi.upsert({ inputs: [{ id: SOME[0]!, idProperty: "email", properties: { jobtitle: "Edited By Rep" } }] });
      // Then both rows change in the warehouse.
      const two = SOME.slice(0, 2).map((e) => `'${e}'`).join(", ");
      await engine.mutate(`update ${engine.model(CONTRACT)} set job_title = job_title || ' II', _activation_row_hash = md5(email || 'v2') where email in (${two})`);
      const { exitCode, outcome } = await sync(edited);
      expect(exitCode).toBe(0);
      expect(outcome.counts).toMatchObject({ updated: 2, unchanged: 14 });
      expect(emulator!.findByProperty("contacts", "email", SOME[0]!)?.properties).toMatchObject({ jobtitle: "Edited By Rep", firstname: "Amara" });
      expect(emulator!.findByProperty("contacts", "email", SOME[1]!)?.properties.jobtitle).toBe("IT Director II");
    });
  });
});
