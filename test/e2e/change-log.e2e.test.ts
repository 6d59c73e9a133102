/**
 * Run history and the change log (activation_change_log) over several runs through the real CLI on DuckDB and
 * PostgreSQL against the HubSpot emulator: what each run did per key (created, updated, cleared, failed), the names
 * of the fields it changed and never their values, no row for a quiet rerun or a row held by its dead letter, and
 * the retention setting pruning old rows as a sync starts.
 */
import { Client } from "@hubspot/api-client";
import { describe, expect, it } from "vitest";
import { runCli, syncArgs } from "../support/cli.ts";
import { ENGINES, integrationEngine, type Row } from "../support/engines.ts";
import { useHubSpotEmulator } from "../support/emulators.ts";

const TOKEN = "change-log-token";
/** docs/operations.md's example ("Run history and the change log"), run as written with the tables qualified. */
const KEY_HISTORY = `
select r.started_at, r.status as run_status, c.action, c.fields, c.error_code, c.reason
from activation_change_log as c
join activation_run_log as r on r.run_id = c.run_id and r.contract_name = c.contract_name
where c.contract_name = 'contact_engagement_to_hubspot' and c.sync_key = 'zoe.kim@harborcoffee.com'
order by c.recorded_at
`;
const CONTRACT = "contact_engagement_to_hubspot";
const NODE = "model.activation_integration_tests.contact_engagement";
const emulator = useHubSpotEmulator({ accessToken: TOKEN });

describe.each(ENGINES)("on %s", (engineName) => {
  const engine = integrationEngine(engineName, { mutable: [CONTRACT, `${CONTRACT}__excluded`] });
  const model = (): string => engine.model(CONTRACT);
  const env = (extra: Record<string, string> = {}): Record<string, string> => ({ ...emulator.cliEnv(), ...engine.env(), ...extra });
  async function syncOnce(extraEnv: Record<string, string> = {}, target = engine.targetPath(), ...extra: string[]): Promise<{ exitCode: number; outcome: Row }> {
    const run = await runCli(syncArgs(target, "--select", CONTRACT, "--json", ...extra, ...engine.args), env(extraEnv));
    expect(run.stderr).not.toMatch(/\n\s+at /);
    const report = JSON.parse(run.stdout) as { contracts: Row[] };
    return { exitCode: run.exitCode, outcome: report.contracts.find((c) => c.contract === CONTRACT)! };
  }
  const changes = async (where = "true"): Promise<{ run_id: string; sync_key: string; action: string; fields: string[] | null; error_code: unknown; reason: unknown }[]> =>
    (
      await engine.query(
        `select run_id, sync_key, action, fields, error_code, reason, destination_record_id from ${engine.ledgerTable("activation_change_log")} where ${where} order by sync_key, action`,
      )
    ).map((r) => ({ run_id: String(r.run_id), sync_key: String(r.sync_key), action: String(r.action), fields: r.fields === null ? null : (JSON.parse(String(r.fields)) as string[]), error_code: r.error_code, reason: r.reason }));
  const allChanges = async (): Promise<number> => (await changes()).length;

  it("records per run and key what was done, with the names of the fields changed: create, update one field, clear on consent, a permanent failure, then nothing", async () => {
    // Run 1: every eligible row is created, each with the fields it was sent (an on_null: skip field left out when null).
    const first = await syncOnce();
    expect(first.exitCode).toBe(0);
    expect(first.outcome).toMatchObject({ result: "success", counts: { created: 16 } });
    const created = await changes();
    expect(created).toHaveLength(16);
    const sent = new Map(
      (await engine.query(`select sync_key, last_sent_values, destination_record_id from ${engine.ledgerTable("activation_ledger")}`)).map((r) => [String(r.sync_key), r]),
    );
    for (const change of created) {
      expect(change).toMatchObject({ run_id: first.outcome.runId, action: "created", error_code: null, reason: null });
      expect(change.fields).toEqual(Object.keys(JSON.parse(String(sent.get(change.sync_key)!.last_sent_values)) as object).sort());
    }
    expect(created.some((c) => ["engagement_band", "firstname", "jobtitle", "lastname", "plan_tier"].every((f) => c.fields!.includes(f)))).toBe(true);
    // Values never reach the change log: no row holds a sent value.
    const text = JSON.stringify(await engine.query(`select * from ${engine.ledgerTable("activation_change_log")}`), (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v));
    expect(text).not.toMatch(/starter|growth|enterprise/);

    // Run 2: one field of one row changes: one `updated` row naming that field alone.
    const edited = "zoe.kim@harborcoffee.com";
    await engine.mutate(`update ${model()} set job_title = 'Head of Coffee', _activation_row_hash = md5('edited') where email = '${edited}'`);
    const second = await syncOnce();
    expect(second.outcome).toMatchObject({ result: "success", counts: { updated: 1 } });
    expect(await changes(`run_id = '${String(second.outcome.runId)}'`)).toEqual([
      { run_id: second.outcome.runId, sync_key: edited, action: "updated", fields: ["jobtitle"], error_code: null, reason: null },
    ]);

    // Run 3: consent withdrawn: the record's fields are cleared, with why.
    const revoked = "amara.singh@fathomrobotics.ai";
    await engine.mutate(`delete from ${model()} where email = '${revoked}'`);
    await engine.mutate(`insert into ${engine.model(`${CONTRACT}__excluded`)} (email, reasons) values ('${revoked}', 'no_consent')`);
    const third = await syncOnce();
    expect(third.outcome).toMatchObject({ result: "success", counts: { removed: 1 } });
    const [cleared] = await changes(`run_id = '${String(third.outcome.runId)}'`);
    expect(await changes(`run_id = '${String(third.outcome.runId)}'`)).toHaveLength(1);
    expect(cleared).toMatchObject({ sync_key: revoked, action: "cleared", reason: "no_consent", error_code: null });
    expect(cleared!.fields).toEqual(["engagement_band", "firstname", "jobtitle", "lastname", "plan_tier"]);

    // Run 4: a value the destination refuses: `failed` with its code and the field it tried to change.
    const refused = "noah.berg@borealisfreight.io";
    await engine.mutate(`update ${model()} set plan_tier = 'platinum', _activation_row_hash = md5('refused') where email = '${refused}'`);
    const fourth = await syncOnce();
    expect(fourth.exitCode).toBe(4);
    expect(fourth.outcome).toMatchObject({ result: "partial", counts: { failed: 1 } });
    expect(await changes(`run_id = '${String(fourth.outcome.runId)}'`)).toEqual([
      { run_id: fourth.outcome.runId, sync_key: refused, action: "failed", fields: ["plan_tier"], error_code: "INVALID_OPTION", reason: null },
    ]);

    // Runs 5 and 6: nothing changed (the refused row is held by its open dead letter): no row at all.
    const before = await allChanges();
    for (let run = 5; run <= 6; run += 1) {
      const quiet = await syncOnce();
      expect(quiet.outcome).toMatchObject({ counts: { created: 0, updated: 0, failedUnchanged: 1 } });
      expect(await allChanges()).toBe(before);
    }
    // The documented history of one key: its create, then its one-field update, each with its run.
    const history = await engine.query(
      KEY_HISTORY.replace("activation_change_log", engine.ledgerTable("activation_change_log")).replace("activation_run_log", engine.ledgerTable("activation_run_log")),
    );
    expect(history.map((h) => [h.run_status, h.action, h.error_code, h.reason])).toEqual([
      ["success", "created", null, null],
      ["success", "updated", null, null],
    ]);
    expect(JSON.parse(String(history[1]!.fields))).toEqual(["jobtitle"]);
    // Every run has its run-log row, and every change-log row names one of them.
    const runs = (await engine.query(`select run_id from ${engine.ledgerTable("activation_run_log")}`)).map((r) => String(r.run_id));
    expect(runs).toHaveLength(6);
    expect(new Set((await changes()).map((c) => c.run_id))).toEqual(new Set([first, second, third, fourth].map((r) => String(r.outcome.runId))));
    expect(runs).toEqual(expect.arrayContaining([first, second, third, fourth].map((r) => String(r.outcome.runId))));
  }, 240_000);

  it("records guard skips with their reason each run the guard decides again; a stopped or gated run has its run-log row and no change", async () => {
    const existing = ["amara.singh@fathomrobotics.ai", "grace.obi@juniperschools.edu", "zoe.kim@harborcoffee.com"];
    const client = new Client({ accessToken: TOKEN, basePath: emulator.url });
    await client.crm.contacts.batchApi.upsert({ inputs: existing.map((email) => ({ id: email, idProperty: "email", properties: { firstname: "Before" } })) });
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the test rewrites the contract JSON
    const contract = (edit: (c: Record<string, any>) => void): Promise<string> => engine.copyArtifacts({ manifest: (m) => edit(m.nodes[NODE].config.meta.activation[0]) });
    const updateOnly = await contract((c) => (c.destination.mode = "update"));

    const first = await syncOnce({}, updateOnly);
    expect(first.outcome).toMatchObject({ counts: { updated: 3, skipped: 13 } });
    const logged = await changes(`run_id = '${String(first.outcome.runId)}'`);
    expect(logged.filter((c) => c.action === "updated").map((c) => c.sync_key)).toEqual(existing);
    // Never written by us before: an update names every field it sent.
    for (const c of logged.filter((c) => c.action === "updated")) expect(c.fields).toEqual(expect.arrayContaining(["firstname", "jobtitle", "lastname", "plan_tier"]));
    const skipped = logged.filter((c) => c.action === "skipped");
    expect(skipped).toHaveLength(13);
    for (const c of skipped) expect(c).toMatchObject({ fields: null, error_code: null, reason: "no destination record to update (mode: update)" });

    // Next run: 13 creates against 3 synced rows trip the blast radius: stopped before sending, no change logged.
    const stopped = await syncOnce({}, updateOnly);
    expect(stopped.outcome).toMatchObject({ status: "stopped" });
    expect(await changes(`run_id = '${String(stopped.outcome.runId)}'`)).toEqual([]);
    // Let through, the guard decides again (the rows are still not written): 13 more skips, no update.
    const second = await syncOnce({}, updateOnly, "--allow-large-change", "--reason", "change-log test");
    expect(second.outcome).toMatchObject({ counts: { updated: 0, skipped: 13 } });
    expect((await changes(`run_id = '${String(second.outcome.runId)}'`)).map((c) => c.action)).toEqual(Array.from({ length: 13 }, () => "skipped"));

    // The gate holds the contract back: a run-log row saying so, nothing in the change log.
    const before = await allChanges();
    const broken = await engine.copyArtifacts({ runResults: (r) => (r.results.find((x: { unique_id: string }) => x.unique_id === NODE).status = "error") });
    expect((await syncOnce({}, broken)).outcome).toMatchObject({ status: "skipped", gate: { passed: false } });
    const [gated] = await engine.query(`select status, gate_passed from ${engine.ledgerTable("activation_run_log")} where status = 'gated'`);
    expect(gated).toMatchObject({ status: "gated", gate_passed: false });
    expect(await allChanges()).toBe(before);
  }, 240_000);

  it("keeps DBT_ACTIVATION_CHANGE_LOG_DAYS of history: older rows go as the next sync starts; 0 keeps them all; a bad value is bad input", async () => {
    expect((await syncOnce()).outcome).toMatchObject({ counts: { created: 16 } });
    const log = engine.ledgerTable("activation_change_log");
    const old = "zoe.kim@harborcoffee.com";
    await engine.mutate(`update ${log} set recorded_at = recorded_at - interval '40 days' where sync_key <> '${old}'`);
    await engine.mutate(`update ${log} set recorded_at = recorded_at - interval '400 days' where sync_key = '${old}'`);

    const bad = await runCli(syncArgs(engine.targetPath(), "--select", CONTRACT, ...engine.args), env({ DBT_ACTIVATION_CHANGE_LOG_DAYS: "-1" }));
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain("DBT_ACTIVATION_CHANGE_LOG_DAYS");
    expect(await allChanges()).toBe(16);

    await syncOnce({ DBT_ACTIVATION_CHANGE_LOG_DAYS: "0" });
    expect(await allChanges()).toBe(16);
    // The default, 90 days: the 400-day-old row goes, the 40-day-old rows stay.
    await syncOnce();
    expect((await changes()).map((c) => c.sync_key)).not.toContain(old);
    expect(await allChanges()).toBe(15);
    await syncOnce({ DBT_ACTIVATION_CHANGE_LOG_DAYS: "30" });
    expect(await allChanges()).toBe(0);
  }, 240_000);
});
