/**
 * `export odcs`: each contract as an Open Data Contract Standard v3.1.0 document (bitol-io). The model is the schema
 * object; the key, the gates and allowed values become quality rules; freshness becomes SLA properties; owners the
 * team; what ODCS has no field for (destination, mapping, suppression, rollout, monitoring) goes to customProperties.
 */
import { stringify } from "yaml";
import { durationSeconds } from "../contract/duration.ts";
import { fieldMappings, type ContractSpec } from "../contract/schema.ts";
import type { ExportContract } from "./source.ts";

export const ODCS_API_VERSION = "v3.1.0";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json | undefined };
type JsonObject = { [key: string]: Json | undefined };

const STATUS: Record<ContractSpec["status"], string> = { launch: "active", caveats: "draft", paused: "deprecated" };

/** ODCS logical types from a warehouse type name. */
export function logicalType(type: string | undefined): string | undefined {
  if (!type) return undefined;
  const t = type.toLowerCase();
  if (/^(big|small|tiny|hug|u)?int(eger)?\d*\b|^(long|short|byte)\b/.test(t)) return "integer";
  if (/^(double|float|real|decimal|numeric|number)/.test(t)) return "number";
  if (/^bool/.test(t)) return "boolean";
  if (/^timestamp|^datetime/.test(t)) return "timestamp";
  if (/^date$/.test(t)) return "date";
  if (/^time\b/.test(t)) return "time";
  if (/^(varchar|char|text|string|nvarchar|character|uuid)/.test(t)) return "string";
  if (/^(struct|map|json|object|variant)/.test(t)) return "object";
  if (/^(list|array)|\[\]$/.test(t)) return "array";
  return undefined;
}

/** A duration as ODCS SLA value and unit: the largest whole unit (`24h` → 1 d, `90m` → 90 m). */
function slaDuration(duration: string): { value: number; unit: string } {
  const seconds = durationSeconds(duration);
  for (const [unit, size] of [["d", 86_400], ["h", 3600], ["m", 60]] as const) if (seconds % size === 0) return { value: seconds / size, unit };
  return { value: seconds, unit: "s" };
}

function stableId(text: string): string {
  return text.replace(/[^A-Za-z0-9_-]/g, "_");
}

function custom(property: string, value: Json | undefined): JsonObject[] {
  return value === undefined ? [] : [{ property, value }];
}

function clean<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

export function odcsDocument(c: ExportContract, version: string): JsonObject {
  const s = c.contract.spec;
  const mappings = fieldMappings(s);
  const byColumn = new Map(mappings.map((m) => [m.column.toLowerCase(), m]));
  const properties = c.model.columns.map((col): JsonObject => {
    const isKey = col.name.toLowerCase() === s.key.toLowerCase();
    const mapping = byColumn.get(col.name.toLowerCase());
    const quality: JsonObject[] = [];
    if (isKey) {
      quality.push({ id: `${stableId(col.name)}_no_nulls`, type: "library", metric: "nullValues", mustBe: 0, dimension: "completeness", description: "The sync key is never null." });
      quality.push({ id: `${stableId(col.name)}_unique`, type: "library", metric: "duplicateValues", mustBe: 0, dimension: "uniqueness", description: "One row per sync key." });
    }
    const nullRate = s.gates?.max_null_rate?.[col.name];
    if (nullRate !== undefined) {
      quality.push({ id: `${stableId(col.name)}_max_null_rate`, type: "library", metric: "nullValues", unit: "percent", mustBeLessOrEqualTo: Number((nullRate * 100).toFixed(6)), dimension: "completeness", description: "Gate: the run stops before sending when more rows are null." });
    }
    if (mapping?.allowed) {
      quality.push({ id: `${stableId(col.name)}_allowed`, type: "library", metric: "invalidValues", arguments: { validValues: mapping.allowed }, mustBe: 0, dimension: "conformity", description: "Only these values may be sent." });
    }
    const type = logicalType(col.type);
    return {
      name: col.name,
      ...(type ? { logicalType: type } : {}),
      ...(col.type ? { physicalType: col.type } : {}),
      ...(col.description ? { description: col.description } : {}),
      ...(isKey ? { primaryKey: true, primaryKeyPosition: 1, required: true, unique: true } : {}),
      ...(mapping ? { criticalDataElement: true } : {}),
      ...(quality.length > 0 ? { quality } : {}),
      ...(mapping
        ? {
            customProperties: [
              { property: "destinationField", value: mapping.to },
              { property: "onNull", value: mapping.on_null },
              { property: "overwrite", value: mapping.overwrite },
            ],
          }
        : {}),
    };
  });

  const g = s.gates;
  const objectQuality: JsonObject[] = [];
  if (g?.min_rows !== undefined) objectQuality.push({ id: "min_rows", type: "library", metric: "rowCount", mustBeGreaterOrEqualTo: g.min_rows, dimension: "completeness", description: "Gate: fewer eligible rows stop the run before it sends." });
  if (g?.max_change) {
    const limits = [g.max_change.percent !== undefined && `${g.max_change.percent}% of rows`, g.max_change.rows !== undefined && `${g.max_change.rows} rows`].filter(Boolean).join(" or ");
    objectQuality.push({ id: "max_change", type: "text", dimension: "consistency", description: `Gate (blast radius): a run that would change more than ${limits} against the ledger stops before it sends.` });
  }
  if (g?.min_match_rate !== undefined) {
    objectQuality.push({ id: "min_match_rate", type: "text", dimension: "coverage", description: `Gate: at least ${g.min_match_rate * 100}% of rows must match existing ${s.destination.type} ${s.destination.object} records on ${s.destination.match.field}.` });
  }

  const sla: JsonObject[] = [];
  if (s.freshness) {
    const element = `${c.model.name}.${s.freshness.column}`;
    sla.push({ property: "latency", ...slaDuration(s.freshness.max_age), element, description: "The newest value must be younger than this." });
    if (s.freshness.expire_after) sla.push({ property: "retention", ...slaDuration(s.freshness.expire_after), element, description: "Values older than this are not sent." });
  }

  const members: JsonObject[] = [];
  for (const role of ["model", "field", "destination", "workflow"] as const) {
    const owner = s.owners?.[role];
    if (owner) members.push({ username: owner, role: `${role} owner` });
  }

  const customProperties: JsonObject[] = [
    ...custom("activationStatus", s.status),
    ...custom("launchReady", c.readiness.ready),
    ...custom("launchReadinessReasons", c.readiness.reasons),
    ...custom("destination", clean(s.destination) as Json),
    ...custom("fieldMappings", clean(mappings) as unknown as Json),
    ...custom("lineage", s.lineage ? (clean(s.lineage) as Json) : undefined),
    ...custom("lateArriving", s.late_arriving ? (clean(s.late_arriving) as Json) : undefined),
    ...custom("suppression", s.suppression ? (clean(s.suppression) as Json) : undefined),
    ...custom("rollout", s.rollout ? (clean(s.rollout) as Json) : undefined),
    ...custom("gates", g ? (clean(g) as Json) : undefined),
    ...custom("monitoring", s.monitoring ? (clean(s.monitoring) as Json) : undefined),
    ...custom("dbtModel", c.contract.model.uniqueId),
    ...custom("sourceFile", `${c.file}:${c.line}`),
  ];

  return clean({
    apiVersion: ODCS_API_VERSION,
    kind: "DataContract",
    id: s.name,
    name: s.name,
    version,
    status: STATUS[s.status],
    ...(s.decision ? { description: { purpose: s.decision, usage: `Synced to ${s.destination.type} ${s.destination.object} (${s.destination.mode}, matched on ${s.destination.match.field}) by dbt-activation.` } } : {}),
    schema: [
      {
        name: c.model.name,
        ...(c.model.relation ? { physicalName: c.model.relation } : {}),
        physicalType: "table",
        ...(c.model.description ? { description: c.model.description } : {}),
        ...(s.grain ? { dataGranularityDescription: `One row per ${s.grain}` } : {}),
        properties,
        ...(objectQuality.length > 0 ? { quality: objectQuality } : {}),
      },
    ],
    ...(members.length > 0 ? { team: { name: `${s.name} owners`, members } } : {}),
    ...(sla.length > 0 ? { slaProperties: sla } : {}),
    customProperties,
  });
}

export function exportOdcs(contracts: ExportContract[], version: string): string {
  return contracts.map((c) => stringify(odcsDocument(c, version), { lineWidth: 0 })).join("---\n");
}
