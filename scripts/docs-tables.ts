/**
 * The tables in docs/ that come from the code, so they cannot drift: every contract field (from the JSON Schema that
 * `export jsonschema` generates from the zod schema) in docs/contract.md, and every environment variable (from
 * src/config/env.ts) in docs/operations.md. `node scripts/docs-tables.ts` rewrites them; test/docs/examples.test.ts
 * fails when a page differs from what this would write.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ENVIRONMENT, GROUPS, type EnvName, type EnvVariable } from "../src/config/env.ts";
import { repoRoot } from "./dbt.ts";

interface JsonSchema {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  pattern?: string;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  required?: string[];
}

/** What a field means where the zod schema carries no description (the parent object's description covers them there). */
const SUPPLEMENT: Record<string, string> = {
  name: "The contract's name: lower snake_case, unique in the project.",
  destination: "Where the rows go and how they match records there.",
  fields: "Model column: destination field (the short form), or {to, on_null, allowed, overwrite}.",
  "lineage.sources": "Upstream sources the contract's values come from (documentation: exports and dbt docs).",
  "lineage.notes": "Free text about the lineage (documentation).",
  "freshness.column": "The timestamp column the freshness rule reads.",
  "freshness.max_age": "The newest value must be younger than this (a duration: 30m, 24h, 7d); a generated dbt test.",
  "freshness.expire_after": "A row whose column is older than this at sync time is not sent (see below).",
  "late_arriving.source": "The row's own timestamp column.",
  "late_arriving.destination": "The destination's timestamp field: a record newer there than the row is never overwritten.",
  "suppression.holdout.percent": "Share of keys held out (stable bucket of the key below this percent).",
  "suppression.holdout.salt": "Salt of the holdout's stable bucket (change it to draw another holdout).",
  "suppression.review.when": "SQL predicate: rows for which it is true are held for review.",
  "gates.max_change.percent": "Most changes (creates, updates, removals) allowed, as a percent of the synced ledger rows.",
  "gates.max_change.rows": "Most changes allowed, as a row count.",
  "gates.max_null_rate.<name>": "Column: the largest share of nulls allowed (a generated dbt test).",
  "rollout.percent": "Share of keys sent (stable bucket of the key below this percent); < 100 is a limited rollout.",
  "rollout.salt": "Salt of the rollout's stable bucket (default rollout).",
  "monitoring.pause_if.failed_rows_percent": "Pause when at least this percent of the attempted rows failed (once min_attempted rows were attempted).",
  "monitoring.pause_if.failed_rows": "Pause as soon as this many rows failed in the run.",
};

const cell = (s: string): string => s.replace(/\|/g, "\\|").replace(/\n/g, " ");

function typeOf(s: JsonSchema): string {
  if (s.enum) return s.enum.map((v) => `\`${String(v)}\``).join(" | ");
  if (s.anyOf) return s.anyOf.map(typeOf).join(" or ");
  if (s.type === "array") return `list of ${s.items ? typeOf(s.items) : "values"}`;
  if (s.type === "object" && !s.properties && typeof s.additionalProperties === "object") return "map";
  return Array.isArray(s.type) ? s.type.join(" or ") : (s.type ?? "any");
}

/** One row per field, depth first; a map's entries as `<path>.<name>`. */
function walk(s: JsonSchema, path: string, required: boolean, rows: string[]): void {
  const describe = (extra = ""): void => {
    const flags = [required ? "required" : "", s.default !== undefined ? `default \`${JSON.stringify(s.default)}\`` : ""].filter(Boolean).join(", ");
    rows.push(`| \`${path}\` | ${cell(typeOf(s))} | ${cell(flags)} | ${cell(`${s.description ?? SUPPLEMENT[path] ?? ""}${extra}`)} |`);
  };
  const objectBranch = s.anyOf?.find((b) => b.type === "object" && b.properties);
  if (s.properties) {
    if (s.description || required) describe();
    for (const [key, child] of Object.entries(s.properties)) walk(child, path ? `${path}.${key}` : key, s.required?.includes(key) ?? false, rows);
  } else if (objectBranch) {
    describe(" Short form: the first alternative; long form: the fields below.");
    for (const [key, child] of Object.entries(objectBranch.properties!)) walk(child, `${path}.${key}`, objectBranch.required?.includes(key) ?? false, rows);
  } else if (s.type === "object" && typeof s.additionalProperties === "object") {
    describe();
    walk(s.additionalProperties, `${path}.<name>`, false, rows);
  } else {
    describe();
  }
}

/** The table of every contract field, from dbt_package/activation.schema.json. */
export function contractFieldsTable(): string {
  const schema = JSON.parse(readFileSync(join(repoRoot, "dbt_package", "activation.schema.json"), "utf8")) as { definitions: { contract: JsonSchema } };
  const rows: string[] = [];
  walk(schema.definitions.contract, "", false, rows);
  return ["| field | type | | what it means |", "|---|---|---|---|", ...rows].join("\n");
}

/** The table of every environment variable, from src/config/env.ts. */
export function environmentTable(): string {
  const rows = GROUPS.flatMap((group) =>
    (Object.keys(ENVIRONMENT) as EnvName[])
      .filter((name) => ENVIRONMENT[name].group === group)
      .map((name) => {
        const v: EnvVariable = ENVIRONMENT[name];
        return `| \`${name}\` | ${group} | ${cell(v.about)} | ${v.default ? cell(v.default) : ""} |`;
      }),
  );
  return ["| variable | for | what it means | default |", "|---|---|---|---|", ...rows].join("\n");
}

export const GENERATED = {
  "contract-fields": { page: "docs/contract.md", table: contractFieldsTable },
  environment: { page: "docs/operations.md", table: environmentTable },
} as const;

/** The page's text with the generated block replaced by `table`. */
export function withGenerated(text: string, name: string, table: string): string {
  const start = `<!-- generated:${name}:start -->`;
  const end = `<!-- generated:${name}:end -->`;
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from < 0 || to < from) throw new Error(`${name}: no ${start} … ${end} block`);
  return `${text.slice(0, from + start.length)}\n${table}\n${text.slice(to)}`;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const [name, { page, table }] of Object.entries(GENERATED)) {
    const path = join(repoRoot, page);
    writeFileSync(path, withGenerated(readFileSync(path, "utf8"), name, table()));
    console.log(`wrote ${page} (${name})`);
  }
}
