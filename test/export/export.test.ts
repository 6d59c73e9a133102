/**
 * `dbt-activation export`: every format parsed back. ODCS validated with ajv against the official v3.1.0 JSON Schema,
 * DBML re-parsed with @dbml/core, the JSON Schema checked for staleness and against real contracts, cards by content.
 */
import { Parser } from "@dbml/core";
import { Ajv2019 } from "ajv/dist/2019.js";
import { Ajv } from "ajv";
import addFormatsModule from "ajv-formats";
import { mkdtemp, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { integrationProject, repoRoot } from "../../scripts/dbt.ts";
import { exportCards } from "../../src/export/card.ts";
import { exportDbml } from "../../src/export/dbml.ts";
import { runExport } from "../../src/export/export.ts";
import { activationJsonSchema, activationJsonSchemaText, SHIPPED_JSON_SCHEMA } from "../../src/export/jsonschema.ts";
import { logicalType } from "../../src/export/odcs.ts";
import { loadExportInput } from "../../src/export/source.ts";
import { integrationBuild, runCli } from "../support/cli.ts";

const fixture = (name: string) => join(repoRoot, "test", "fixtures", "contracts", name);
const addFormats = addFormatsModule as unknown as (ajv: Ajv2019) => void;

async function odcsValidator() {
  const schema = JSON.parse(await readFile(join(repoRoot, "test", "fixtures", "odcs", "odcs-json-schema-v3.1.0.json"), "utf8")) as object;
  const ajv = new Ajv2019({ allErrors: true, strict: false });
  addFormats(ajv);
  return ajv.compile(schema);
}

describe("export card", () => {
  it("answers the ten questions for a complete contract, with its readiness verdict", async () => {
    const input = await loadExportInput({ projectDir: fixture("complete"), contract: "renewal_risk_to_salesforce" });
    const card = exportCards(input.contracts);
    const headings = card.split("\n").filter((l) => l.startsWith("## "));
    expect(headings).toEqual([
      "## 1. Decision",
      "## 2. Grain and key",
      "## 3. Matching",
      "## 4. Lineage",
      "## 5. Destination mapping",
      "## 6. Freshness",
      "## 7. Suppression",
      "## 8. Quality gates",
      "## 9. Owners",
      "## 10. Monitoring, pause and rollback",
      "## Launch readiness",
    ]);
    const lines = card.split("\n");
    expect(lines[0]).toBe("# Contract card: renewal_risk_to_salesforce");
    expect(lines[2]).toBe("**Launch-ready** · status `launch` · model `account_churn_risk` → salesforce Account · declared in `models/schema.yml:9`");
    for (const expected of [
      "CSMs prioritize renewal-risk review before weekly account planning",
      "One row per **account**; sync key `billing_customer_id`: unique and not null in the eligible rows.",
      "Each row matches the salesforce Account record whose `Billing_Customer_Id__c` equals `billing_customer_id` (one unique field, no fuzzy fallback).",
      "Match-rate gate: at least 98% of rows must match existing records.",
      "- Declared source systems: `billing.accounts`, `events.product_usage` (scored by the nightly model)",
      "| `churn_risk_band` | varchar | `Churn_Risk_Band__c` | skip | always | low, medium, high |",
      "| `risk_reason_code` | ? | `Risk_Reason_Code__c` | clear | if_empty | any |",
      "| `churn_risk_score` | double | `Churn_Risk_Score__c` | fail | unless_edited | any |",
      "The newest `scored_at` must be younger than **24h**; values older than **7d** are not sent.",
      "Late arrivals: a record whose `Risk_Last_Refreshed_At__c` is newer than the row's `scored_at` is never overwritten.",
      "- Never synced when: `is_test_account`, `lifecycle_status = 'churned'`, `has_identity_conflict`",
      "- Consent: only rows where `contact_consent` is true, updated (`consent_updated_at`) at most 90m before the value",
      "- Holdout: 10% of keys never synced (salt `q4-2026`)",
      "- Held for human review when: `churn_risk_score >= 0.95`",
      "- Minimum eligible rows: 100",
      "- Maximum change per run: 20% and 5000 rows",
      "- Maximum null rate: `risk_reason_code` 2%",
      "| destination | sfdc-admin@acme.io |",
      "| workflow | cs-director@acme.io |",
      "- Alerts: Slack webhook from `ACTIVATION_SLACK_URL`; webhook from `ACTIVATION_WEBHOOK_URL` (signed with `ACTIVATION_WEBHOOK_SECRET`); PagerDuty, routing key from `ACTIVATION_PAGERDUTY_KEY`",
      "- Pause rule: pause when 5% of rows fail or 200 rows fail in a run",
      "- Retry budget: 5 retries, 30m",
      "- Rollback: `restore_previous`",
      "Launch-ready: every check that should pause a launch passes.",
    ]) {
      expect(lines).toContain(expected);
    }
  });

  it("lists the reasons a contract is not launch-ready, and says when its status is not allowed", async () => {
    const card = await runExport({ format: "card", projectDir: fixture("not-ready"), contract: "caveats_unlimited" });
    expect(card).toContain("**Not launch-ready** · status `caveats`");
    expect(card).toContain("Not launch-ready, and status `caveats` is not allowed for it: validate fails:");
    expect(card).toContain("- owners.destination: no destination owner");
    expect(card).toContain("## 1. Decision\n\n_not declared_");
    const limited = await runExport({ format: "card", projectDir: fixture("not-ready"), contract: "caveats_limited" });
    expect(limited).toContain("Not launch-ready (allowed under status `caveats`):");
    expect(limited).toContain("- Rollout: 10% of keys");
  });

  it("separates the cards of several contracts", async () => {
    const cards = await runExport({ format: "card", projectDir: fixture("complete") });
    expect(cards.split("\n---\n").map((c) => /# Contract card: (\w+)/.exec(c)?.[1])).toEqual(["renewal_risk_to_salesforce", "risk_audience_to_hubspot", "legacy_scores_to_zendesk"]);
  });
});

describe("export dbml", () => {
  it("maps model columns to destination fields, and @dbml/core parses it back", async () => {
    const input = await loadExportInput({ projectDir: fixture("complete") });
    const dbml = exportDbml(input.contracts);
    const db = Parser.parse(dbml, "dbml");
    const tables = db.schemas.flatMap((s) => s.tables.map((t) => ({ schema: s.name, name: t.name, fields: t.fields.map((f) => f.name), pk: t.fields.filter((f) => f.pk).map((f) => f.name) })));
    const byName = (schema: string, name: string) => tables.find((t) => t.schema === schema && t.name === name);
    expect(byName("public", "account_churn_risk")?.pk).toEqual(["billing_customer_id"]);
    expect(byName("public", "account_churn_risk")?.fields).toEqual(expect.arrayContaining(["churn_risk_band", "risk_reason_code", "scored_at", "churn_risk_score", "is_test_account"]));
    expect(byName("salesforce", "Account")?.fields).toEqual(["Billing_Customer_Id__c", "Churn_Risk_Band__c", "Risk_Reason_Code__c", "Risk_Last_Refreshed_At__c", "Churn_Risk_Score__c"]);
    expect(byName("hubspot", "companies")?.fields).toEqual(["billing_customer_id", "churn_risk_band"]);
    expect(byName("zendesk", "organizations")?.fields).toEqual(["external_id", "organization_fields.tier"]);
    const refs = db.schemas.flatMap((s) => s.refs).map((r) => [r.name, r.endpoints.map((e) => `${e.schemaName ?? "public"}.${e.tableName}.${e.fieldNames.join(",")}`).join(" - ")]);
    expect(refs).toEqual(
      expect.arrayContaining([
        ["renewal_risk_to_salesforce__match", "public.account_churn_risk.billing_customer_id - salesforce.Account.Billing_Customer_Id__c"],
        ["renewal_risk_to_salesforce__churn_risk_band", "public.account_churn_risk.churn_risk_band - salesforce.Account.Churn_Risk_Band__c"],
        ["renewal_risk_to_salesforce__scored_at", "public.account_churn_risk.scored_at - salesforce.Account.Risk_Last_Refreshed_At__c"],
        ["risk_audience_to_hubspot__churn_risk_band", "public.account_churn_risk.churn_risk_band - hubspot.companies.churn_risk_band"],
        ["legacy_scores_to_zendesk__tier", "public.legacy_scores.tier - zendesk.organizations.organization_fields.tier"],
      ]),
    );
    expect(refs).toHaveLength(9);
    // Types from the YAML's data_type, notes with the mapping rules.
    expect(dbml).toContain('"churn_risk_score" double');
    expect(dbml).toContain("on_null: fail; overwrite: unless_edited");
  });
});

describe("export odcs", () => {
  it("writes ODCS v3.1.0 documents that validate against the official JSON Schema", async () => {
    const validate = await odcsValidator();
    for (const project of ["complete", "not-ready"]) {
      const text = await runExport({ format: "odcs", projectDir: fixture(project) });
      const docs = parseAllDocuments(text).map((d) => {
        expect(d.errors).toEqual([]);
        return d.toJS() as Record<string, unknown>;
      });
      expect(docs.length).toBeGreaterThan(2);
      for (const doc of docs) {
        const ok = validate(doc);
        expect(validate.errors ?? [], `${String(doc.id)}`).toEqual([]);
        expect(ok).toBe(true);
      }
    }
  });

  it("carries the contract: id, version, status, team, schema with quality rules, SLA, custom properties", async () => {
    const text = await runExport({ format: "odcs", projectDir: fixture("complete"), contract: "renewal_risk_to_salesforce" });
    const doc = parse(text) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- asserting parsed YAML
    expect(doc).toMatchObject({ apiVersion: "v3.1.0", kind: "DataContract", id: "renewal_risk_to_salesforce", version: "1.2.0", status: "active" });
    expect(doc.description.purpose).toBe("CSMs prioritize renewal-risk review before weekly account planning");
    expect(doc.team.members).toEqual([
      { username: "analytics-eng@acme.io", role: "model owner" },
      { username: "cs-ops@acme.io", role: "field owner" },
      { username: "sfdc-admin@acme.io", role: "destination owner" },
      { username: "cs-director@acme.io", role: "workflow owner" },
    ]);
    const [object] = doc.schema;
    expect(object).toMatchObject({ name: "account_churn_risk", dataGranularityDescription: "One row per account" });
    const key = object.properties.find((p: { name: string }) => p.name === "billing_customer_id");
    expect(key).toMatchObject({ primaryKey: true, required: true, unique: true, logicalType: "string", physicalType: "varchar", description: "The billing system's customer id." });
    expect(key.quality.map((q: { metric: string }) => q.metric)).toEqual(["nullValues", "duplicateValues"]);
    const reason = object.properties.find((p: { name: string }) => p.name === "risk_reason_code");
    expect(reason.quality).toEqual([expect.objectContaining({ metric: "nullValues", unit: "percent", mustBeLessOrEqualTo: 2 })]);
    expect(reason.customProperties).toEqual([
      { property: "destinationField", value: "Risk_Reason_Code__c" },
      { property: "onNull", value: "clear" },
      { property: "overwrite", value: "if_empty" },
    ]);
    const band = object.properties.find((p: { name: string }) => p.name === "churn_risk_band");
    expect(band.quality[0]).toMatchObject({ metric: "invalidValues", arguments: { validValues: ["low", "medium", "high"] }, mustBe: 0 });
    expect(object.quality.map((q: { id: string }) => q.id)).toEqual(["min_rows", "max_change", "min_match_rate"]);
    expect(object.quality[0]).toMatchObject({ metric: "rowCount", mustBeGreaterOrEqualTo: 100 });
    expect(doc.slaProperties).toEqual([
      expect.objectContaining({ property: "latency", value: 1, unit: "d", element: "account_churn_risk.scored_at" }),
      expect.objectContaining({ property: "retention", value: 7, unit: "d", element: "account_churn_risk.scored_at" }),
    ]);
    const custom = Object.fromEntries(doc.customProperties.map((p: { property: string; value: unknown }) => [p.property, p.value]));
    expect(custom.activationStatus).toBe("launch");
    expect(custom.launchReady).toBe(true);
    expect(custom.destination).toMatchObject({ type: "salesforce", object: "Account", match: { field: "Billing_Customer_Id__c" } });
    expect(custom.suppression.holdout).toEqual({ percent: 10, salt: "q4-2026" });
    expect(custom.monitoring.rollback).toBe("restore_previous");
  });

  it("maps warehouse types to ODCS logical types", () => {
    expect(["VARCHAR", "BIGINT", "DOUBLE", "BOOLEAN", "TIMESTAMP WITH TIME ZONE", "DATE", "STRUCT(a INT)", "INTEGER[]", "GEOMETRY", undefined].map(logicalType)).toEqual([
      "string", "integer", "number", "boolean", "timestamp", "date", "object", "integer", undefined, undefined,
    ]);
  });

  it("exports the integration project from the real dbt build (relation, parents, columns)", async () => {
    const validate = await odcsValidator();
    const text = await runExport({ format: "odcs", projectDir: integrationProject, targetDir: integrationBuild().targetPath, contract: "contact_engagement_to_hubspot" });
    const doc = parse(text) as { schema: { physicalName: string; properties: { name: string }[] }[] };
    expect(validate(doc), JSON.stringify(validate.errors)).toBe(true);
    expect(doc.schema[0]!.physicalName).toMatch(/"main"\."contact_engagement"$/);
    expect(doc.schema[0]!.properties.map((p) => p.name)).toEqual(expect.arrayContaining(["email", "first_name", "engagement_band", "marketing_consent"]));
  });
});

describe("export jsonschema", () => {
  it("is generated from the zod schema and the shipped dbt_package/activation.schema.json is not stale", async () => {
    const shipped = await readFile(join(repoRoot, SHIPPED_JSON_SCHEMA), "utf8");
    expect(shipped, "run: node src/cli/run.ts export jsonschema --out dbt_package/activation.schema.json").toBe(activationJsonSchemaText());
  });

  it("accepts the example and fixture schema files, and rejects misspelt keys and bad values", async () => {
    const ajv = new Ajv({ allErrors: true, strict: false });
    const validate = ajv.compile(activationJsonSchema());
    for (const file of [join(integrationProject, "models", "schema.yml"), join(fixture("complete"), "models", "schema.yml"), join(fixture("not-ready"), "models", "schema.yml")]) {
      const doc = parse(await readFile(file, "utf8")) as unknown;
      expect(validate(doc), `${file}: ${JSON.stringify(validate.errors)}`).toBe(true);
    }
    const contract = { name: "x", key: "id", destination: { type: "hubspot", object: "contacts", match: { field: "email" } }, fields: { a: "b" } };
    const file = (activation: unknown) => ({ version: 2, models: [{ name: "m", description: "other keys are free", config: { meta: { activation }, materialized: "table" } }] });
    expect(validate(file([contract]))).toBe(true);
    expect(validate(file(contract))).toBe(true);
    expect(validate(file([{ ...contract, destnation: {} }]))).toBe(false);
    expect(validate(file([{ ...contract, destination: { ...contract.destination, type: "hubspt" } }]))).toBe(false);
    expect(validate(file([{ ...contract, freshness: { column: "t", max_age: "1 day" } }]))).toBe(false);
    expect(validate(file([{ ...contract, fields: { "bad-key": "b" } }]))).toBe(false);
    expect(validate({ version: 2, models: [{ name: "m", meta: { activation: [{ ...contract, status: "live" }] } }] })).toBe(false);
  });
});

describe("export runbook", () => {
  it("writes one runbook per contract with --out-dir: owners, every alert, and the exact pause, resume, replay, rollback and reconcile commands", async () => {
    const dir = await mkdtemp(join(inject("scratchRoot"), "runbooks-"));
    const project = fixture("complete");
    const run = await runCli(["export", "runbook", "--project-dir", project, "--out-dir", dir, "--target", "prod", "--ledger-schema", "activation_ops"]);
    expect(run.exitCode, run.stderr).toBe(0);
    const text = await readFile(join(dir, "renewal_risk_to_salesforce.md"), "utf8");
    const flags = `--project-dir ${project} --target prod --ledger-schema activation_ops`;
    expect(text).toContain("# Runbook: renewal_risk_to_salesforce");
    for (const owner of ["| model | analytics-eng@acme.io |", "| field | cs-ops@acme.io |", "| destination | sfdc-admin@acme.io |", "| workflow | cs-director@acme.io |"]) expect(text).toContain(owner);
    for (const alert of ["held by the gate", "stopped before sending", "failed the destination check", "paused by the pause rule", "failed rows above the alert threshold", "circuit breaker opened", "the run ended early", "recovered"]) {
      expect(text).toContain(`| ${alert} |`);
    }
    expect(text).toContain("Sent to Slack (`ACTIVATION_SLACK_URL`), signed webhook (`ACTIVATION_WEBHOOK_URL`, secret `ACTIVATION_WEBHOOK_SECRET`), PagerDuty (`ACTIVATION_PAGERDUTY_KEY`)");
    expect(text).toContain(`dbt-activation pause ${flags} --contract renewal_risk_to_salesforce --reason '<why>'`);
    expect(text).toContain(`dbt-activation resume ${flags} --contract renewal_risk_to_salesforce\n`);
    expect(text).toContain(`dbt-activation replay ${flags} --contract renewal_risk_to_salesforce\n`);
    expect(text).toContain(`dbt-activation rollback ${flags} --contract renewal_risk_to_salesforce --run '<run_id>'`);
    expect(text).toContain(`dbt-activation reconcile ${flags} --contract renewal_risk_to_salesforce\n`);
    expect(text).toContain("the contract pauses itself when 200 rows fail or 5 % of the rows sent fail in a run");
    expect(text).toContain("from activation_dead_letters where contract_name = 'renewal_risk_to_salesforce' and replayed_at is null");
    expect(text).toContain("here `activation_ops`");
    // A contract without channels or pause rule says so instead of inventing them.
    const legacy = await readFile(join(dir, "legacy_scores_to_zendesk.md"), "utf8");
    expect(legacy).toContain("_No alert channel declared (monitoring.alert)");
    expect(legacy).toMatch(/\*\*Pause rule\*\* \(`monitoring.pause_if`\): _none declared/);
    const stdout = await runCli(["export", "runbook", "--project-dir", project, "--contract", "risk_audience_to_hubspot"]);
    expect(stdout.stdout).toContain("status `caveats`, alert-only (never writes)");
    expect((await runCli(["export", "dbml", "--project-dir", project, "--out-dir", dir])).exitCode).toBe(2);
  });
});

describe("export: the command line", () => {
  it("writes to --out and prints to stdout otherwise", async () => {
    const dir = await mkdtemp(join(inject("scratchRoot"), "export-"));
    const out = join(dir, "cards", "card.md");
    const run = await runCli(["export", "card", "--project-dir", fixture("complete"), "--contract", "legacy_scores_to_zendesk", "--out", out]);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toBe("");
    expect(await readFile(out, "utf8")).toContain("# Contract card: legacy_scores_to_zendesk");
    const schema = await runCli(["export", "jsonschema"]);
    expect(schema.exitCode).toBe(0);
    expect(`${schema.stdout}\n`).toBe(activationJsonSchemaText());
  });

  it("exits 2 on invalid contracts, an unknown contract or format, and a missing --project-dir", async () => {
    const invalid = await runCli(["export", "odcs", "--project-dir", fixture("invalid")]);
    expect(invalid.exitCode).toBe(2);
    expect(invalid.stderr).toContain("models/schema.yml:40:22: model contacts, contract bad_destination, field destination.match.field: Required");
    const unknown = await runCli(["export", "dbml", "--project-dir", fixture("complete"), "--contract", "renewal_risk_to_salesfroce"]);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain('did you mean "renewal_risk_to_salesforce"?');
    expect((await runCli(["export", "pdf", "--project-dir", fixture("complete")])).exitCode).toBe(2);
    // Without --project-dir, as dbt: the working directory or a parent; "/" has no dbt_project.yml.
    const noProject = await runCli(["export", "card"], {}, "/");
    expect(noProject.exitCode).toBe(2);
    expect(noProject.stderr).toContain("no dbt_project.yml in / (--project-dir names the dbt project)");
  });
});
