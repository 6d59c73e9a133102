/**
 * What each enforced contract field means for a run, in one place: the pipeline, the gate, rollback and validate ask
 * here rather than reading the contract's fields themselves, so a field's semantics cannot drift between stages.
 */
import { LATE_ARRIVING_MAX_SKIPPED_RUNS, type FieldMapping, type ContractSpec } from "./schema.ts";
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
 * one record: `exact`, or `case_insensitive` (then the canonical key is the text with its ASCII letters lowered, in
 * SQL, the plan and the ledger). Each destination states its rule (`Destination.keyRule()`).
 */
export type KeyRule = "exact" | "case_insensitive";

/**
 * A key in the canonical form of a rule: under `case_insensitive`, A–Z lowered and every other character kept (SQL:
 * `canonicalKeySql`, a `translate` every engine computes alike). Not `toLowerCase()`/`lower()`: those lower other
 * characters differently by engine, locale and runtime (İ, final Σ, and nothing at all under PostgreSQL's C locale).
 */
export function canonicalKey(key: string, rule: KeyRule): string {
  return rule === "case_insensitive" ? key.replace(/[A-Z]+/g, (letters) => letters.toLowerCase()) : key;
}

/**
 * Whether a key is refused before sending under the rule: under `case_insensitive`, a key with any character outside
 * ASCII. The destinations document case-insensitive matching without saying how they compare such characters
 * (É and é, İ, ß and SS, Σ and ς, composed and decomposed é), so neither the record it addresses nor which other
 * rows it collides with is known. SQL: `refusedKeySql`.
 */
export function refusedKey(key: string, rule: KeyRule): boolean {
  return rule === "case_insensitive" && /\P{ASCII}/u.test(key);
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

/**
 * Why a synced row left the eligible set, from the excluded-rows model's reasons: consent (no_consent,
 * consent_stale), excluded (an exclude item), unknown (the contract declares consent or exclude items but the
 * excluded-rows model could not be read: treated as consent, the safe side), or other (holdout, rollout, review,
 * expired, gone from the model).
 */
export type RemovalCause = "consent" | "excluded" | "unknown" | "other";

export function removalCause(reasons: string | null, excludedReadable: boolean, spec: ContractSpec): RemovalCause {
  if (reasons === null) return !excludedReadable && declaresSuppressionRemovals(spec) ? "unknown" : "other";
  const parts = reasons.split(";").map((r) => r.trim());
  if (parts.some((r) => r === "no_consent" || r === "consent_stale")) return "consent";
  if (parts.some((r) => r.startsWith("excluded:"))) return "excluded";
  return "other";
}

/** What a removal does to the destination record: "skip" leaves it, unrecorded, as `destination.on_removed: keep` does. */
export type RemovalAction = "clear" | "delete" | "unlist" | "keep" | "skip";

/**
 * The action for a removal of this cause. Consent and exclude removals follow `suppression.on_removed` (default:
 * clear, or unlist in audience mode; keep only with a stated reason, recorded in the ledger); every other removal
 * follows `destination.on_removed` as it always has (audience: unlist; keep: not touched, not recorded).
 */
export function removalAction(spec: ContractSpec, cause: RemovalCause): RemovalAction {
  const audience = spec.destination.mode === "audience";
  if (cause !== "other") {
    const declared = spec.suppression?.on_removed?.[cause === "excluded" ? "excluded" : "consent"];
    return declared ?? (audience ? "unlist" : "clear");
  }
  if (audience) return "unlist";
  if (spec.destination.mode === "mirror" || spec.destination.on_removed !== "keep") return spec.destination.on_removed === "delete" ? "delete" : "clear";
  return "skip";
}

/**
 * Why a run of this contract may clear its mapped fields at the destination (a removal whose action is clear), for
 * the mapping check: a destination field that cannot be emptied makes such a removal fail and keep every activated
 * value. Undefined when no removal of the contract clears.
 */
export function clearingRemovals(spec: ContractSpec): string | undefined {
  const why: string[] = [];
  const declared = { consent: Boolean(spec.suppression?.consent), excluded: Boolean(spec.suppression?.exclude?.length) };
  for (const cause of ["consent", "excluded"] as const) {
    if (declared[cause] && removalAction(spec, cause) === "clear") why.push(`suppression.on_removed.${cause} is clear${spec.suppression?.on_removed?.[cause] ? "" : " (the default)"}`);
  }
  if (actsOnRemoved(spec) && removalAction(spec, "other") === "clear") why.push(`a removal clears (destination.on_removed: ${spec.destination.on_removed}${spec.destination.mode === "mirror" ? ", mode mirror" : ""})`);
  return why.length > 0 ? why.join(" and ") : undefined;
}

/** Whether the contract declares suppression that `suppression.on_removed` governs (consent or exclude items). */
export function declaresSuppressionRemovals(spec: ContractSpec): boolean {
  return Boolean(spec.suppression?.consent || spec.suppression?.exclude?.length);
}

/** Whether a removal reason (as the ledger records it) is a withdrawn consent. */
export function isConsentRemoval(reason: string | null | undefined): boolean {
  return reason !== null && reason !== undefined && /(^|; )(no_consent|consent_stale|unknown)(;|$)/.test(reason);
}

/** `late_arriving.max_skipped_runs`: skipped runs in a row after which a record is dead-lettered, not skipped again. */
export function lateArrivingLimit(spec: ContractSpec): number | undefined {
  return spec.late_arriving ? (spec.late_arriving.max_skipped_runs ?? LATE_ARRIVING_MAX_SKIPPED_RUNS) : undefined;
}

/** Whether the contract's generated parity test gates its sync (`gates.parity: hold`); by default it only warns. */
export function holdsOnParity(spec: ContractSpec): boolean {
  return spec.gates?.parity === "hold";
}

/**
 * `gates.min_match_rate` before a contract's first sync (nothing in the ledger): the syncer measures it itself from a
 * read-only lookup of the eligible keys in the destination, since the dbt `match_rate` test has no capture to read
 * yet. A stop reason when fewer than the share match, else undefined (also for no eligible keys, as the test).
 */
export function matchRateStop(spec: ContractSpec, matched: number, keys: number): string | undefined {
  const min = spec.gates?.min_match_rate;
  if (min === undefined || keys === 0 || matched >= min * keys) return undefined;
  const percent = (share: number): string => `${(100 * share).toFixed(1).replace(/\.0$/, "")}%`;
  return (
    `gates.min_match_rate: ${matched} of the ${keys} eligible keys (${percent(matched / keys)}) match an existing ` +
    `${spec.destination.type} ${spec.destination.object} record, fewer than ${percent(min)} (first sync: looked up in the destination before any write)`
  );
}

/** Whether a run must look the eligible keys up before writing: a positive `gates.min_match_rate` and a first sync. */
export function measuresMatchRate(spec: ContractSpec, hasSynced: boolean): boolean {
  return (spec.gates?.min_match_rate ?? 0) > 0 && !hasSynced;
}
