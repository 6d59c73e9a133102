/**
 * The activation model of a contract: a thin SQL file that selects the eligible rows from the contract's model
 * through the package's `activation.eligible_rows` macro, so suppression, consent, holdout, rollout and review are
 * applied in SQL and proven by dbt tests before anything is sent.
 */
import type { Contract } from "../contract/load.ts";
import { fieldMappings } from "../contract/schema.ts";
import { actsOnRemoved } from "../contract/rules.ts";
import { suppressionArguments } from "./properties.ts";

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

/** The mapped columns: what is sent, and all the row hash covers (a changed timestamp alone sends nothing). */
export function mappedColumns(contract: Contract): string[] {
  return [...new Set(fieldMappings(contract.spec).map((m) => m.column))].filter((c) => c !== contract.spec.key);
}

/** Columns the activation model carries beyond the mapped ones: the timestamps freshness, consent and late arrival read. */
export function checkColumns(contract: Contract): string[] {
  const { spec } = contract;
  const mapped = new Set(mappedColumns(contract));
  const extra = [spec.freshness?.column, spec.late_arriving?.source, spec.suppression?.consent?.updated_at];
  return [...new Set(extra.filter((c): c is string => Boolean(c) && c !== spec.key && !mapped.has(c!)))];
}

export function activationModelSql(contract: Contract, header: string): string {
  const { spec } = contract;
  const suppression = suppressionArguments(contract);
  const args: [string, unknown][] = [
    ["key", spec.key],
    ["columns", [...mappedColumns(contract), ...checkColumns(contract)]],
    ["hash_columns", mappedColumns(contract)],
    ["exclude", suppression.exclude],
    ["consent", suppression.consent],
    ["holdout", suppression.holdout],
    ["rollout", suppression.rollout],
    ["review", suppression.review],
  ];
  return [
    header,
    "{{ config(materialized='table', tags=['activation']) }}",
    "",
    "{{ activation.eligible_rows(",
    [`    model=ref(${jinjaLiteral(contract.model.name)})`, ...args.map(([name, value]) => `    ${name}=${jinjaLiteral(value)}`)].join(",\n"),
    ") }}",
    "",
  ].join("\n");
}

/** The companion model: every row the contract does not send, with its reasons (same arguments, no row hash). */
export function excludedRowsSql(contract: Contract, header: string): string {
  return activationModelSql(contract, header)
    .replace("activation.eligible_rows(", "activation.excluded_rows(")
    .replace(/\n {4}hash_columns=[^\n]*,/, "");
}

/**
 * The parity model: the activation model against the latest destination snapshot `reconcile` wrote (missing in the
 * destination, value mismatch, present but no longer eligible), so `dbt build` shows source-vs-destination parity.
 */
export function parityModelSql(contract: Contract, header: string): string {
  const { spec } = contract;
  const args: [string, unknown][] = [
    ["contract", spec.name],
    ["key", spec.key],
    ["acts_on_removed", actsOnRemoved(spec)],
  ];
  return [
    header,
    "{{ config(materialized='view', tags=['activation']) }}",
    "",
    "{{ activation.destination_parity(",
    [`    model=ref(${jinjaLiteral(spec.name)})`, ...args.map(([name, value]) => `    ${name}=${jinjaLiteral(value)}`)].join(",\n"),
    ") }}",
    "",
  ].join("\n");
}
