/**
 * `dbt-activation validate`: fixture dbt projects under test/fixtures/contracts/ (every contract field passing and
 * failing), exact file:line:column, did-you-mean, columns against manifest and catalog, launch readiness and status.
 */
import { mkdtemp, mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { integrationProject, repoRoot } from "../../scripts/dbt.ts";
import { BadInputError } from "../../src/errors.ts";
import { closest, editDistance } from "../../src/validate/suggest.ts";
import { statusProblems } from "../../src/contract/status.ts";
import { formatProblem, type Problem } from "../../src/validate/types.ts";
import { runValidate } from "../../src/validate/validate.ts";
import { contractSchema } from "../../src/contract/schema.ts";
import { integrationBuild, runCli } from "../support/cli.ts";

const fixtures = join(repoRoot, "test", "fixtures", "contracts");
const fixture = (name: string) => join(fixtures, name);

/** The complete fixture declares monitoring.alert, which no run sends yet. */

/** `file:line:column path: message`: compact, and exact about where. */
const located = (p: Problem) => `${p.file}:${p.line}:${p.column} ${p.path}: ${p.message}`;

interface ModelSpec {
  name: string;
  columns: string[];
  /** Tests as `test_name:column`. */
  tests?: string[];
  enforced?: boolean;
}

/** A minimal manifest v12 (and optionally catalog.json) in a scratch target dir. */
async function artifacts(project: string, models: ModelSpec[], catalog?: Record<string, { name: string; type: string }[]>): Promise<string> {
  const dir = await mkdtemp(join(inject("scratchRoot"), "validate-"));
  await mkdir(dir, { recursive: true });
  const nodes: Record<string, unknown> = {};
  for (const m of models) {
    const id = `model.${project}.${m.name}`;
    nodes[id] = {
      unique_id: id,
      resource_type: "model",
      name: m.name,
      package_name: project,
      original_file_path: `models/${m.name}.sql`,
      patch_path: `${project}://models/schema.yml`,
      relation_name: `"db"."main"."${m.name}"`,
      columns: Object.fromEntries(m.columns.map((c) => [c, { name: c, data_type: null, description: `the ${c}` }])),
      config: { meta: {}, enabled: true, contract: { enforced: Boolean(m.enforced) } },
      depends_on: { nodes: [`seed.${project}.raw_${m.name}`] },
    };
    for (const t of m.tests ?? []) {
      const [test, column] = t.split(":") as [string, string];
      const tid = `test.${project}.${test}_${m.name}_${column}.0123456789`;
      nodes[tid] = { unique_id: tid, resource_type: "test", name: `${test}_${m.name}_${column}`, package_name: project, attached_node: id, column_name: column, test_metadata: { name: test, namespace: null, kwargs: { column_name: column } }, depends_on: { nodes: [id] } };
    }
  }
  const manifest = { metadata: { dbt_schema_version: "https://schemas.getdbt.com/dbt/manifest/v12.json", project_name: project, invocation_id: "x" }, nodes };
  await writeFile(join(dir, "manifest.json"), JSON.stringify(manifest));
  if (catalog) {
    const catalogNodes = Object.fromEntries(
      Object.entries(catalog).map(([model, cols]) => [
        `model.${project}.${model}`,
        { columns: Object.fromEntries(cols.map((c, index) => [c.name.toUpperCase(), { name: c.name.toUpperCase(), type: c.type, index: index + 1, comment: null }])) },
      ]),
    );
    await writeFile(join(dir, "catalog.json"), JSON.stringify({ metadata: {}, nodes: catalogNodes, sources: {} }));
  }
  return dir;
}

describe("did you mean", () => {
  it("measures edits, counting a swap of two letters as one", () => {
    expect(editDistance("destination", "destnation")).toBe(1);
    expect(editDistance("emial", "email")).toBe(1);
    expect(editDistance("", "abc")).toBe(3);
  });

  it("suggests the closest name within tolerance, a name the word is a prefix of, or nothing", () => {
    expect(closest("on_removd", ["mode", "on_removed", "list_id"])).toBe("on_removed");
    expect(closest("Email", ["email", "domain"])).toBe("email");
    expect(closest("slack_webhook", ["slack_webhook_env", "webhook_env", "email"])).toBe("slack_webhook_env");
    expect(closest("zzz", ["key", "grain"])).toBeUndefined();
    expect(closest("kye", ["key"])).toBe("key");
  });
});

describe("validate: the contract schema, located in the YAML", () => {
  it("accepts a project whose contracts use every field, in config.meta lists and old top-level meta mappings", async () => {
    const report = await runValidate({ projectDir: fixture("complete") });
    expect(report.errors.map(formatProblem)).toEqual([]);
    // Alerts are declared but not sent yet: the one warning (test/contract/enforcement.test.ts).
    expect(report.warnings.map(located)).toEqual([]);
    expect(report.exitCode).toBe(0);
    expect(report.manifest).toBeUndefined();
    expect(report.contracts.map((c) => [c.name, c.model, c.file, c.line, c.status, c.launchReady, c.valid])).toEqual([
      ["renewal_risk_to_salesforce", "account_churn_risk", "models/schema.yml", 9, "launch", true, true],
      ["risk_audience_to_hubspot", "account_churn_risk", "models/schema.yml", 47, "caveats", false, true],
      ["legacy_scores_to_zendesk", "legacy_scores", "models/schema.yml", 79, "paused", false, true],
    ]);
    expect(report.contracts[1]!.reasons).toEqual([
      "gates.min_match_rate: the matching rule is untested (declare the share of rows that must match)",
      "owners.destination: no destination owner",
      "freshness: none declared",
      "monitoring.pause_if: no pause rule",
      "owners: only data-team owners (name field, destination or workflow owners beyond the model owner)",
    ]);
  });

  it("names file:line:column and the field path of every failing field, with did-you-mean for keys and enum values", async () => {
    const report = await runValidate({ projectDir: fixture("invalid") });
    expect(report.exitCode).toBe(2);
    expect(report.errors.map(located)).toEqual([
      "models/schema.yml:8:19 name: must be lower snake_case (it names the sync in logs, the ledger and dbt docs)",
      "models/schema.yml:13:13 destination: Required",
      'models/schema.yml:16:13 destnation: unknown key "destnation" (did you mean "destination"?)',
      "models/schema.yml:19:23 decision: Too small: expected string to have >=1 characters",
      'models/schema.yml:20:21 status: "pasued" is not one of launch | caveats | paused (did you mean "paused"?)',
      "models/schema.yml:24:13 key: Required",
      "models/schema.yml:26:20 grain: Too small: expected string to have >=1 characters",
      "models/schema.yml:31:18 key: must be a plain identifier (letters, digits, underscores; not starting with a digit)",
      'models/schema.yml:38:21 destination.type: "hubspt" is not one of hubspot | salesforce | braze | zendesk (did you mean "hubspot"?)',
      "models/schema.yml:39:23 destination.object: Too small: expected string to have >=1 characters",
      "models/schema.yml:40:22 destination.match.field: Required",
      'models/schema.yml:41:21 destination.mode: "upsrt" is not one of upsert | update | create | mirror | audience (did you mean "upsert"?)',
      'models/schema.yml:42:15 destination.on_removd: unknown key "on_removd" (did you mean "on_removed"?)',
      "models/schema.yml:47:109 destination.on_removed: create mode never touches records it did not create: use on_removed: keep",
      "models/schema.yml:52:26 destination.list_id: audience mode needs the list_id to sync membership of",
      "models/schema.yml:57:92 destination.list_id: list_id applies to mode: audience only",
      'models/schema.yml:64:15 fields.first-name: invalid key "first-name": must be a plain identifier (letters, digits, underscores; not starting with a digit)',
      "models/schema.yml:65:26 fields.last_name: expected a string or a mapping",
      'models/schema.yml:66:41 fields.job_title.on_nul: unknown key "on_nul" (did you mean "on_null"?)',
      'models/schema.yml:67:51 fields.plan_tier.on_null: "ignore" is not one of skip | clear | fail',
      "models/schema.yml:67:68 fields.plan_tier.allowed: Too small: expected array to have >=1 items",
      'models/schema.yml:67:83 fields.plan_tier.overwrite: "sometimes" is not one of always | if_empty | unless_edited',
      "models/schema.yml:69:24 fields.company.to: Required",
      "models/schema.yml:74:21 fields: map at least one column to a destination field",
      "more_models/nested/more.yaml:13:32 lineage.sources: Too small: expected array to have >=1 items",
      "more_models/nested/more.yaml:14:53 freshness.max_age: must be a duration like 90m, 24h or 7d",
      "more_models/nested/more.yaml:14:74 freshness.expire_after: must be a duration like 90m, 24h or 7d",
      "more_models/nested/more.yaml:15:28 late_arriving.destination: Required",
      "more_models/nested/more.yaml:23:75 suppression.consent.max_lag: must be a duration like 90m, 24h or 7d",
      "more_models/nested/more.yaml:24:34 suppression.holdout.percent: Too small: expected number to be >0",
      "more_models/nested/more.yaml:25:23 suppression.review.when: Required",
      "more_models/nested/more.yaml:32:26 suppression: declare exclude, consent, holdout or review, or not_needed with the reason",
      "more_models/nested/more.yaml:38:31 gates.min_rows: Too small: expected number to be >=0",
      "more_models/nested/more.yaml:38:47 gates.max_change: give percent, rows or both",
      "more_models/nested/more.yaml:38:73 gates.max_null_rate.name: Too big: expected number to be <=1",
      "more_models/nested/more.yaml:38:107 gates.min_match_rate: Too big: expected number to be <=1",
      "more_models/nested/more.yaml:38:122 gates.allow_warn: Invalid input: expected boolean, received string",
      "more_models/nested/more.yaml:44:32 rollout.percent: Too big: expected number to be <=100",
      'more_models/nested/more.yaml:45:40 owners.destinaton: unknown key "destinaton" (did you mean "destination"?)',
      "more_models/nested/more.yaml:52:22 monitoring.alert: name at least one channel: slack_webhook_env, webhook_env or pagerduty_routing_key_env",
      'more_models/nested/more.yaml:52:23 monitoring.alert.slack_webhook: unknown key "slack_webhook" (did you mean "slack_webhook_env"?)',
      "more_models/nested/more.yaml:53:25 monitoring.pause_if: give failed_rows_percent, failed_rows or both",
      "more_models/nested/more.yaml:54:60 monitoring.retry_budget.max_duration: must be a duration like 90m, 24h or 7d",
      'more_models/nested/more.yaml:55:25 monitoring.rollback: "undo" is not one of restore_previous | clear_fields | manual',
      "more_models/nested/more.yaml:56:27 monitoring.alert_only: Invalid input: expected boolean, received string",
      "more_models/nested/more.yaml:66:19 name: contract names must be unique: also declared on model accounts at more_models/nested/more.yaml:57:13",
      "more_models/nested/more.yaml:79:56 fields.nickname: maps to first_name, which first_name already maps to",
      "more_models/nested/more.yaml:85:44 gates.max_null_rate.phone: phone is not a mapped field",
      "more_models/nested/more.yaml:91:59 suppression.not_needed: not_needed contradicts the suppression declared beside it",
      "more_models/nested/more.yaml:92:13 : Invalid input: expected object, received number",
    ]);
    // The one-line form names the model and the contract too.
    expect(formatProblem(report.errors.find((e) => e.path === "destination.match.field")!)).toBe(
      "models/schema.yml:40:22: model contacts, contract bad_destination, field destination.match.field: Required",
    );
    expect(report.errors.every((e) => e.kind === "schema")).toBe(true);
  });

  it("reports YAML that does not parse at file:line:column and keeps reading the other files", async () => {
    const report = await runValidate({ projectDir: fixture("bad-yaml") });
    expect(report.errors.map(formatProblem)).toEqual([
      "models/other.yaml:5:5: invalid YAML: Map keys must be unique",
      "models/schema.yml:11:13: invalid YAML: Flow map in block collection must be sufficiently indented and end with a }",
    ]);
    expect(report.errors.map((e) => e.kind)).toEqual(["yaml", "yaml"]);
    expect(report.exitCode).toBe(2);
  });

  it("is an error, not an empty report, when the project directory has no dbt_project.yml", async () => {
    await expect(runValidate({ projectDir: fixtures })).rejects.toThrow(/no dbt_project.yml/);
  });
});

describe("validate: launch readiness and status", () => {
  it("fails launch contracts that are not launch-ready and caveats without alert-only or a limited rollout", async () => {
    const report = await runValidate({ projectDir: fixture("not-ready") });
    expect(report.errors.map(located)).toEqual([
      "models/schema.yml:8:13 decision: not launch-ready, yet status is launch: no business decision stated",
      "models/schema.yml:8:13 grain: not launch-ready, yet status is launch: unclear grain (say what one row is)",
      "models/schema.yml:8:13 gates.min_match_rate: not launch-ready, yet status is launch: the matching rule is untested (declare the share of rows that must match)",
      "models/schema.yml:8:13 owners.destination: not launch-ready, yet status is launch: no destination owner",
      "models/schema.yml:8:13 suppression: not launch-ready, yet status is launch: none declared (declare exclusions, consent, holdout, review, or not_needed with the reason)",
      "models/schema.yml:8:13 freshness: not launch-ready, yet status is launch: none declared",
      "models/schema.yml:8:13 monitoring.pause_if: not launch-ready, yet status is launch: no pause rule",
      "models/schema.yml:8:13 monitoring.rollback: not launch-ready, yet status is launch: no rollback path",
      "models/schema.yml:8:13 owners: not launch-ready, yet status is launch: only data-team owners (name field, destination or workflow owners beyond the model owner)",
      "models/schema.yml:22:21 owners: not launch-ready, yet status is launch: only data-team owners (name field, destination or workflow owners beyond the model owner)",
      "models/schema.yml:25:21 status: caveats runs alert-only (monitoring.alert_only: true) or as a limited rollout (rollout.percent < 100)",
      "models/schema.yml:30:21 status: caveats runs alert-only (monitoring.alert_only: true) or as a limited rollout (rollout.percent < 100)",
    ]);
    expect(report.errors.every((e) => e.kind === "status")).toBe(true);
    const verdicts = Object.fromEntries(report.contracts.map((c) => [c.name, [c.launchReady, c.valid]]));
    expect(verdicts).toEqual({
      bare_launch: [false, false],
      data_team_only: [false, false],
      caveats_unlimited: [false, false],
      caveats_full_rollout: [false, false],
      caveats_alert_only: [false, true],
      caveats_limited: [false, true],
      paused_sketch: [false, true],
    });
  });

  it("exposes the status rule as one function (launch needs readiness, caveats needs limits, paused is free)", () => {
    const base = { name: "c", key: "id", destination: { type: "hubspot", object: "contacts", match: { field: "email" } }, fields: { a: "b" } };
    const spec = (extra: object) => contractSchema.parse({ ...base, ...extra });
    const notReady = { ready: false, reasons: ["owners.destination: no destination owner"] };
    expect(statusProblems(spec({ status: "launch" }), notReady)).toEqual([{ path: "owners.destination", message: "not launch-ready, yet status is launch: no destination owner" }]);
    expect(statusProblems(spec({ status: "launch" }), { ready: true, reasons: [] })).toEqual([]);
    expect(statusProblems(spec({ status: "caveats", rollout: { percent: 99 } }), notReady)).toEqual([]);
    expect(statusProblems(spec({ status: "caveats", monitoring: { alert_only: true, alert: { slack_webhook_env: "SLACK_URL" } } }), notReady)).toEqual([]);
    expect(statusProblems(spec({ status: "caveats", rollout: { percent: 100 } }), notReady).map((p) => p.path)).toEqual(["status"]);
    expect(statusProblems(spec({ status: "paused" }), notReady)).toEqual([]);
  });

  it("checks the key's unique and not_null tests when the manifest is there", async () => {
    const columns = ["billing_customer_id", "churn_risk_band", "churn_risk_score", "risk_reason_code", "scored_at", "is_test_account", "has_identity_conflict", "lifecycle_status", "contact_consent", "consent_updated_at"];
    const untested = await artifacts("contracts_complete", [{ name: "account_churn_risk", columns, tests: ["unique:billing_customer_id"] }, { name: "legacy_scores", columns: ["org_id", "tier"] }]);
    const report = await runValidate({ projectDir: fixture("complete"), targetDir: untested, select: ["renewal_risk_to_salesforce"] });
    expect(report.errors.map(located)).toEqual(["models/schema.yml:13:18 key: not launch-ready, yet status is launch: column billing_customer_id is not tested not_null"]);
    expect(report.contracts[0]!.reasons).toEqual(["key: column billing_customer_id is not tested not_null"]);

    const tested = await artifacts("contracts_complete", [{ name: "account_churn_risk", columns, tests: ["unique:billing_customer_id", "not_null:billing_customer_id"] }, { name: "legacy_scores", columns: ["org_id", "tier"] }]);
    const ok = await runValidate({ projectDir: fixture("complete"), targetDir: tested });
    expect(ok.errors).toEqual([]);
    expect(ok.warnings.map(located)).toEqual([]);
    expect(ok.manifest).toBe(join(tested, "manifest.json"));
    expect(ok.contracts.find((c) => c.name === "renewal_risk_to_salesforce")!.launchReady).toBe(true);
  });
});

describe("validate: referenced columns", () => {
  const allReferences = ["billing_customer_id", "churn_risk_band", "churn_risk_score", "risk_reason_code", "scored_at", "is_test_account", "has_identity_conflict", "contact_consent", "consent_updated_at"];
  const tests = ["unique:billing_customer_id", "not_null:billing_customer_id"];

  it("warns about columns not declared in the manifest (declared columns may be partial), with did-you-mean", async () => {
    const declared = allReferences.filter((c) => c !== "scored_at" && c !== "consent_updated_at").concat(["scored_on"]);
    const target = await artifacts("contracts_complete", [{ name: "account_churn_risk", columns: declared, tests }, { name: "legacy_scores", columns: ["org_id", "tier"] }]);
    const report = await runValidate({ projectDir: fixture("complete"), targetDir: target, select: ["renewal_risk_to_salesforce"] });
    expect(report.errors).toEqual([]);
    expect(report.exitCode).toBe(0);
    expect(report.warnings.map(located)).toEqual([
      'models/schema.yml:23:15 fields.scored_at: column "scored_at" is not declared on model account_churn_risk (did you mean "scored_on"?) (declare it under columns:, or run dbt docs generate so catalog.json lists the real columns)',
      'models/schema.yml:26:33 freshness.column: column "scored_at" is not declared on model account_churn_risk (did you mean "scored_on"?) (declare it under columns:, or run dbt docs generate so catalog.json lists the real columns)',
      'models/schema.yml:27:37 late_arriving.source: column "scored_at" is not declared on model account_churn_risk (did you mean "scored_on"?) (declare it under columns:, or run dbt docs generate so catalog.json lists the real columns)',
      'models/schema.yml:30:62 suppression.consent.updated_at: column "consent_updated_at" is not declared on model account_churn_risk (declare it under columns:, or run dbt docs generate so catalog.json lists the real columns)',
    ]);
  });

  it("fails on columns missing from an enforced dbt model contract", async () => {
    const target = await artifacts("contracts_complete", [{ name: "account_churn_risk", columns: allReferences.filter((c) => c !== "contact_consent"), tests, enforced: true }, { name: "legacy_scores", columns: ["org_id", "tier"] }]);
    const report = await runValidate({ projectDir: fixture("complete"), targetDir: target, select: ["renewal_risk_to_salesforce"] });
    expect(report.errors.map(located)).toEqual(['models/schema.yml:30:33 suppression.consent.column: column "contact_consent" is not declared on model account_churn_risk']);
    expect(report.errors[0]!.kind).toBe("column");
  });

  it("fails on columns the catalog does not list (it wins over the manifest), case-insensitively, with did-you-mean", async () => {
    const catalogColumns = allReferences.filter((c) => c !== "risk_reason_code" && c !== "is_test_account").concat(["risk_reason", "is_test"]);
    const target = await artifacts(
      "contracts_complete",
      [{ name: "account_churn_risk", columns: allReferences, tests }, { name: "legacy_scores", columns: ["org_id", "tier"] }],
      { account_churn_risk: catalogColumns.map((name) => ({ name, type: "VARCHAR" })) },
    );
    const report = await runValidate({ projectDir: fixture("complete"), targetDir: target });
    expect(report.catalog).toBe(join(target, "catalog.json"));
    expect(report.errors.map(located)).toEqual([
      'models/schema.yml:22:15 fields.risk_reason_code: column "risk_reason_code" is not in model account_churn_risk (catalog.json) (did you mean "RISK_REASON"?)',
      'models/schema.yml:29:25 suppression.exclude.0: column "is_test_account" is not in model account_churn_risk (catalog.json) (did you mean "IS_TEST"?)',
      'models/schema.yml:36:31 gates.max_null_rate.risk_reason_code: column "risk_reason_code" is not in model account_churn_risk (catalog.json) (did you mean "RISK_REASON"?)',
    ]);
    // SQL predicates in suppression.exclude are not columns; the contract that names no missing column stays valid.
    expect(report.contracts.map((c) => [c.name, c.valid])).toEqual([
      ["renewal_risk_to_salesforce", false],
      ["risk_audience_to_hubspot", true],
      ["legacy_scores_to_zendesk", true],
    ]);
  });

  it("passes the integration project against the shared real dbt build (undeclared columns are warnings)", async () => {
    const report = await runValidate({ projectDir: integrationProject, targetDir: integrationBuild().targetPath });
    expect(report.errors.map(formatProblem)).toEqual([]);
    expect(report.exitCode).toBe(0);
    expect(report.contracts.map((c) => [c.name, c.launchReady])).toEqual([
      ["contact_engagement_to_hubspot", true],
      ["contact_engagement_to_braze", true],
      ["contact_engagement_to_zendesk", true],
      ["account_health_to_hubspot", true],
    ]);
    expect(report.warnings.every((w) => w.kind === "column" && /is not declared on model/.test(w.message))).toBe(true);
  });
});

describe("validate: --select and the command line", () => {
  it("narrows to the selected contracts and rejects unknown names with did-you-mean", async () => {
    const report = await runValidate({ projectDir: fixture("not-ready"), select: ["caveats_limited", "data_team_only"] });
    expect(report.contracts.map((c) => c.name)).toEqual(["data_team_only", "caveats_limited"]);
    expect(report.errors.map((e) => e.contract)).toEqual(["data_team_only"]);
    const error = await runValidate({ projectDir: fixture("not-ready"), select: ["caveats_limitd"] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadInputError);
    expect((error as BadInputError).message).toBe("--select names no contract: caveats_limitd");
    expect((error as BadInputError).details[0]).toContain('(did you mean "caveats_limited"?)');
  });

  it("exits 0 with a text report when every contract is valid", async () => {
    const run = await runCli(["validate", "--project-dir", fixture("complete")]);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toContain("LAUNCH-READY  renewal_risk_to_salesforce");
    expect(run.stdout).toContain("NOT READY     risk_audience_to_hubspot");
    expect(run.stdout).toContain("3 contracts (1 launch-ready), 0 errors, 0 warnings;");
  });

  it("exits 2 and prints {contracts, errors} as JSON with --json", async () => {
    const run = await runCli(["validate", "--project-dir", fixture("not-ready"), "--select", "bare_launch,caveats_limited", "--json"]);
    expect(run.exitCode).toBe(2);
    const json = JSON.parse(run.stdout) as { contracts: Record<string, unknown>[]; errors: Record<string, unknown>[]; exitCode: number };
    expect(json.exitCode).toBe(2);
    expect(json.contracts.map((c) => [c.name, c.model, c.file, c.line, c.status, c.launchReady])).toEqual([
      ["bare_launch", "contacts", "models/schema.yml", 8, "launch", false],
      ["caveats_limited", "contacts", "models/schema.yml", 41, "caveats", false],
    ]);
    expect((json.contracts[1]!.reasons as string[]).length).toBe(9);
    expect(json.errors[0]).toMatchObject({ file: "models/schema.yml", line: 8, column: 13, path: "decision", message: "not launch-ready, yet status is launch: no business decision stated" });
    expect(json.errors).toHaveLength(9);
  });

  it("prints located errors in the one-line form and exits 2 on invalid contracts", async () => {
    const run = await runCli(["validate", "--project-dir", fixture("invalid"), "--select", "bad_destination"]);
    expect(run.exitCode).toBe(2);
    expect(run.stdout.split("\n")).toContain("models/schema.yml:40:22: model contacts, contract bad_destination, field destination.match.field: Required");
  });

  it("exits 2 when there is no --project-dir and no dbt_project.yml in the working directory or its parents (dbt's default)", async () => {
    const run = await runCli(["validate"], {}, "/");
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toContain("no dbt_project.yml in / (--project-dir names the dbt project)");
  });
});

describe("validate: consent and suppression removals (suppression.on_removed)", () => {
  async function project(contracts: string): Promise<string> {
    const dir = await mkdtemp(join(inject("scratchRoot"), "validate-consent-"));
    await mkdir(join(dir, "models"), { recursive: true });
    await writeFile(join(dir, "dbt_project.yml"), 'name: consent_removals\nversion: "1.0.0"\nconfig-version: 2\n');
    await writeFile(join(dir, "models", "schema.yml"), `version: 2\n\nmodels:\n  - name: contacts\n    config:\n      meta:\n        activation:\n${contracts}`);
    return dir;
  }
  const contract = (name: string, destination: string, suppression: string): string =>
    [
      `          - name: ${name}`,
      `            status: paused`,
      `            key: email`,
      `            destination: ${destination}`,
      `            fields: {first_name: firstname}`,
      `            suppression:`,
      `              consent: {column: marketing_consent, updated_at: consent_updated_at, max_lag: 1h}`,
      `              exclude: [is_test]`,
      `              on_removed: ${suppression}`,
      "",
    ].join("\n");
  const hubspot = "{type: hubspot, object: contacts, match: {field: email}}";
  const audience = "{type: hubspot, object: contacts, match: {field: email}, mode: audience, list_id: '42'}";

  it("refuses keep for a consent removal without a reason (exit 2, file:line), and unlist outside audience mode, clear in audience mode", async () => {
    const dir = await project(
      [
        contract("keep_without_reason", hubspot, "{consent: keep}"),
        contract("keep_excluded_without_reason", hubspot, "{excluded: keep}"),
        contract("reason_without_keep", hubspot, "{consent: clear, reason: because we said so}"),
        contract("unlist_on_records", hubspot, "{consent: unlist}"),
        contract("clear_on_audience", audience, "{excluded: clear}"),
        contract("keep_with_reason", hubspot, "{consent: keep, excluded: delete, reason: legal hold on these records until 2027}"),
        contract("unlist_on_audience", audience, "{consent: unlist}"),
      ].join(""),
    );
    const report = await runValidate({ projectDir: dir });
    expect(report.exitCode).toBe(2);
    expect(report.errors.map(located)).toEqual([
      "models/schema.yml:16:37 suppression.on_removed.consent: keep leaves the values this project activated in the destination after consent is withdrawn: state why in on_removed.reason, or use clear, delete or unlist",
      "models/schema.yml:25:38 suppression.on_removed.excluded: keep leaves the values this project activated in the destination after the row is excluded: state why in on_removed.reason, or use clear, delete or unlist",
      "models/schema.yml:34:52 suppression.on_removed.reason: reason applies to keep only",
      "models/schema.yml:43:37 suppression.on_removed.consent: unlist applies to mode: audience only (mode upsert writes fields: use clear or delete)",
      "models/schema.yml:52:38 suppression.on_removed.excluded: audience mode removes the record from list 42: use unlist (or keep with a reason)",
    ]);
    const run = await runCli(["validate", "--project-dir", dir, "--select", "keep_without_reason"]);
    expect(run.exitCode).toBe(2);
    expect(run.stdout).toContain("models/schema.yml:16:37: model contacts, contract keep_without_reason, field suppression.on_removed.consent: keep leaves the values");
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect((await runCli(["validate", "--project-dir", dir, "--select", "keep_with_reason,unlist_on_audience"])).exitCode).toBe(0);
  });

  it("defaults to the safe action: clear, or unlist in audience mode; other removals follow destination.on_removed", async () => {
    const { removalAction } = await import("../../src/contract/rules.ts");
    const parse = (destination: Record<string, unknown>, onRemoved?: Record<string, unknown>) =>
      contractSchema.parse({ name: "c", key: "email", destination: { type: "hubspot", object: "contacts", match: { field: "email" }, ...destination }, fields: { a: "a" }, suppression: { consent: { column: "c", updated_at: "u", max_lag: "1h" }, ...(onRemoved ? { on_removed: onRemoved } : {}) } });
    const upsert = parse({});
    expect([removalAction(upsert, "consent"), removalAction(upsert, "excluded"), removalAction(upsert, "unknown"), removalAction(upsert, "other")]).toEqual(["clear", "clear", "clear", "skip"]);
    const list = parse({ mode: "audience", list_id: "42" });
    expect([removalAction(list, "consent"), removalAction(list, "other")]).toEqual(["unlist", "unlist"]);
    const declared = parse({ on_removed: "delete" }, { consent: "keep", excluded: "delete", reason: "legal hold until 2027" });
    expect([removalAction(declared, "consent"), removalAction(declared, "excluded"), removalAction(declared, "other")]).toEqual(["keep", "delete", "delete"]);
  });
});
