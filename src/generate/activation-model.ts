/**
 * The activation model of a contract: a thin SQL file that selects the eligible rows from the contract's model
 * through the package's `activation.eligible_rows` macro, so suppression, consent, holdout, rollout and review are
 * applied in SQL and proven by dbt tests before anything is sent.
 */
import type { Contract } from "../contract/load.ts";
import { fieldMappings } from "../contract/schema.ts";

/** Jinja/SQL literal for a value: strings single-quoted with escapes, lists and dicts recursively. */
export function jinjaLiteral(value: unknown): string {
  if (value === undefined || value === null) return "none";
  if (typeof value === "string") return `'${value.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
  if (typeof value === "number") return String(value);
  if (typeof value === "boolean") return value ? "true" : "false";
  if (Array.isArray(value)) return `[${value.map(jinjaLiteral).join(", ")}]`;
  const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
  return `{${entries.map(([k, v]) => `${jinjaLiteral(k)}: ${jinjaLiteral(v)}`).join(", ")}}`;
}

/** The columns an activation model carries: mapped fields, and the timestamps freshness and late-arrival checks read. */
export function activationColumns(contract: Contract): string[] {
  const { spec } = contract;
  const columns = fieldMappings(spec).map((m) => m.column);
  for (const extra of [spec.freshness?.column, spec.late_arriving?.source]) if (extra) columns.push(extra);
  return [...new Set(columns.filter((c) => c !== spec.key))];
}

export function activationModelSql(contract: Contract, header: string): string {
  const { spec } = contract;
  const s = spec.suppression;
  const consentTimestamp = spec.freshness?.column ?? spec.late_arriving?.source;
  const args: [string, string][] = [
    ["model", `ref(${jinjaLiteral(contract.model.name)})`],
    ["key", jinjaLiteral(spec.key)],
    ["columns", jinjaLiteral(activationColumns(contract))],
    ["exclude", jinjaLiteral(s?.exclude ?? [])],
    ["consent", s?.consent ? jinjaLiteral({ ...s.consent, value_timestamp: consentTimestamp }) : "none"],
    ["holdout", s?.holdout ? jinjaLiteral(s.holdout) : "none"],
    ["rollout", spec.rollout ? jinjaLiteral({ percent: spec.rollout.percent, salt: spec.rollout.salt ?? `rollout:${spec.name}` }) : "none"],
    ["review", s?.review ? jinjaLiteral(s.review) : "none"],
  ];
  return [
    header,
    "{{ config(materialized='table', tags=['activation']) }}",
    "",
    "{{ activation.eligible_rows(",
    args.map(([name, value]) => `    ${name}=${value}`).join(",\n"),
    ") }}",
    "",
  ].join("\n");
}

export function excludedRowsSql(contract: Contract, header: string): string {
  return activationModelSql(contract, header).replace("activation.eligible_rows(", "activation.excluded_rows(");
}
