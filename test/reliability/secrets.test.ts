/**
 * Secrets: known credentials are planted in the environment of every run (a HubSpot private-app token, HubSpot
 * OAuth client secret and refresh token, a Salesforce client secret, a warehouse password read by a profile's
 * env_var), then runs that succeed, fail per record, and fail on credentials (401, OAuth refused, a bad profile) are
 * made, and every output is searched: stdout, stderr, `--json` reports, error messages, and every table the syncer
 * writes (ledger, run log, dead letters, controls, leases). The sweep then plants more (a MotherDuck token in the
 * DuckDB path, a password in a PostgreSQL connection string, a Slack webhook URL, a token with a trailing newline) and
 * adds the remaining channels: JSON logs, the HTML report, alert messages and the ledger's side files.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { startAlertReceiver } from "../support/alert-receiver.ts";
import { startHubSpotEmulator, type HubSpotEmulator } from "../../emulators/hubspot/index.ts";
import { startSalesforceEmulator, type SalesforceEmulator } from "../../emulators/salesforce/index.ts";
import { integrationPortalProperties } from "../../scripts/hubspot-portal.ts";
import { integrationProject } from "../../scripts/dbt.ts";
import { copyArtifacts, freshDuckdb, integrationBuild, runCli, syncArgs, type CliRun } from "../support/cli.ts";
import { queryDuckDB } from "../support/warehouse.ts";

const SECRETS = {
  HUBSPOT_ACCESS_TOKEN: "pat-na1-PLANTEDhubspot0token7f3a9c",
  HUBSPOT_CLIENT_SECRET: "PLANTEDhubspotClientSecret22bb",
  HUBSPOT_REFRESH_TOKEN: "PLANTEDhubspotRefreshToken33cc",
  SALESFORCE_CLIENT_SECRET: "PLANTEDsalesforceClientSecret44dd",
  ACTIVATION_PG_PASSWORD: "PLANTEDwarehousePassword55ee",
};
/** Also a wrong token: what a 401 answers must not echo it either. */
const EXPIRED_TOKEN = "pat-na1-PLANTEDexpired0token66ff";
const NO_OAUTH = { HUBSPOT_CLIENT_ID: "", HUBSPOT_CLIENT_SECRET: "", HUBSPOT_REFRESH_TOKEN: "" };
const CONTRACT = "contact_engagement_to_hubspot";
const MODEL = "model.activation_integration_tests.contact_engagement";

let hubspot: HubSpotEmulator;
let salesforce: SalesforceEmulator;
let duckdbPath: string;
const outputs: { label: string; run: CliRun }[] = [];

function baseEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...SECRETS,
    HUBSPOT_CLIENT_ID: "planted-client-id",
    SALESFORCE_CLIENT_ID: "planted-sf-client-id",
    SALESFORCE_LOGIN_URL: salesforce.url,
    HUBSPOT_BASE_PATH: hubspot.url,
    ACTIVATION_DUCKDB_PATH: duckdbPath,
    ...extra,
  };
}

async function run(label: string, args: string[], env: Record<string, string>): Promise<CliRun> {
  const result = await runCli(args, env);
  outputs.push({ label, run: result });
  return result;
}

beforeAll(async () => {
  // The portals accept other credentials than the planted OAuth ones, so OAuth and client credentials fail.
  hubspot = await startHubSpotEmulator({
    accessToken: SECRETS.HUBSPOT_ACCESS_TOKEN,
    properties: integrationPortalProperties,
    faults: { recordRejectRate: 0.3, seed: 9 },
    oauth: { clientId: "planted-client-id", clientSecret: "another-secret", refreshToken: "another-refresh-token" },
  });
  salesforce = await startSalesforceEmulator({ clientId: "planted-sf-client-id", clientSecret: "another-sf-secret" });
  duckdbPath = await freshDuckdb();
});
afterAll(async () => {
  await hubspot?.close();
  await salesforce?.close();
});

function leaks(text: string): string[] {
  return [...Object.values(SECRETS), EXPIRED_TOKEN].filter((secret) => text.includes(secret) || text.includes(encodeURIComponent(secret)));
}

describe("no credential in any output", () => {
  it("runs that succeed, reject rows, and fail on credentials or profiles", async () => {
    const target = integrationBuild().targetPath;
    const select = ["--select", CONTRACT];
    const connection = ["--project-dir", integrationProject, "--profiles-dir", integrationProject];

    // Success with per-record rejections (dead letters), as text and JSON; then status and plan.
    expect((await run("sync --json (rejections)", syncArgs(target, ...select, "--json"), baseEnv())).exitCode).toBe(4);
    // The rejections trip the contract's pause rule (its reason is in the run log and the controls table).
    expect((await run("resume after the pause rule", ["resume", ...connection, "--contract", CONTRACT], baseEnv())).exitCode).toBe(0);
    expect((await run("sync text", syncArgs(target, ...select, "--full-resync", "--allow-large-change", "--reason", "resend"), baseEnv())).exitCode).toBe(4);
    expect((await run("status --json", ["status", ...connection, "--json"], baseEnv())).exitCode).toBe(0);
    expect((await run("status", ["status", ...connection], baseEnv())).exitCode).toBe(0);
    // The plan's verdict depends on whether the pause rule's sample (min_attempted) was met: what is checked here is
    // that none of its output holds a credential.
    expect([0, 6]).toContain((await run("plan --json", ["plan", ...syncArgs(target, ...select, "--json").slice(1)], baseEnv())).exitCode);
    expect((await run("pause", ["pause", ...connection, "--contract", CONTRACT, "--reason", "secrets test"], baseEnv())).exitCode).toBe(0);
    expect((await run("resume", ["resume", ...connection, "--contract", CONTRACT], baseEnv())).exitCode).toBe(0);

    // A 401 (expired private-app token, no OAuth to refresh with), as text and JSON.
    for (const json of [[], ["--json"]]) {
      // --full-resync: rows the earlier runs left unchanged or held as failed would otherwise make no call at all.
      const expired = await run(`401 ${json.join("")}`, syncArgs(target, ...select, "--full-resync", "--allow-large-change", "--reason", "401", ...json), baseEnv({ HUBSPOT_ACCESS_TOKEN: EXPIRED_TOKEN, ...NO_OAUTH }));
      expect(expired.exitCode).toBe(2);
      expect(expired.stdout + expired.stderr).toMatch(/401/);
    }

    // HubSpot OAuth refused (wrong client secret / refresh token), before any call and on a 401 with a token too.
    const resend = ["--full-resync", "--allow-large-change", "--reason", "credentials"];
    const oauth = await run("hubspot oauth refused", syncArgs(target, ...select, ...resend), baseEnv({ HUBSPOT_ACCESS_TOKEN: "" }));
    expect(oauth.exitCode).toBe(2);
    const refresh = await run("hubspot 401 then oauth refused", syncArgs(target, ...select, ...resend, "--json"), baseEnv({ HUBSPOT_ACCESS_TOKEN: EXPIRED_TOKEN }));
    expect(refresh.exitCode).toBe(2);

    // Salesforce client credentials refused: the contract pointed at Salesforce Contact (a new target for this ledger,
    // accepted: otherwise the run stops on the target change before it asks Salesforce anything).
    const toSalesforce = await copyArtifacts({
      manifest: (m) => {
        const contract = m.nodes[MODEL].config.meta.activation[0];
        contract.destination = { type: "salesforce", object: "Contact", match: { field: "Email" }, mode: "upsert", on_removed: "keep" };
        contract.fields = { first_name: "FirstName", last_name: "LastName", engagement_band: "Description" };
      },
    });
    for (const json of [[], ["--json"]]) {
      const refused = await run(`salesforce refused ${json.join("")}`, syncArgs(toSalesforce, ...select, ...resend, "--accept-new-target", ...json), baseEnv());
      // Exit 1 today (a known bug, see test/reliability/bad-input.test.ts); what matters here is what it prints.
      expect(refused.exitCode).not.toBe(0);
      expect(refused.stdout + refused.stderr).toMatch(/invalid client credentials/);
    }

    // The profile's password (env_var) against a closed port, and against the loopback server.
    const closed = await run("postgres closed port", syncArgs(target, ...select, "--target", "postgres"), baseEnv({ ACTIVATION_PG_PORT: "1" }));
    expect(closed.exitCode).toBe(2);
    const server = inject("postgres");
    if (server.ok) {
      const pgEnv = { ACTIVATION_PG_HOST: server.host, ACTIVATION_PG_PORT: String(server.port), ACTIVATION_PG_USER: server.user, ACTIVATION_PG_DATABASE: server.database };
      const reached = await run("postgres reached", syncArgs(target, ...select, "--target", "postgres", "--json"), baseEnv(pgEnv));
      expect(reached.exitCode).not.toBe(0);
      const wrongUser = await run("postgres unknown user", syncArgs(target, ...select, "--target", "postgres"), baseEnv({ ...pgEnv, ACTIVATION_PG_USER: "no_such_user" }));
      expect(wrongUser.exitCode).not.toBe(0);
    }

    console.log(outputs.map(({ label, run: r }) => `${label}: exit ${r.exitCode}: ${(r.stderr.trim() || r.stdout.trim()).split("\n").filter((l) => /error|fail|401|400|refused|password|ECONN/i.test(l)).slice(0, 2).join(" | ").slice(0, 300)}`).join("\n"));
    const found = outputs.flatMap(({ label, run: r }) => [
      ...leaks(r.stdout).map((s) => `${label} stdout: ${s}`),
      ...leaks(r.stderr).map((s) => `${label} stderr: ${s}`),
    ]);
    expect(found, outputs.map(({ label, run: r }) => `--- ${label} (${r.exitCode})\n${r.stdout}\n${r.stderr}`).join("\n").slice(0, 20_000)).toEqual([]);

    // Every table the syncer wrote, every column as text.
    const tables = await queryDuckDB(duckdbPath, `select table_name from information_schema.tables where table_name like 'activation_%' order by table_name`);
    expect(tables.map((t) => t.table_name)).toEqual(expect.arrayContaining(["activation_dead_letters", "activation_ledger", "activation_run_log", "activation_controls", "activation_leases"]));
    const letters = await queryDuckDB(duckdbPath, `select count(*) as n from "integration_tests"."main"."activation_dead_letters"`);
    expect(Number(letters[0]?.n)).toBeGreaterThan(0);
    for (const { table_name } of tables) {
      const rows = await queryDuckDB(duckdbPath, `select * from "integration_tests"."main"."${String(table_name)}"`);
      const text = JSON.stringify(rows, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
      expect(leaks(text), `table ${String(table_name)}`).toEqual([]);
    }
  }, 300_000);
});

/** Secrets only the sweep plants, each in one place a user could put it. */
const SWEEP = {
  motherDuckToken: "PLANTEDmotherduckToken77gg",
  pgUrlPassword: "PLANTEDpgUrlPassword88hh",
  slackPath: "PLANTEDslackWebhookPath99ii",
};

describe("the sweep: every place a secret can be planted, every channel it could leave by", () => {
  it("plants secrets in profiles, paths, connection strings, destination tokens and alert URLs, and finds none in any output", async () => {
    const sweep: { label: string; text: string }[] = [];
    const record = async (label: string, args: string[], env: Record<string, string>): Promise<CliRun> => {
      const result = await runCli(args, env);
      sweep.push({ label, text: `${result.stdout}\n${result.stderr}` });
      return result;
    };
    const secrets = [...Object.values(SECRETS), EXPIRED_TOKEN, ...Object.values(SWEEP)];
    const leaked = (text: string): string[] => secrets.filter((secret) => text.includes(secret) || text.includes(encodeURIComponent(secret)));
    const db = await freshDuckdb();
    const receiver = await startAlertReceiver({ webhookSecret: "unused-webhook-secret", routingKey: "unused-routing-key" });
    const slackUrl = `${receiver.url}/slack/T0001/B0001/${SWEEP.slackPath}`;
    const connection = ["--project-dir", integrationProject, "--profiles-dir", integrationProject];
    const env = (extra: Record<string, string> = {}): Record<string, string> => ({ ...baseEnv(), ACTIVATION_DUCKDB_PATH: db, ACTIVATION_SLACK_URL: slackUrl, ...extra });
    // The contract alerts on Slack (its pause rule and failed rows alert), so alert messages are searched too.
    const target = await copyArtifacts({
      manifest: (m) => {
        m.nodes[MODEL].config.meta.activation[0].monitoring.alert = { slack_webhook_env: "ACTIVATION_SLACK_URL" };
      },
    });
    const select = ["--select", CONTRACT];
    const resend = ["--full-resync", "--allow-large-change", "--reason", "sweep"];
    try {
      // Runs that succeed with rejected rows, as JSON logs and as a JSON report; status, pause, resume, the HTML report.
      const rejected = await record("sync --json --log-format json", syncArgs(target, ...select, "--json", "--log-format", "json"), env());
      expect(rejected.exitCode, rejected.stderr).toBe(4);
      expect((await record("status --json", ["status", ...connection, "--json"], env())).exitCode).toBe(0);
      expect((await record("pause", ["pause", ...connection, "--contract", CONTRACT, "--reason", "sweep"], env())).exitCode).toBe(0);
      expect((await record("resume", ["resume", ...connection, "--contract", CONTRACT], env())).exitCode).toBe(0);

      // The destination down (500 on every call) and refusing the token (401).
      hubspot.setFaults({ serverErrorRate: 1, seed: 3 });
      const down = await record("hubspot 500", syncArgs(target, ...select, ...resend, "--json"), env({ HUBSPOT_REQUEST_TIMEOUT_MS: "5000" }));
      expect(down.exitCode).not.toBe(0);
      hubspot.setFaults({});
      const refused = await record("hubspot 401", syncArgs(target, ...select, ...resend), env({ HUBSPOT_ACCESS_TOKEN: EXPIRED_TOKEN, ...NO_OAUTH }));
      expect(refused.exitCode).toBe(2);

      // A token read from a file with echo: refused before any call, naming the variable, not a 401 later.
      const calls = hubspot.calls().length;
      const newline = await record("token with a trailing newline", syncArgs(target, ...select, ...resend, "--json"), env({ HUBSPOT_ACCESS_TOKEN: `${SECRETS.HUBSPOT_ACCESS_TOKEN}\n` }));
      expect(newline.exitCode).toBe(2);
      expect(newline.stdout).toContain("HUBSPOT_ACCESS_TOKEN begins or ends with a line break");
      expect(hubspot.calls().length).toBe(calls);

      const html = join(db, "..", "report.html");
      expect((await record("report", ["report", ...connection, "--out", html], env())).exitCode).toBe(0);
      sweep.push({ label: "the HTML report", text: await readFile(html, "utf8") });

      // A MotherDuck path carrying its token, for every command that opens the warehouse.
      const motherDuck = { ACTIVATION_DUCKDB_PATH: `md:planted_db?motherduck_token=${SWEEP.motherDuckToken}` };
      for (const [label, args] of [
        ["sync", syncArgs(target, ...select, "--json")],
        ["status", ["status", ...connection]],
        ["pause", ["pause", ...connection, "--contract", CONTRACT, "--reason", "md"]],
      ] as const) {
        const run = await record(`motherduck ${label}`, [...args], env(motherDuck));
        expect(run.exitCode, `${label}: ${run.stdout}${run.stderr}`).toBe(2);
        expect(run.stdout + run.stderr).toContain("motherduck_token=***");
      }

      // A PostgreSQL connection string with its password, where a host belongs.
      const url = await record("postgres connection string", syncArgs(target, ...select, "--target", "postgres"), env({ ACTIVATION_PG_HOST: `postgresql://planted:${SWEEP.pgUrlPassword}@127.0.0.1:1/db`, ACTIVATION_PG_PORT: "1" }));
      expect(url.exitCode).toBe(2);

      // Alert messages as the receiver got them.
      expect(receiver.received.length).toBeGreaterThan(0);
      for (const alert of receiver.received) sweep.push({ label: `alert ${alert.channel}`, text: alert.raw });

      // The ledger's tables and its side files (the kill switch and the status a running sync publishes).
      const tables = await queryDuckDB(db, `select table_name from information_schema.tables where table_name like 'activation_%' order by table_name`);
      for (const { table_name } of tables) {
        const rows = await queryDuckDB(db, `select * from "integration_tests"."main"."${String(table_name)}"`);
        sweep.push({ label: `table ${String(table_name)}`, text: JSON.stringify(rows, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)) });
      }
      const side = `${db}.activation`;
      for (const entry of await readdir(side, { recursive: true, withFileTypes: true })) {
        if (entry.isFile()) sweep.push({ label: `side file ${entry.name}`, text: await readFile(join(entry.parentPath, entry.name), "utf8") });
      }

      const found = sweep.flatMap(({ label, text }) => leaked(text).map((secret) => `${label}: ${secret}`));
      expect(found, sweep.map(({ label, text }) => `--- ${label}\n${text.slice(0, 3000)}`).join("\n").slice(0, 30_000)).toEqual([]);
    } finally {
      hubspot.setFaults({});
      await receiver.close();
    }
  }, 300_000);
});
