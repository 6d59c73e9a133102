/**
 * Alerts end to end, on DuckDB and PostgreSQL: the real CLI syncs the integration build to the HubSpot emulator and
 * alerts a loopback receiver that verifies the webhook signature, PagerDuty's routing key, and what each message
 * says (contract, model, destination, owners, the rule with its numbers, the command to run next), with no secret in
 * it. Over several runs: one alert per condition (dedup in the warehouse), a changed condition alerts again, the first
 * good run resolves; a failing endpoint never fails the sync; alert-only contracts alert and write nothing.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { startHubSpotEmulator, type HubSpotEmulator } from "../../emulators/hubspot/index.ts";
import { integrationPortalProperties } from "../../scripts/hubspot-portal.ts";
import { integrationProject } from "../../scripts/dbt.ts";
import { startAlertReceiver, type AlertReceiver, type ReceivedAlert } from "../support/alert-receiver.ts";
import { runCli, syncArgs } from "../support/cli.ts";
import { ENGINES, integrationEngine } from "../support/engines.ts";

const TOKEN = "alerts-hubspot-token-0123";
const WEBHOOK_SECRET = "whsec-alerts-7f3a9c1e5b";
const ROUTING_KEY = "R0UT1NGKEYalerts42abcdef";
const CONTRACT = "contact_engagement_to_hubspot";
const MODEL_ID = "model.activation_integration_tests.contact_engagement";
const OWNERS = { model: "analytics-eng@acme.io", field: "lifecycle-marketing@acme.io", destination: "marketing-ops@acme.io", workflow: "growth-lead@acme.io" };
const ALL_CHANNELS = { slack_webhook_env: "ACTIVATION_SLACK_URL", webhook_env: "ACTIVATION_WEBHOOK_URL", webhook_secret_env: "ACTIVATION_WEBHOOK_SECRET", pagerduty_routing_key_env: "ACTIVATION_PAGERDUTY_KEY" };

let emulator: HubSpotEmulator;
let receiver: AlertReceiver;

beforeAll(async () => {
  emulator = await startHubSpotEmulator({ accessToken: TOKEN, properties: integrationPortalProperties });
  receiver = await startAlertReceiver({ webhookSecret: WEBHOOK_SECRET, routingKey: ROUTING_KEY });
});
afterAll(async () => {
  await emulator.close();
  await receiver.close();
});
beforeEach(() => {
  emulator.reset();
  receiver.received.length = 0;
  receiver.refused = 0;
  receiver.mode = "ok";
});

/** Every secret of the run, none of which may appear in a message (PagerDuty's key only as its routing_key). */
function secrets(): string[] {
  return [TOKEN, WEBHOOK_SECRET, ROUTING_KEY, `${receiver.url}/slack/T0001/B0001/slacksecretpath`, "slacksecretpath", `${receiver.url}/webhook?token=hooktoken99`, "hooktoken99"];
}

function expectNoSecret(alert: ReceivedAlert): void {
  const { routing_key: _key, ...rest } = alert.body as Record<string, unknown>;
  const text = alert.channel === "pagerduty" ? JSON.stringify(rest) : alert.raw;
  for (const secret of secrets()) expect(text, `${alert.channel} message carries a secret`).not.toContain(secret);
}

/** The facts every trigger message must carry, whichever channel: read from the channel's own shape. */
function textOf(alert: ReceivedAlert): string {
  return alert.channel === "pagerduty" ? JSON.stringify(alert.body.payload) : alert.raw;
}

describe.each(ENGINES)("on %s", (engineName) => {
  const engine = integrationEngine(engineName, { mutable: [CONTRACT] });
  function env(extra: Record<string, string> = {}): Record<string, string> {
    return {
      HUBSPOT_ACCESS_TOKEN: TOKEN,
      HUBSPOT_BASE_PATH: emulator.url,
      ACTIVATION_SLACK_URL: `${receiver.url}/slack/T0001/B0001/slacksecretpath`,
      ACTIVATION_WEBHOOK_URL: `${receiver.url}/webhook?token=hooktoken99`,
      ACTIVATION_WEBHOOK_SECRET: WEBHOOK_SECRET,
      ACTIVATION_PAGERDUTY_KEY: ROUTING_KEY,
      DBT_ACTIVATION_PAGERDUTY_URL: `${receiver.url}/pagerduty`,
      ...engine.env(),
      ...extra,
    };
  }
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the contract as JSON in the manifest
  type Edit = (contract: any) => void;
  const artifacts = (edit: Edit, runResults?: (r: { results: { unique_id: string; status: string; failures: number | null }[] }) => void): Promise<string> =>
    engine.copyArtifacts({ manifest: (m) => edit(m.nodes[MODEL_ID].config.meta.activation[0]), ...(runResults ? { runResults } : {}) });
  const sync = async (target: string, extra: Record<string, string> = {}) => {
    const run = await runCli(syncArgs(target, "--select", CONTRACT, "--json", ...engine.args), env(extra));
    return { ...run, report: JSON.parse(run.stdout) };
  };
  const openIncidents = () => engine.query(`select contract_name, kind, dedup_key from ${engine.ledgerTable("activation_alerts")}`);

  it("alerts once per condition on every channel, again when it changes, and resolves on the first good run", async () => {
    const withAlerts: Edit = (c) => (c.monitoring.alert = ALL_CHANNELS);
    const stopped = await artifacts((c) => (withAlerts(c), (c.gates.min_rows = 1000)));

    // 1. Stopped before sending by gates.min_rows: one message per channel.
    const first = await sync(stopped);
    expect(first.exitCode, first.stderr).toBe(6);
    expect(emulator.calls()).toEqual([]);
    expect(first.report.alerts).toEqual([expect.objectContaining({ contract: CONTRACT, action: "sent", kind: "stopped" })]);
    expect(receiver.received.map((a) => a.channel).sort()).toEqual(["pagerduty", "slack", "webhook"]);
    for (const alert of receiver.received) {
      const text = textOf(alert);
      for (const fact of [CONTRACT, "contact_engagement", "hubspot contacts", ...Object.values(OWNERS), "gates.min_rows", "16 eligible rows, fewer than 1000"]) {
        expect(text, `${alert.channel} names ${fact}`).toContain(fact);
      }
      expect(text).toContain(`dbt-activation plan --project-dir ${integrationProject} --target-path ${stopped}`);
      expect(text).toContain(`--select ${CONTRACT}`);
      expectNoSecret(alert);
    }
    const webhook = receiver.received.find((a) => a.channel === "webhook")!;
    expect(webhook.signatureValid).toBe(true);
    expect(webhook.body).toMatchObject({ event: "trigger", kind: "stopped", contract: CONTRACT, model: "contact_engagement", destination: "hubspot contacts", owners: OWNERS, rule: "gates.min_rows" });
    const slack = receiver.received.find((a) => a.channel === "slack")!;
    expect(slack.body.blocks.map((b: { type: string }) => b.type)).toEqual(["header", "section", "section", "section", "section", "context"]);
    const trigger = receiver.received.find((a) => a.channel === "pagerduty")!.body;
    expect(trigger).toMatchObject({ routing_key: ROUTING_KEY, event_action: "trigger", payload: { source: "dbt-activation", class: "stopped", component: "hubspot contacts" } });
    expect(await openIncidents()).toEqual([{ contract_name: CONTRACT, kind: "stopped", dedup_key: trigger.dedup_key }]);

    // 2. The same condition on the next run: not repeated.
    receiver.received.length = 0;
    const second = await sync(stopped);
    expect(second.exitCode).toBe(6);
    expect(second.report.alerts).toEqual([expect.objectContaining({ action: "suppressed", kind: "stopped", dedupKey: trigger.dedup_key })]);
    expect(receiver.received).toEqual([]);
    expect(second.stderr).toContain(`alert for ${CONTRACT} not repeated: stopped`);

    // 3. A changed condition (the gate now holds it: a test failed on 3 rows): alerted again, the same incident at PagerDuty.
    const gated = await artifacts(withAlerts, (r) => {
      const test = r.results.find((x) => x.unique_id.startsWith("test.") && x.unique_id.includes("not_null_contact_engagement_email"))!;
      test.status = "fail";
      test.failures = 3;
    });
    const third = await sync(gated);
    expect(third.exitCode).toBe(3);
    expect(receiver.received).toHaveLength(3);
    for (const alert of receiver.received) {
      expect(textOf(alert)).toContain("test not_null_contact_engagement_email: fail (3 failing rows)");
      expect(textOf(alert)).toContain("dbt build --select contact_engagement+");
      expectNoSecret(alert);
    }
    expect(receiver.received.find((a) => a.channel === "pagerduty")!.body).toMatchObject({ event_action: "trigger", dedup_key: trigger.dedup_key, payload: { class: "gate" } });
    expect(receiver.received.find((a) => a.channel === "webhook")!.signatureValid).toBe(true);

    // 4. The first good run: the rows land and the incident resolves on every channel.
    receiver.received.length = 0;
    const good = await artifacts(withAlerts);
    const fourth = await sync(good);
    expect(fourth.exitCode, fourth.stderr).toBe(0);
    expect(emulator.records("contacts").length).toBe(fourth.report.contracts[0].counts.created);
    expect(fourth.report.alerts).toEqual([expect.objectContaining({ action: "resolved", kind: "recovered" })]);
    expect(receiver.received.find((a) => a.channel === "pagerduty")!.body).toEqual({ routing_key: ROUTING_KEY, event_action: "resolve", dedup_key: trigger.dedup_key });
    expect(receiver.received.find((a) => a.channel === "webhook")!.body).toMatchObject({ event: "resolve", kind: "recovered", contract: CONTRACT, rule: "gate" });
    expect(receiver.received.find((a) => a.channel === "slack")!.body.text).toContain("recovered");
    expect(await openIncidents()).toEqual([]);

    // 5. Good again: nothing to say.
    receiver.received.length = 0;
    const fifth = await sync(good);
    expect(fifth.exitCode).toBe(0);
    expect(fifth.report.alerts).toBeUndefined();
    expect(receiver.received).toEqual([]);
  });

  it("a failing or hanging endpoint never fails the sync: bounded retries, logged, and tried again next run", async () => {
    const target = await artifacts((c) => ((c.monitoring.alert = { webhook_env: "ACTIVATION_WEBHOOK_URL", webhook_secret_env: "ACTIVATION_WEBHOOK_SECRET" }), (c.gates.min_rows = 1000)));
    receiver.mode = "fail";
    const failing = await sync(target, { DBT_ACTIVATION_ALERT_TIMEOUT_MS: "300" });
    expect(failing.exitCode).toBe(6);
    expect(receiver.refused).toBe(3);
    expect(failing.stderr).toContain("alert to webhook for contact_engagement_to_hubspot: attempt 3/3 failed (the URL in ACTIVATION_WEBHOOK_URL): HTTP 500");
    expect(failing.stderr).not.toContain("hooktoken99");
    expect(failing.report.alerts).toEqual([expect.objectContaining({ action: "not_delivered", deliveries: [{ channel: "webhook", ok: false, attempts: 3, error: "HTTP 500" }] })]);
    expect(await openIncidents()).toEqual([]);

    receiver.mode = "hang";
    receiver.refused = 0;
    const started = Date.now();
    const hanging = await sync(target, { DBT_ACTIVATION_ALERT_TIMEOUT_MS: "300" });
    expect(hanging.exitCode).toBe(6);
    expect(receiver.refused).toBe(3);
    expect(hanging.stderr).toContain("no answer within 300 ms");
    // Three timeouts and two pauses, not a hang (generous: the machine is shared).
    expect(Date.now() - started).toBeLessThan(60_000);

    // The alert was never delivered, so the next run sends it.
    receiver.mode = "ok";
    const delivered = await sync(target);
    expect(delivered.report.alerts).toEqual([expect.objectContaining({ action: "sent" })]);
    expect(receiver.received).toHaveLength(1);
    expect(receiver.received[0]!.signatureValid).toBe(true);
  });

  it("the pause rule alerts with the numbers and the replay, resume and rollback commands", async () => {
    const flaky = await startHubSpotEmulator({ accessToken: TOKEN, properties: integrationPortalProperties, faults: { recordRejectRate: 0.3, seed: 3 } });
    try {
      const target = await artifacts((c) => {
        c.monitoring.alert = { webhook_env: "ACTIVATION_WEBHOOK_URL", webhook_secret_env: "ACTIVATION_WEBHOOK_SECRET" };
        // 16 rows: below the default sample of 20 the percentage rule would not judge the run.
        c.monitoring.pause_if = { failed_rows_percent: 5, min_attempted: 5 };
      });
      const run = await sync(target, { HUBSPOT_BASE_PATH: flaky.url });
      expect(run.exitCode, run.stderr).toBe(4);
      const outcome = run.report.contracts[0];
      expect(outcome.paused).toBeDefined();
      expect(receiver.received).toHaveLength(1);
      const [alert] = receiver.received;
      expect(alert!.signatureValid).toBe(true);
      expect(alert!.body).toMatchObject({ kind: "paused", rule: "monitoring.pause_if", runId: outcome.runId, owners: OWNERS });
      expect(alert!.body.details).toEqual(expect.arrayContaining([outcome.paused, `failed with INJECTED_REJECTION: ${outcome.counts.failed} rows`]));
      expect(alert!.body.details[0]).toMatch(/^monitoring.pause_if: \d+ of \d+ attempted rows failed/);
      const connection = `--project-dir ${integrationProject} --profiles-dir ${integrationProject}${engine.args.length ? ` ${engine.args.join(" ")}` : ""}`;
      expect(alert!.body.next.map((n: { command: string }) => n.command)).toEqual([
        `dbt-activation replay ${connection.replace("--profiles-dir", `--target-path ${target} --profiles-dir`)} --contract ${CONTRACT}`,
        `dbt-activation resume ${connection} --contract ${CONTRACT}`,
        `dbt-activation rollback ${connection.replace("--profiles-dir", `--target-path ${target} --profiles-dir`)} --contract ${CONTRACT} --run ${outcome.runId}`,
      ]);
      // Every row the message names no key of (keys are emails here: personal data stays in the warehouse).
      for (const f of outcome.failures) expect(alert!.raw).not.toContain(f.key);
      expectNoSecret(alert!);
    } finally {
      await flaky.close();
    }
  });

  it("an alert-only contract is gated, planned and alerted on, and writes nothing", async () => {
    const alertOnly: Edit = (c) => ((c.monitoring.alert_only = true), (c.monitoring.alert = { slack_webhook_env: "ACTIVATION_SLACK_URL" }));
    const stopping = await artifacts((c) => (alertOnly(c), (c.gates.min_rows = 1000)));
    const run = await sync(stopping);
    expect(run.exitCode).toBe(6);
    expect(run.report.contracts[0]).toMatchObject({ status: "planned", alertOnly: true, wouldStop: ["gates.min_rows: 16 eligible rows, fewer than 1000"] });
    expect(receiver.received).toHaveLength(1);
    expect(receiver.received[0]!.body.text).toContain("alert-only: would stop before sending");
    expect(emulator.calls()).toEqual([]);

    const quiet = await sync(await artifacts(alertOnly));
    expect(quiet.exitCode, quiet.stderr).toBe(0);
    expect(quiet.report.alerts).toEqual([expect.objectContaining({ action: "resolved" })]);
    expect(emulator.calls()).toEqual([]);
    expect(await engine.query(`select count(*) as n from ${engine.ledgerTable("activation_ledger")}`)).toEqual([{ n: 0n }]);
  });
});
