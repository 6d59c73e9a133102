/**
 * Consent and suppression removals over many runs, through the real CLI on DuckDB and PostgreSQL against the HubSpot
 * emulator: a revoked consent clears (or deletes, or unlists) what this project activated, a restored consent
 * activates the record again, an exclude item follows its own action, a declared keep is recorded with its reason,
 * and reconcile reports a revoked-consent record that still holds activated values as its own discrepancy. Also
 * late-arriving protection: a destination timestamp in the far future is dead-lettered after max_skipped_runs.
 *
 * A revocation is played the way a rebuild would leave the tables: the row leaves the activation model and the
 * excluded-rows model lists it with the reason (as test/e2e/lifecycle.e2e.test.ts does for replay).
 */
import { describe, expect, it } from "vitest";
import { integrationPortalProperties } from "../../scripts/hubspot-portal.ts";
import { integrationProject } from "../../scripts/dbt.ts";
import { runCli, syncArgs } from "../support/cli.ts";
import { ENGINES, integrationEngine, type Row } from "../support/engines.ts";
import { useHubSpotEmulator } from "../support/emulators.ts";

const TOKEN = "consent-token";
const CONTRACT = "contact_engagement_to_hubspot";
const EXCLUDED = `${CONTRACT}__excluded`;
const NODE = "model.activation_integration_tests.contact_engagement";
const REVOKED = "amara.singh@fathomrobotics.ai";
const TESTER = "grace.obi@juniperschools.edu";
const OTHER = "zoe.kim@harborcoffee.com";
const MAPPED = ["firstname", "lastname", "jobtitle", "plan_tier", "engagement_band"] as const;
const emulator = useHubSpotEmulator({
  accessToken: TOKEN,
  properties: { ...integrationPortalProperties, contacts: [...integrationPortalProperties.contacts!, { name: "last_refreshed_at", type: "datetime" as const }] },
  lists: [{ listId: "42", name: "Engaged", processingType: "MANUAL" }],
});

describe.each(ENGINES)("on %s", (engineName) => {
  const engine = integrationEngine(engineName, { mutable: [CONTRACT, EXCLUDED] });
  const model = (): string => engine.model(CONTRACT);
  const env = (): Record<string, string> => ({ ...emulator.cliEnv(), ...engine.env() });
  const connection = (): string[] => ["--project-dir", integrationProject, "--profiles-dir", integrationProject, ...engine.args];

  /** The integration contract with `edit` applied in a copy of the build's manifest. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests rewrite the contract JSON freely
  function target(edit: (contract: Record<string, any>) => void = () => undefined): Promise<string> {
    return engine.copyArtifacts({ manifest: (m) => edit(m.nodes[NODE].config.meta.activation[0]) });
  }
  async function sync(targetDir: string): Promise<{ exitCode: number; outcome: Row }> {
    const run = await runCli(syncArgs(targetDir, "--select", CONTRACT, "--json", ...engine.args), env());
    expect(run.stderr).not.toMatch(/\n\s+at /);
    return { exitCode: run.exitCode, outcome: (JSON.parse(run.stdout) as { contracts: Row[] }).contracts[0]! };
  }
  async function reconcile(targetDir: string): Promise<{ exitCode: number; counts: Record<string, number>; samples: Row[] }> {
    const run = await runCli(["reconcile", ...connection(), "--target-dir", targetDir, "--contract", CONTRACT, "--json"], env());
    expect(run.stderr).not.toMatch(/\n\s+at /);
    return { exitCode: run.exitCode, ...(JSON.parse(run.stdout) as { counts: Record<string, number>; samples: Row[] }) };
  }
  /** The row leaves the activation model; the excluded-rows model says why. Its columns are kept aside to restore it. */
  async function exclude(email: string, reasons: string): Promise<void> {
    await engine.mutate(`create table if not exists ${engine.model("consent_aside")} as select * from ${model()} where 1 = 0`);
    await engine.mutate(`insert into ${engine.model("consent_aside")} select * from ${model()} where email = '${email}'`);
    await engine.mutate(`delete from ${model()} where email = '${email}'`);
    await engine.mutate(`insert into ${engine.model(EXCLUDED)} (email, reasons) values ('${email}', '${reasons}')`);
  }
  async function restore(email: string): Promise<void> {
    await engine.mutate(`insert into ${model()} select * from ${engine.model("consent_aside")} where email = '${email}'`);
    await engine.mutate(`delete from ${engine.model("consent_aside")} where email = '${email}'`);
    await engine.mutate(`delete from ${engine.model(EXCLUDED)} where email = '${email}'`);
  }
  const mapped = (email: string): string[] | undefined => {
    const record = emulator.findByProperty("contacts", "email", email);
    return record ? MAPPED.map((p) => String(record.properties[p] ?? "")) : undefined;
  };
  const ledgerRow = async (email: string): Promise<Row | undefined> =>
    (await engine.query(`select status, removal_reason, removal_action from ${engine.ledgerTable("activation_ledger")} where sync_key = '${email}'`))[0];

  it("revoked consent clears the record, a rerun is silent, and restored consent activates it again", async () => {
    await engine.mutate(`drop table if exists ${engine.model("consent_aside")}`);
    const plain = await target();
    expect((await sync(plain)).outcome).toMatchObject({ counts: { created: 16 } });
    const activated = mapped(REVOKED)!;
    expect(activated.slice(0, 2)).toEqual(["Amara", "Singh"]);

    await exclude(REVOKED, "no_consent");
    // A row that merely left the model still follows destination.on_removed: keep (untouched, unrecorded).
    await exclude(OTHER, "held_for_review");
    const revoked = await sync(plain);
    expect(revoked.exitCode).toBe(0);
    expect(revoked.outcome).toMatchObject({ result: "success", counts: { eligible: 14, removed: 1, unchanged: 14, failed: 0 } });
    expect(mapped(REVOKED)).toEqual(["", "", "", "", ""]);
    expect(mapped(OTHER)![0]).toBe("Zoe");
    expect(await ledgerRow(REVOKED)).toEqual({ status: "removed", removal_reason: "no_consent", removal_action: "clear" });
    expect(await ledgerRow(OTHER)).toMatchObject({ status: "synced", removal_reason: null });

    // Nothing changed: zero calls, and nothing left to remove.
    const calls = emulator.calls().length;
    expect((await sync(plain)).outcome).toMatchObject({ counts: { removed: 0, created: 0, updated: 0 } });
    expect(emulator.calls().length).toBe(calls);
    expect((await reconcile(plain)).counts).toMatchObject({ consent_revoked_but_present: 0, suppressed_but_present: 0 });

    // Consent restored: the row is eligible again and its values are activated again.
    await restore(REVOKED);
    const back = await sync(plain);
    // The cleared record is still there: the upsert updates it.
    expect(back.outcome).toMatchObject({ result: "success", counts: { eligible: 15, created: 0, updated: 1, removed: 0 } });
    expect(mapped(REVOKED)).toEqual(activated);
    expect(await ledgerRow(REVOKED)).toEqual({ status: "synced", removal_reason: null, removal_action: null });
    expect(emulator.records("contacts")).toHaveLength(16);
  }, 240_000);

  // HubSpot compares emails case-insensitively, so the ledger holds the canonical (lower-case) key while the model
  // and its excluded-rows model spell it as the warehouse does: the consent reason must still be found, or the
  // revoked record would be treated as an ordinary removal (on_removed: keep) and left activated.
  it("a revoked consent is found under the canonical key when the warehouse spells the email in mixed case", async () => {
    await engine.mutate(`drop table if exists ${engine.model("consent_aside")}`);
    const mixed = "Amara.Singh@FathomRobotics.AI";
    await engine.mutate(`update ${model()} set email = '${mixed}' where email = '${REVOKED}'`);
    try {
      const plain = await target();
      expect((await sync(plain)).outcome).toMatchObject({ counts: { created: 16 } });
      expect(await ledgerRow(REVOKED)).toMatchObject({ status: "synced" });
      expect(mapped(REVOKED)!.slice(0, 2)).toEqual(["Amara", "Singh"]);

      await exclude(mixed, "no_consent");
      const revoked = await sync(plain);
      expect(revoked.outcome).toMatchObject({ result: "success", counts: { removed: 1, failed: 0 } });
      expect(mapped(REVOKED)).toEqual(["", "", "", "", ""]);
      expect(await ledgerRow(REVOKED)).toEqual({ status: "removed", removal_reason: "no_consent", removal_action: "clear" });
      await restore(mixed);
    } finally {
      await engine.mutate(`update ${model()} set email = '${REVOKED}' where email = '${mixed}'`);
    }
  }, 240_000);

  it("on_removed.consent delete deletes the record; an exclude item follows on_removed.excluded", async () => {
    await engine.mutate(`drop table if exists ${engine.model("consent_aside")}`);
    const deleting = await target((c) => Object.assign(c.suppression, { exclude: ["is_test_contact"], on_removed: { consent: "delete" } }));
    expect((await sync(deleting)).outcome).toMatchObject({ counts: { created: 16 } });
    await exclude(REVOKED, "consent_stale");
    // Both reasons: consent wins (the stricter promise), whatever the exclude item's action.
    await exclude(OTHER, "excluded:is_test_contact; no_consent");
    await exclude(TESTER, "excluded:is_test_contact");
    const run = await sync(deleting);
    expect(run.exitCode).toBe(0);
    expect(run.outcome).toMatchObject({ counts: { removed: 3, failed: 0 } });
    expect(mapped(REVOKED)).toBeUndefined();
    expect(mapped(OTHER)).toBeUndefined();
    // on_removed.excluded not declared: the safe default clears.
    expect(mapped(TESTER)).toEqual(["", "", "", "", ""]);
    expect(await ledgerRow(TESTER)).toEqual({ status: "removed", removal_reason: "excluded:is_test_contact", removal_action: "clear" });
    expect(await ledgerRow(OTHER)).toEqual({ status: "removed", removal_reason: "excluded:is_test_contact; no_consent", removal_action: "delete" });

    // An exclude item follows on_removed.excluded when it is declared.
    await restore(TESTER);
    const strict = await target((c) => Object.assign(c.suppression, { exclude: ["is_test_contact"], on_removed: { consent: "delete", excluded: "delete" } }));
    expect((await sync(strict)).outcome).toMatchObject({ counts: { updated: 1 } });
    await exclude(TESTER, "excluded:is_test_contact");
    expect((await sync(strict)).outcome).toMatchObject({ counts: { removed: 1 } });
    expect(mapped(TESTER)).toBeUndefined();
  }, 240_000);

  it("audience mode unlists a revoked consent and lists it again when consent is restored", async () => {
    await engine.mutate(`drop table if exists ${engine.model("consent_aside")}`);
    expect((await sync(await target())).outcome).toMatchObject({ counts: { created: 16 } });
    const audience = await target((c) => Object.assign(c.destination, { mode: "audience", list_id: "42" }));
    const ledger = ["--ledger-schema", engine.schema("audience_ledger")];
    const run = async (): Promise<Row> => {
      const r = await runCli(syncArgs(audience, "--select", CONTRACT, "--json", ...ledger, ...engine.args), env());
      return (JSON.parse(r.stdout) as { contracts: Row[] }).contracts[0]!;
    };
    expect(await run()).toMatchObject({ counts: { created: 16 } });
    expect(emulator.listMembers("42")).toHaveLength(16);
    await exclude(REVOKED, "no_consent");
    expect(await run()).toMatchObject({ counts: { removed: 1 } });
    expect(emulator.listMembers("42")).toHaveLength(15);
    const id = emulator.findByProperty("contacts", "email", REVOKED)!.id;
    expect(emulator.listMembers("42")).not.toContain(id);
    const table = `${engine.name === "duckdb" ? `"integration_tests".` : ""}"${engine.schema("audience_ledger")}"."activation_ledger"`;
    const [row] = await engine.query(`select status, removal_reason, removal_action from ${table} where sync_key = '${REVOKED}'`);
    expect(row).toEqual({ status: "removed", removal_reason: "no_consent", removal_action: "unlist" });
    await restore(REVOKED);
    expect(await run()).toMatchObject({ counts: { created: 1 } });
    expect(emulator.listMembers("42")).toContain(id);
  }, 240_000);

  it("keep with a reason is recorded in the ledger and reconcile reports the record as consent revoked but present", async () => {
    await engine.mutate(`drop table if exists ${engine.model("consent_aside")}`);
    const keeping = await target((c) => Object.assign(c.suppression, { on_removed: { consent: "keep", reason: "legal hold on these contacts until the audit closes" } }));
    expect((await sync(keeping)).outcome).toMatchObject({ counts: { created: 16 } });
    await exclude(REVOKED, "no_consent");
    const writes = (): number => emulator.calls().filter((c) => c.path.endsWith("/batch/upsert") || c.path.endsWith("/batch/archive")).length;
    const before = writes();
    const run = await sync(keeping);
    expect(run.exitCode).toBe(0);
    expect(run.outcome).toMatchObject({ counts: { removed: 1, failed: 0 } });
    // Kept: no write at all reached the destination.
    expect(writes()).toBe(before);
    expect(mapped(REVOKED)![0]).toBe("Amara");
    expect(await ledgerRow(REVOKED)).toEqual({ status: "removed", removal_reason: "no_consent", removal_action: "keep" });
    const found = await reconcile(keeping);
    expect(found.exitCode).not.toBe(0);
    expect(found.counts).toMatchObject({ consent_revoked_but_present: 1, suppressed_but_present: 0, missing_in_destination: 0 });
    expect(found.samples).toContainEqual({ key: REVOKED, discrepancy: "consent_revoked_but_present", detail: expect.stringContaining("kept by the contract's declared keep") });
  }, 240_000);

  it("reconcile reports a revoked consent whose clear failed as consent revoked but present, until a later run clears it", async () => {
    await engine.mutate(`drop table if exists ${engine.model("consent_aside")}`);
    const plain = await target();
    expect((await sync(plain)).outcome).toMatchObject({ counts: { created: 16 } });
    await exclude(REVOKED, "no_consent");
    emulator.setFaults({ recordRejectRate: 1, seed: 7 });
    const failed = await sync(plain);
    emulator.setFaults({});
    expect(failed.exitCode).not.toBe(0);
    expect(failed.outcome).toMatchObject({ counts: { removed: 0, failed: 1 } });
    expect(mapped(REVOKED)![0]).toBe("Amara");
    // Still synced (the values are there), with the removal it owes.
    expect(await ledgerRow(REVOKED)).toEqual({ status: "synced", removal_reason: "no_consent", removal_action: "clear" });
    const found = await reconcile(plain);
    expect(found.counts).toMatchObject({ consent_revoked_but_present: 1, in_dead_letters: 1, value_mismatch: 0 });
    expect(found.samples).toContainEqual({ key: REVOKED, discrepancy: "consent_revoked_but_present", detail: expect.stringContaining("clear failed, still owed") });

    // The rejection was permanent: replay clears it; then reconcile is clean.
    const replay = await runCli(["replay", ...connection(), "--target-dir", plain, "--contract", CONTRACT, "--json"], env());
    expect(replay.exitCode, replay.stderr).toBe(0);
    expect(mapped(REVOKED)).toEqual(["", "", "", "", ""]);
    expect(await ledgerRow(REVOKED)).toEqual({ status: "removed", removal_reason: "no_consent", removal_action: "clear" });
    expect((await reconcile(plain)).counts).toMatchObject({ consent_revoked_but_present: 0, in_dead_letters: 0 });
  }, 240_000);

  it("a destination timestamp in the far future is dead-lettered after max_skipped_runs skipped runs, not skipped with exit 0 forever", async () => {
    const client = (await import("@hubspot/api-client")).Client;
    await new client({ accessToken: TOKEN, basePath: emulator.url }).crm.contacts.batchApi.upsert({
      inputs: [{ id: REVOKED, idProperty: "email", properties: { firstname: "Before", last_refreshed_at: "2099-01-01T00:00:00.000Z" } }],
    });
    const late = await target((c) => (c.late_arriving = { source: "scored_at", destination: "last_refreshed_at", max_skipped_runs: 3 }));
    for (const run of [1, 2]) {
      const skipped = await sync(late);
      expect(skipped.exitCode, `run ${run}`).toBe(0);
      expect(skipped.outcome, `run ${run}`).toMatchObject({ counts: { skipped: 1, failed: 0 } });
    }
    const third = await sync(late);
    expect(third.exitCode).toBe(4);
    expect(third.outcome).toMatchObject({ result: "partial", counts: { skipped: 0, failed: 1 } });
    expect((third.outcome.failures as Row[])[0]).toMatchObject({ key: REVOKED, code: "LATE_ARRIVAL_STUCK", message: expect.stringContaining("3 runs in a row") });
    expect(emulator.findByProperty("contacts", "email", REVOKED)!.properties.firstname).toBe("Before");
    // Held as a permanent dead letter: the next run does not read it back or skip it again, and reconcile reports it.
    const calls = emulator.calls().length;
    expect((await sync(late)).outcome).toMatchObject({ counts: { failedUnchanged: 1, skipped: 0, failed: 0 } });
    expect(emulator.calls().length).toBe(calls);
    const found = await reconcile(late);
    expect(found.counts.in_dead_letters).toBe(1);
    expect(found.samples).toContainEqual({ key: REVOKED, discrepancy: "in_dead_letters", detail: expect.any(String) });
    // Once the destination's timestamp is fixed, replay writes the row and the count starts over.
    await new client({ accessToken: TOKEN, basePath: emulator.url }).crm.contacts.batchApi.upsert({ inputs: [{ id: REVOKED, idProperty: "email", properties: { last_refreshed_at: "2001-01-01T00:00:00.000Z" } }] });
    const replay = await runCli(["replay", ...connection(), "--target-dir", late, "--contract", CONTRACT, "--json"], env());
    expect(replay.exitCode, replay.stderr).toBe(0);
    expect(emulator.findByProperty("contacts", "email", REVOKED)!.properties.firstname).toBe("Amara");
  }, 240_000);
});
