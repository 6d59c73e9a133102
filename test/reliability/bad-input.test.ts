/**
 * Bad input through the real CLI, table-driven: broken contracts (manifest mutations and `validate` on YAML), broken
 * or mismatched artifacts, flags and profiles, credentials, injection attempts in identifiers and values, and bad
 * rows (null, shared keys, values the destination refuses, oversized strings). Each gets a clear message, the
 * documented non-zero exit code, and no destination write of what was not meant to be written.
 */
import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it, type ExpectStatic } from "vitest";
import { startHubSpotEmulator, type HubSpotEmulator, type HubSpotPropertyDefinition } from "../../emulators/hubspot/index.ts";
import { startSalesforceEmulator } from "../../emulators/salesforce/index.ts";
import { integrationPortalProperties } from "../../scripts/hubspot-portal.ts";
import { repoRoot } from "../../scripts/dbt.ts";
import { copyArtifacts, freshDuckdb, integrationBuild, runCli, syncArgs } from "../support/cli.ts";
import { execDuckDB, queryDuckDB } from "../support/warehouse.ts";

const TOKEN = "bad-input-token";
const CONTRACT = "contact_engagement_to_hubspot";
const MODEL = "model.activation_integration_tests.contact_engagement";
const ACTIVATION_TABLE = `"integration_tests"."main"."contact_engagement_to_hubspot"`;
const LEDGER = `"integration_tests"."main"."activation_ledger"`;
const DEAD_LETTERS = `"integration_tests"."main"."activation_dead_letters"`;
const AMARA = "amara.singh@fathomrobotics.ai";
const INVALID_FIXTURE = join(repoRoot, "test", "fixtures", "contracts", "invalid");
const BAD_YAML_FIXTURE = join(repoRoot, "test", "fixtures", "contracts", "bad-yaml");
const RELIABILITY_YAML = join(repoRoot, "test", "fixtures", "reliability", "bad-yaml");
const ALIAS_BOMB = join(repoRoot, "test", "fixtures", "reliability", "alias-bomb");

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests rewrite arbitrary artifact JSON
type Json = any;

interface Case {
  name: string;
  /** Rewrites the manifest's contract (or the whole manifest / run_results) in a private copy of the artifacts. */
  contract?: (c: Json) => void;
  manifest?: (m: Json) => void;
  runResults?: (r: Json) => void;
  /** Raw edits of the copied target dir. */
  files?: (dir: string) => Promise<void>;
  /** SQL run on the test's private DuckDB copy before the sync (rows changed after the gate). */
  warehouse?: string;
  /** The command line; default: sync of the one contract against the (copied) target dir. */
  args?: (target: string) => string[];
  env?: Record<string, string>;
  /** HubSpot contact properties the portal has beyond the integration portal's. */
  contactProperties?: HubSpotPropertyDefinition[];
  exit: number;
  /** What the message must say (stdout + stderr). */
  says: RegExp;
  /** Default "nothing": no destination call but reads, no record. "rows": only the listed keys must not land. */
  writes?: { nothing: true } | { not: string[]; landed?: number };
  then?: (ctx: { duckdbPath: string; emulator: HubSpotEmulator; output: string }) => Promise<void>;
}

const contractOf = (m: Json): Json => m.nodes[MODEL].config.meta.activation[0];
const sync = (target: string, ...extra: string[]): string[] => syncArgs(target, "--select", CONTRACT, ...extra);
const nothing = { nothing: true } as const;

const CASES: Case[] = [
  // Contract shapes, through the manifest (what `dbt parse` put there from the YAML).
  { name: "unknown key in a contract", contract: (c) => (c.destnation = c.destination), exit: 2, says: /contract contact_engagement_to_hubspot, field \(contract\): Unrecognized key: "destnation"|field destnation/ },
  { name: "unknown key in a nested object", contract: (c) => (c.destination.on_removd = "keep"), exit: 2, says: /field destination(\.on_removd)?: Unrecognized key/ },
  { name: "wrong type: key is a number", contract: (c) => (c.key = 42), exit: 2, says: /field key: .*expected string/i },
  { name: "wrong type: fields is a list", contract: (c) => (c.fields = ["first_name"]), exit: 2, says: /field fields: .*expected record/i },
  { name: "empty fields", contract: (c) => (c.fields = {}), exit: 2, says: /field fields: map at least one column/ },
  { name: "bad enum: status", contract: (c) => (c.status = "launched"), exit: 2, says: /field status: .*"launch"/ },
  { name: "bad enum: destination type", contract: (c) => (c.destination.type = "hubspt"), exit: 2, says: /field destination\.type: .*hubspot/ },
  { name: "contract name not snake_case", contract: (c) => (c.name = "Contact Engagement"), manifest: () => undefined, args: (t) => syncArgs(t), exit: 2, says: /field name: must be lower snake_case/ },
  { name: "activation is a string", manifest: (m) => (m.nodes[MODEL].config.meta.activation = "yes please"), args: (t) => syncArgs(t), exit: 2, says: /contract #1, field \(contract\): .*expected object/i },
  {
    name: "duplicate contract names",
    manifest: (m) => (m.nodes["model.activation_integration_tests.account_health"].config.meta.activation[0].name = CONTRACT),
    args: (t) => syncArgs(t),
    exit: 2,
    says: /field name: also declared on model .*contract names must be unique/,
  },
  { name: "bad duration", contract: (c) => (c.freshness.max_age = "24 hours"), exit: 2, says: /field freshness\.max_age/ },
  { name: "share out of range", contract: (c) => (c.gates.min_match_rate = 1.5), exit: 2, says: /field gates\.min_match_rate: .*<=1/ },
  { name: "max_null_rate on an unmapped column", contract: (c) => (c.gates.max_null_rate = { lifecycle_status: 0.1 }), exit: 2, says: /gates\.max_null_rate\.lifecycle_status: lifecycle_status is not a mapped field/ },
  { name: "two columns to one destination field", contract: (c) => (c.fields.job_title = "firstname"), exit: 2, says: /field fields\.(job_title|first_name): maps to firstname, which .* already maps to/ },
  { name: "another column to the match field", contract: (c) => (c.fields.job_title = "email"), exit: 2, says: /field fields\.job_title: maps to email, the match field: the sync key \(email\)/ },
  { name: "launch but not launch-ready", contract: (c) => delete c.monitoring, exit: 2, says: /field monitoring\.pause_if: not launch-ready, yet status is launch/ },
  { name: "caveats without a limited rollout", contract: (c) => (c.status = "caveats"), exit: 2, says: /field status: caveats runs alert-only .* or as a limited rollout/ },
  // Injection attempts in identifiers: rejected by the schema before any SQL is built.
  { name: "injection in the key", contract: (c) => (c.key = 'email"; drop table activation_ledger; --'), exit: 2, says: /field key: must be a plain identifier/ },
  { name: "injection in a mapped column", contract: (c) => (c.fields['x"; drop table activation_ledger; --'] = "lastname"), exit: 2, says: /field fields\.x"; drop table activation_ledger; --: must be a plain identifier|field fields\.x".*: (must be a plain identifier|Invalid key)/ },
  { name: "injection in the freshness column", contract: (c) => (c.freshness.column = "scored_at; delete from contacts"), exit: 2, says: /field freshness\.column: must be a plain identifier/ },
  // Columns and destination fields.
  { name: "mapped column the model lacks", contract: (c) => (c.fields.favourite_colour = "favourite_colour"), exit: 2, says: /fields\.favourite_colour: column favourite_colour/ },
  { name: "unknown destination field", contract: (c) => (c.fields.job_title = "jobtitle_custom"), exit: 2, says: /jobtitle_custom is not a field of HubSpot contacts/ },
  {
    name: "allowed values the destination does not accept (drift)",
    contract: (c) => c.fields.engagement_band.allowed.push("platinum"),
    exit: 2,
    says: /engagement_band allows platinum in the contract, which .* does not accept/,
  },
  // Artifacts.
  { name: "missing manifest.json", files: (d) => rm(join(d, "manifest.json")), exit: 2, says: /manifest\.json not found at .*run `dbt build` first|manifest\.json not found/ },
  { name: "missing run_results.json", files: (d) => rm(join(d, "run_results.json")), exit: 2, says: /run_results\.json not found at .*run `dbt build` first/ },
  { name: "truncated manifest.json", files: async (d) => writeFile(join(d, "manifest.json"), (await readFile(join(d, "manifest.json"), "utf8")).slice(0, 5000)), exit: 2, says: /manifest\.json.*(JSON|json)/ },
  { name: "empty run_results.json", files: (d) => writeFile(join(d, "run_results.json"), ""), exit: 2, says: /run_results\.json/ },
  { name: "run_results.json is a list", runResults: (r) => r.results.splice(0), files: (d) => writeFile(join(d, "run_results.json"), "[]"), exit: 2, says: /run_results\.json/ },
  { name: "manifest nodes of the wrong type", manifest: (m) => (m.nodes = [1, 2, 3]), exit: 2, says: /manifest\.json at [\s\S]*nodes: .*expected record/ },
  { name: "artifacts of two invocations", runResults: (r) => (r.metadata.invocation_id = "00000000-0000-0000-0000-000000000000"), exit: 2, says: /come from different dbt invocations/ },
  { name: "unsupported manifest version", manifest: (m) => (m.metadata.dbt_schema_version = "https://schemas.getdbt.com/dbt/manifest/v11.json"), exit: 2, says: /v11\.json; dbt-activation reads v12/ },
  { name: "unsupported run_results version", runResults: (r) => (r.metadata.dbt_schema_version = "https://schemas.getdbt.com/dbt/run-results/v5.json"), exit: 2, says: /v5\.json; dbt-activation reads v6/ },
  { name: "artifacts of `dbt run`", runResults: (r) => (r.args.which = "run"), exit: 2, says: /dbt run/ },
  // Flags, profiles, credentials.
  { name: "unknown --select", args: (t) => syncArgs(t, "--select", "nope"), exit: 2, says: /--select names no contract: nope/ },
  { name: "bad --shard", args: (t) => sync(t, "--shard", "3/2"), exit: 2, says: /--shard/ },
  { name: "--allow-large-change without a reason", args: (t) => sync(t, "--allow-large-change"), exit: 2, says: /--reason/ },
  { name: "unknown profile target", args: (t) => sync(t, "--target", "nope"), exit: 2, says: /target.*nope/ },
  { name: "no profiles.yml", args: (t) => [...sync(t), "--profiles-dir", join(repoRoot, "test", "fixtures", "reliability")], env: { DBT_PROFILES_DIR: "" }, exit: 2, says: /profiles\.yml/ },
  { name: "no credentials", env: { HUBSPOT_ACCESS_TOKEN: "" }, exit: 2, says: /contract contact_engagement_to_hubspot: set HUBSPOT_ACCESS_TOKEN/ },
  { name: "expired or invalid token (401)", env: { HUBSPOT_ACCESS_TOKEN: "pat-na1-expired" }, exit: 2, says: /HubSpot 401 INVALID_AUTHENTICATION/ },
  {
    name: "half the OAuth variables",
    env: { HUBSPOT_ACCESS_TOKEN: "", HUBSPOT_CLIENT_ID: "id", HUBSPOT_CLIENT_SECRET: "secret" },
    exit: 2,
    says: /HubSpot OAuth needs all of HUBSPOT_CLIENT_ID, HUBSPOT_CLIENT_SECRET and HUBSPOT_REFRESH_TOKEN/,
  },
  // Rows changed after the gate: rejected before sending, or refused by the destination; the others land.
  {
    name: "null key",
    warehouse: `update ${ACTIVATION_TABLE} set email = null where email = '${AMARA}'`,
    exit: 4,
    says: /1 rejected before sending[\s\S]*rejected: 1 row\(s\) with a null key/,
    writes: { not: [AMARA], landed: 15 },
  },
  {
    name: "duplicate key",
    warehouse: `update ${ACTIVATION_TABLE} set email = '${AMARA}' where email = (select max(email) from ${ACTIVATION_TABLE})`,
    exit: 4,
    says: /2 rejected before sending[\s\S]*rejected: key amara\.singh@fathomrobotics\.ai appears in 2 rows/,
    writes: { not: [AMARA], landed: 14 },
  },
  {
    name: "value outside allowed (changed after the gate): refused by HubSpot, dead-lettered",
    warehouse: `update ${ACTIVATION_TABLE} set engagement_band = 'platinum' where email = '${AMARA}'`,
    exit: 4,
    says: /row amara\.singh@fathomrobotics\.ai: INVALID_OPTION: .*platinum was not one of the allowed options/,
    writes: { not: [AMARA], landed: 15 },
    then: async ({ duckdbPath }) => {
      const letters = await queryDuckDB(duckdbPath, `select sync_key, error_code from ${DEAD_LETTERS}`);
      expect(letters).toEqual([{ sync_key: AMARA, error_code: "INVALID_OPTION" }]);
    },
  },
  {
    name: "oversized string (34 MB, over the request size limit)",
    warehouse: `update ${ACTIVATION_TABLE} set first_name = repeat('x', 34000000) where email = '${AMARA}'`,
    exit: 4,
    says: /row amara\.singh@fathomrobotics\.ai: .*413/,
    // Only its own row fails: the 413 is split like a 400 until the oversized row stands alone.
    writes: { not: [AMARA], landed: 15 },
    then: async ({ duckdbPath }) => {
      const letters = await queryDuckDB(duckdbPath, `select sync_key, message from ${DEAD_LETTERS} where sync_key = '${AMARA}'`);
      expect(String(letters[0]?.message)).toMatch(/413/);
    },
  },
  {
    name: "injection in a value is data, sent verbatim",
    warehouse: `update ${ACTIVATION_TABLE} set first_name = 'Robert''); drop table ${LEDGER}; --' where email = '${AMARA}'`,
    exit: 0,
    says: /16 eligible rows, 16 created/,
    writes: { not: [], landed: 16 },
    then: async ({ duckdbPath, emulator }) => {
      expect(emulator.findByProperty("contacts", "email", AMARA)?.properties.firstname).toBe(`Robert'); drop table ${LEDGER}; --`);
      expect(await queryDuckDB(duckdbPath, `select count(*) as n from ${LEDGER}`)).toEqual([{ n: 16n }]);
    },
  },
  // Values with no exact destination form: refused per row with the reason, the other rows sent (issue 13, item 3).
  ...(
    [
      ["TIME", "time", "time '12:30:00'", /job_title: a TIME value has no destination type/],
      ["INTERVAL", "interval", "interval '1 hour'", /job_title: an INTERVAL value has no destination type/],
      ["BLOB", "blob", "'\\xAA'::blob", /job_title: a binary value \(BLOB\/BYTEA\)/],
      ["an infinite timestamp", "timestamp", "'infinity'::timestamp", /job_title: an infinite or out-of-range timestamp/],
      ["NaN", "double", "'nan'::double", /job_title: NaN is not a number/],
    ] as const
  ).map(
    ([name, type, value, says]): Case => ({
      name: `a ${name} value refuses its own row only`,
      warehouse: `alter table ${ACTIVATION_TABLE} alter column job_title set data type ${type} using (case when email = '${AMARA}' then ${value} else null end)`,
      exit: 4,
      says: new RegExp(`row amara\\.singh@fathomrobotics\\.ai: UNSENDABLE_VALUE: ${says.source}`),
      writes: { not: [AMARA], landed: 15 },
    }),
  ),
  {
    name: "a DECIMAL(38,0) beyond 2^53 is sent exactly, as text",
    warehouse: `alter table ${ACTIVATION_TABLE} alter column job_title set data type decimal(38,0) using (case when email = '${AMARA}' then 123456789012345678901234567890 else 7 end)`,
    exit: 0,
    says: /16 created/,
    writes: { not: [], landed: 16 },
    then: async ({ emulator }) => expect(emulator.findByProperty("contacts", "email", AMARA)?.properties.jobtitle).toBe("123456789012345678901234567890"),
  },
  {
    name: "a text column mapped to a HubSpot number property stops before sending",
    contactProperties: [{ name: "seniority_score", type: "number" }],
    contract: (c) => (c.fields.job_title = "seniority_score"),
    exit: 2,
    says: /seniority_score is a number field in HubSpot contacts; a string column cannot be written to it/,
  },
  {
    name: "a newline and an ANSI escape in a key cannot forge a report line",
    warehouse: `update ${ACTIVATION_TABLE} set email = 'a' || chr(10) || 'synced   forged' || chr(27) || '[2j' where email = '${AMARA}'`,
    args: (t) => ["plan", ...sync(t).slice(1)],
    exit: 0,
    says: /a\\x0asynced {3}forged\\x1b\[2j/,
    then: async ({ output }) => expect(output.split("\n").filter((l) => /^synced {3}forged/i.test(l))).toEqual([]),
  },
  // validate on YAML files (file:line:column).
  { name: "validate: malformed YAML", args: () => ["validate", "--project-dir", BAD_YAML_FIXTURE], exit: 2, says: /models\/schema\.yml:\d+:\d+/ },
  { name: "validate: invalid contracts", args: () => ["validate", "--project-dir", INVALID_FIXTURE, "--select", "bad_destination"], exit: 2, says: /destination\.type: "hubspt" is not one of .* \(did you mean "hubspot"\?\)/ },
  { name: "validate: a YAML alias bomb", args: () => ["validate", "--project-dir", ALIAS_BOMB], exit: 2, says: /models\/schema\.yml:\d+:\d+: .*invalid YAML: .*alias/i },
  {
    name: "a 300-character contract name (generated file and model names come from it)",
    contract: (c) => (c.name = "c".repeat(300)),
    manifest: () => undefined,
    args: (t) => syncArgs(t),
    exit: 2,
    says: /field name: must be at most 53 characters/,
  },
  { name: "validate: injection in identifiers", args: () => ["validate", "--project-dir", RELIABILITY_YAML], exit: 2, says: /models\/schema\.yml:\d+:\d+: .*field key: must be a plain identifier/ },
];

/** Bugs these suites found, fixed since: kept as regression cases. */
const FOUND_BUGS: Case[] = [
  {
    name: "Salesforce refuses the client credentials: exit 2 like a HubSpot 401 (was: exit 1, an internal error)",
    contract: (c) => {
      c.destination = { type: "salesforce", object: "Contact", match: { field: "Email" }, mode: "upsert", on_removed: "keep" };
      c.fields = { first_name: "FirstName", last_name: "LastName", engagement_band: "Description" };
    },
    env: { SALESFORCE_CLIENT_ID: "sf-client", SALESFORCE_CLIENT_SECRET: "not-the-secret" },
    exit: 2,
    says: /invalid client credentials/,
  },
  {
    name: "a 34 MB value fails its own row only (was: the 413 failed its whole batch)",
    warehouse: `update ${ACTIVATION_TABLE} set first_name = repeat('x', 34000000) where email = '${AMARA}'`,
    exit: 4,
    says: /row amara\.singh@fathomrobotics\.ai: .*413/,
    writes: { not: [AMARA], landed: 15 },
  },
];

async function runCase(c: Case, expect: ExpectStatic): Promise<void> {
  const properties = { ...integrationPortalProperties, contacts: [...(integrationPortalProperties.contacts ?? []), ...(c.contactProperties ?? [])] };
  const emulator = await startHubSpotEmulator({ accessToken: TOKEN, properties });
  const salesforce = await startSalesforceEmulator({ clientId: "sf-client", clientSecret: "the-secret" });
  try {
    const duckdbPath = await freshDuckdb();
    if (c.warehouse) await execDuckDB(duckdbPath, c.warehouse);
    const needsCopy = c.contract || c.manifest || c.runResults || c.files;
    const target = needsCopy
      ? await copyArtifacts({
          manifest: (m) => {
            c.manifest?.(m);
            if (c.contract) c.contract(contractOf(m));
          },
          ...(c.runResults ? { runResults: c.runResults } : {}),
        })
      : integrationBuild().targetPath;
    if (c.files) await c.files(target);
    const args = c.args ? c.args(target) : sync(target);
    const env = { HUBSPOT_ACCESS_TOKEN: TOKEN, HUBSPOT_BASE_PATH: emulator.url, SALESFORCE_LOGIN_URL: salesforce.url, ACTIVATION_DUCKDB_PATH: duckdbPath, ...c.env };
    const run = await runCli(args, env);
    const output = `${run.stdout}\n${run.stderr}`;
    expect(run.exitCode, output).toBe(c.exit);
    expect(output).toMatch(c.says);
    // A bug is exit 1 with a stack trace; bad input never is.
    expect(output).not.toMatch(/\n\s+at .*\.ts:\d+:\d+/);
    const writes = c.writes ?? nothing;
    if ("nothing" in writes) {
      expect(emulator.calls().filter((call) => call.method !== "GET")).toEqual([]);
      expect(emulator.records("contacts")).toEqual([]);
      expect(salesforce.records("Contact")).toEqual([]);
    } else {
      for (const key of writes.not) expect(emulator.findByProperty("contacts", "email", key)).toBeUndefined();
      if (writes.landed !== undefined) expect(emulator.records("contacts")).toHaveLength(writes.landed);
    }
    await c.then?.({ duckdbPath, emulator, output });
  } finally {
    await emulator.close();
    await salesforce.close();
  }
}

describe("bad input: a clear error, the right exit code, no write of what was refused", () => {
  it("has at least 30 cases", () => {
    expect(CASES.length).toBeGreaterThanOrEqual(30);
    expect(new Set(CASES.map((c) => c.name)).size).toBe(CASES.length);
  });

  // Each case has its own emulators, DuckDB copy and artifacts, so they run side by side.
  it.concurrent.for(CASES.map((c) => [c.name, c] as const))("%s", async ([, c], { expect }) => runCase(c, expect));
});

describe("regressions: bugs this suite found", () => {
  for (const c of FOUND_BUGS) it(c.name, async ({ expect }) => runCase(c, expect));
});

