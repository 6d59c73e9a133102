/**
 * What each enforced contract field means for a run, in one place: the pipeline, the gate, rollback and validate ask
 * here rather than reading the contract's fields themselves, so a field's semantics cannot drift between stages.
 */
import { WRITABLE_DESTINATION_TYPES, type FieldMapping, type ContractSpec } from "./schema.ts";
import { durationSeconds } from "./duration.ts";

/** A dbt test status that passes the contract's gate: `pass`, and `warn` only under `gates.allow_warn: true`. */
export function testStatusPasses(spec: ContractSpec | undefined, status: string): boolean {
  return status === "pass" || (status === "warn" && spec?.gates?.allow_warn === true);
}

/**
 * What a row's value becomes for the destination under the field's `on_null`: a present value is sent as is; a null
 * is left out (skip: the destination keeps what it holds), sent as null (clear: the destination empties the field),
 * or fails the whole row (fail: nothing of it is sent, it is dead-lettered with the reason).
 */
export type NullOutcome = { send: true; value: unknown } | { send: false } | { fail: string };

export function nullOutcome(mapping: FieldMapping, value: unknown): NullOutcome {
  if (value !== null && value !== undefined) return { send: true, value };
  switch (mapping.on_null) {
    case "clear":
      return { send: true, value: null };
    case "fail":
      return { fail: `column ${mapping.column} is null and its contract field says on_null: fail (nothing of this row was sent)` };
    default:
      return { send: false };
  }
}

/**
 * How a destination compares the values of the contract's match field, so two sync keys equal under the rule address
 * one record: `exact`, or `case_insensitive` (then the canonical key is the lower-cased text, in SQL, the plan and
 * the ledger). Each destination states its rule (`Destination.keyRule()`).
 */
export type KeyRule = "exact" | "case_insensitive";

/** A key in the canonical form of a rule (the same as SQL `lower()` on the key's text). */
export function canonicalKey(key: string, rule: KeyRule): string {
  return rule === "case_insensitive" ? key.toLowerCase() : key;
}

/** The code dead letters of `on_null: fail` rows carry. */
export const NULL_FIELD_CODE = "NULL_FIELD";

/**
 * `freshness.expire_after`: a row whose freshness column is older than this at sync time is not sent (a null is not
 * older than anything: it is sent). What the destination holds for such a row follows `destination.on_removed`, like
 * any row that left the eligible set. Undefined when the contract declares no expiry.
 */
export function expiryCutoff(spec: ContractSpec, now: Date): { column: string; before: Date } | undefined {
  const freshness = spec.freshness;
  if (!freshness?.expire_after) return undefined;
  return { column: freshness.column, before: new Date(now.getTime() - durationSeconds(freshness.expire_after) * 1000) };
}

/** The contract's `monitoring.retry_budget` as the engine's limits: retries (and waiting time) for the whole run. */
export function retryBudgetOf(spec: ContractSpec): { maxRetries?: number; maxDurationMs?: number } {
  const budget = spec.monitoring?.retry_budget;
  return {
    ...(budget?.max_retries !== undefined ? { maxRetries: budget.max_retries } : {}),
    ...(budget?.max_duration !== undefined ? { maxDurationMs: durationSeconds(budget.max_duration) * 1000 } : {}),
  };
}

/**
 * What `rollback` does for the records a run changed, by `monitoring.rollback`: restore the values the ledger saved
 * (records the run created are left), clear the mapped fields of every record the run wrote, or refuse (a manual
 * runbook is for people to follow). No declared path means restore_previous, rollback's historical behaviour.
 */
export type RollbackAction = { kind: "restore_previous" } | { kind: "clear_fields" } | { kind: "refuse"; message: string };

export function rollbackAction(spec: ContractSpec): RollbackAction {
  const strategy = spec.monitoring?.rollback ?? "restore_previous";
  if (strategy === "manual") {
    return {
      kind: "refuse",
      message: `contract ${spec.name} declares monitoring.rollback: manual: rolling back is a runbook for people, not something this command does (pause the contract with \`dbt-activation pause\`, then follow the runbook)`,
    };
  }
  return { kind: strategy };
}

/**
 * Failing tests that `--allow-large-change --reason` lets through the gate: the generated blast-radius test. The
 * syncer's own check (`gates.max_change` against the same ledger, plan/checks.ts) then decides, and the run log
 * records the override with its reason.
 */
export function overridableByLargeChange(check: { generic?: string | undefined }): boolean {
  return check.generic === "activation.change_limit";
}

/** Whether `sync` can write the contract's destination type now; when not, why (named in validate and sync). */
export function unwritableReason(spec: ContractSpec): string | undefined {
  const type = spec.destination.type;
  if ((WRITABLE_DESTINATION_TYPES as readonly string[]).includes(type)) return undefined;
  return `destination.type: sync cannot write ${type} yet (it writes ${WRITABLE_DESTINATION_TYPES.join(", ")})`;
}

/**
 * Why a contract declared on this dbt node can never be synced, or undefined when it can: the syncer reads the
 * relation of a model (or its generated activation model) that the gate proved in the invocation. A seed or a
 * snapshot is not a model the package generates an activation model for; an ephemeral model has no relation and no
 * result in run_results; a disabled one is not built at all.
 */
export function unsyncableNodeReason(node: { resource_type: string; name: string; config?: { enabled?: boolean | undefined; materialized?: unknown } | undefined }, disabled = false): string | undefined {
  const kind = node.resource_type;
  if (kind === "seed" || kind === "snapshot") {
    return `${node.name} is a ${kind}: contracts are synced from models only (declare the contract on a model that selects from the ${kind})`;
  }
  if (kind !== "model") return `${node.name} is a ${kind}: contracts are synced from models only`;
  if (disabled || node.config?.enabled === false) return `model ${node.name} is disabled (enabled: false): dbt builds nothing to sync`;
  if (node.config?.materialized === "ephemeral") {
    return `model ${node.name} is ephemeral: dbt builds no relation for it and records no result the gate could check (materialize it as a view or table)`;
  }
  return undefined;
}

/** Whether the sync acts on rows that left the eligible set (mirror, audience, or an on_removed other than keep). */
export function actsOnRemoved(spec: ContractSpec): boolean {
  return spec.destination.mode === "mirror" || spec.destination.mode === "audience" || spec.destination.on_removed !== "keep";
}
