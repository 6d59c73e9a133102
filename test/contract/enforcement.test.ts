/**
 * Accepted means enforced. The schema walk: every leaf field of `contractSchema` has an entry in enforcement.ts whose
 * tests exist, and every entry is a field the schema still has. Then what validate says about what no run enforces
 * yet (alerts), destinations sync cannot write, and contracts on nodes that cannot be synced.
 */
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { stringify } from "yaml";
import { describe, expect, inject, it } from "vitest";
import type { z } from "zod";
import { repoRoot } from "../../scripts/dbt.ts";
import { contractSchema, DESTINATION_TYPES } from "../../src/contract/schema.ts";
import { formatProblem } from "../../src/validate/types.ts";
import { runValidate } from "../../src/validate/validate.ts";
import { runCli } from "../support/cli.ts";
import { ENFORCEMENT } from "./enforcement.ts";

/** The leaf paths of a zod schema: objects and records are walked (`*` for a record's keys), unions per option. */
function leaves(schema: z.core.$ZodType, path: string[] = []): string[] {
  const def = schema._zod.def as z.core.$ZodTypeDef & Record<string, unknown>;
  switch (def.type) {
    case "object":
      return Object.entries(def.shape as Record<string, z.core.$ZodType>).flatMap(([key, child]) => leaves(child, [...path, key]));
    case "optional":
    case "default":
    case "nullable":
    case "readonly":
      return leaves(def.innerType as z.core.$ZodType, path);
    case "pipe":
      return leaves(def.in as z.core.$ZodType, path);
    case "record":
      return leaves(def.valueType as z.core.$ZodType, [...path, "*"]);
    case "union":
      return [...new Set((def.options as z.core.$ZodType[]).flatMap((option) => leaves(option, path)))];
    default:
      // Strings, numbers, booleans, enums, arrays of values: one field.
      return [path.join(".")];
  }
}

/** The titles of the `it(…)` / `it.each(…)(…)` calls in a test file. */
function testTitles(file: string): string[] {
  const text = readFileSync(join(repoRoot, file), "utf8");
  return [...text.matchAll(/\bit(?:\.each\([\s\S]*?\))?\(\s*"((?:[^"\\]|\\.)*)"/g)].map((m) => m[1]!);
}

describe("the schema walk: accepted means enforced", () => {
  const paths = leaves(contractSchema);

  it("finds the contract's leaf fields (the walk itself reaches nested objects, records and unions)", () => {
    expect(paths).toEqual(expect.arrayContaining(["name", "destination.match.field", "fields.*", "fields.*.on_null", "gates.max_null_rate.*", "monitoring.retry_budget.max_retries", "suppression.consent.max_lag"]));
    expect(paths.length).toBeGreaterThan(40);
  });

  it("every leaf field of the contract schema has an enforcing test registered", () => {
    expect(paths.filter((p) => !(p in ENFORCEMENT))).toEqual([]);
  });

  it("every registered field is still in the schema, and every registered test exists", () => {
    expect(Object.keys(ENFORCEMENT).filter((p) => !paths.includes(p))).toEqual([]);
    const missing: string[] = [];
    for (const [path, { tests }] of Object.entries(ENFORCEMENT)) {
      expect(tests.length, path).toBeGreaterThan(0);
      for (const { file, test } of tests) {
        if (!testTitles(file).some((title) => title.startsWith(test))) missing.push(`${path}: ${file} has no test "${test}"`);
      }
    }
    expect(missing).toEqual([]);
  });
});

/** A launch-ready contract on `contacts` (the base every case below changes one thing of). */
function contract(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: "people_to_crm",
    decision: "Sales calls the warmest leads first",
    status: "launch",
    grain: "contact",
    key: "email",
    destination: { type: "hubspot", object: "contacts", match: { field: "email" } },
    fields: { first_name: "firstname" },
    freshness: { column: "scored_at", max_age: "24h" },
    suppression: { not_needed: "every contact opted in at signup" },
    gates: { min_match_rate: 0.5 },
    owners: { model: "data@acme.io", destination: "ops@acme.io" },
    monitoring: { pause_if: { failed_rows_percent: 5 }, rollback: "restore_previous" },
    ...extra,
  };
}

/** A scratch dbt project whose property YAML files are the given objects (path → YAML content). */
async function project(files: Record<string, unknown>): Promise<string> {
  const dir = await mkdtemp(join(inject("scratchRoot"), "enforcement-"));
  await writeFile(join(dir, "dbt_project.yml"), stringify({ name: "shop", version: "1.0.0", profile: "shop" }));
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), stringify(content));
  }
  return dir;
}

const onModel = (...contracts: Record<string, unknown>[]) => ({ version: 2, models: [{ name: "people", config: { meta: { activation: contracts } } }] });

describe("validate: a destination type sync cannot write is refused", () => {
  it("every type the schema admits is launch-ready on its own terms; any other is an error at the destination.type line (exit 2)", async () => {
    const contracts = [...DESTINATION_TYPES, "marketo"].map((type) => contract({ name: `people_to_${type}`, destination: { type, object: "users", match: { field: "external_id" } } }));
    const report = await runValidate({ projectDir: await project({ "models/schema.yml": onModel(...contracts) }) });
    expect(report.exitCode).toBe(2);
    const errors = report.errors.map(formatProblem).join("\n");
    expect(errors).toMatch(/models\/schema\.yml:\d+:\d+: model people, contract people_to_marketo, field destination\.type: .*hubspot.*salesforce.*braze.*zendesk/);
    for (const type of DESTINATION_TYPES) expect(errors).not.toMatch(new RegExp(`contract people_to_${type}, field destination\\.type`));
  });
});

describe("validate: the match rate", () => {
  it("a match rate of 0 is not tested for launch readiness; a positive one, or match_rate_not_needed with the reason, is", async () => {
    const contracts = [
      contract({ name: "rate_zero", gates: { min_match_rate: 0 } }),
      contract({ name: "rate_positive", gates: { min_match_rate: 0.5 } }),
      contract({ name: "rate_waived", gates: { match_rate_not_needed: "creates every contact it syncs" } }),
      contract({ name: "rate_none", gates: {} }),
      contract({ name: "rate_both", gates: { min_match_rate: 0.5, match_rate_not_needed: "creates every contact it syncs" } }),
    ];
    const report = await runValidate({ projectDir: await project({ "models/schema.yml": onModel(...contracts) }) });
    const ready = Object.fromEntries(report.contracts.map((c) => [c.name, c.launchReady]));
    expect(ready).toMatchObject({ rate_zero: false, rate_positive: true, rate_waived: true, rate_none: false });
    expect(report.contracts.find((c) => c.name === "rate_zero")!.reasons).toContain(
      "gates.min_match_rate: 0 tests nothing (declare a positive share of rows that must match, or gates.match_rate_not_needed with the reason)",
    );
    expect(report.exitCode).toBe(2);
    const errors = report.errors.map(formatProblem).join("\n");
    expect(errors).toMatch(/contract rate_zero, field gates\.min_match_rate: not launch-ready, yet status is launch: 0 tests nothing/);
    expect(errors).toMatch(/contract rate_both, field gates\.match_rate_not_needed: match_rate_not_needed contradicts the min_match_rate declared beside it/);
    expect(errors).not.toMatch(/rate_positive|rate_waived/);
  });
});

describe("validate and sync: contracts on nodes that cannot be synced", () => {
  it("a seed, a snapshot and a disabled model each get an error naming why (exit 2), located at the contract", async () => {
    const dir = await project({
      "models/schema.yml": { version: 2, models: [{ name: "retired", config: { enabled: false, meta: { activation: [contract({ name: "on_disabled" })] } } }] },
      "seeds/seeds.yml": { version: 2, seeds: [{ name: "raw_people", config: { meta: { activation: [contract({ name: "on_seed" })] } } }] },
      "snapshots/snapshots.yml": { version: 2, snapshots: [{ name: "people_history", config: { meta: { activation: [contract({ name: "on_snapshot" })] } } }] },
    });
    const run = await runCli(["validate", "--project-dir", dir]);
    expect(run.exitCode).toBe(2);
    const out = run.stdout + run.stderr;
    expect(out).toMatch(/models\/schema\.yml:\d+:\d+: model retired, contract on_disabled: cannot be synced: model retired is disabled \(enabled: false\): dbt builds nothing to sync/);
    expect(out).toMatch(/seeds\/seeds\.yml:\d+:\d+: model raw_people, contract on_seed: cannot be synced: raw_people is a seed: contracts are synced from models only/);
    expect(out).toMatch(/snapshots\/snapshots\.yml:\d+:\d+: model people_history, contract on_snapshot: cannot be synced: people_history is a snapshot/);
  });

  it("an ephemeral model (known from the manifest) gets an error naming why", async () => {
    const dir = await project({ "models/schema.yml": onModel(contract()) });
    await mkdir(join(dir, "target"));
    const node = { unique_id: "model.shop.people", resource_type: "model", name: "people", package_name: "shop", relation_name: null, config: { materialized: "ephemeral", meta: {} } };
    await writeFile(join(dir, "target", "manifest.json"), JSON.stringify({ metadata: { dbt_schema_version: "https://schemas.getdbt.com/dbt/manifest/v12.json", invocation_id: "x" }, nodes: { [node.unique_id]: node } }));
    const report = await runValidate({ projectDir: dir });
    expect(report.errors.map(formatProblem)).toEqual(
      expect.arrayContaining([expect.stringMatching(/contract people_to_crm: cannot be synced: model people is ephemeral: dbt builds no relation for it/)]),
    );
    expect(report.contracts[0]).toMatchObject({ launchReady: false });
  });
});
