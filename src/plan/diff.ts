/**
 * The plan: eligible rows diffed against the ledger in the warehouse by row hash, streamed. Classes: create (key not
 * in the ledger), update (hash differs), unchanged (same hash: never sent), removed (in the ledger, no longer
 * eligible), and two held back by an open dead letter of the same row hash (src/engine/failures.ts):
 * failed_unchanged (it failed permanently and has not changed since: not sent until it changes or is replayed) and
 * retry_later (it failed transiently and its backoff has not passed). Nothing is held in memory but one chunk; a run
 * where nothing changed streams nothing, whatever dead letters exist. With `partitions`, each query runs once per
 * stable key bucket, one after another (see partitions.ts).
 *
 * `replay` plans only the keys with an open dead letter, each as today's eligible row, sent whatever its hash or
 * backoff (src/pipeline/sync.ts: replay is a sync).
 */
import type { Contract } from "../contract/load.ts";
import { declaresSuppressionRemovals, NULL_FIELD_CODE, nullOutcome, removalAction, removalCause, type KeyRule, type RemovalAction, type RemovalCause } from "../contract/rules.ts";
import { fieldMappings } from "../contract/schema.ts";
import { eligibleRowsSql, expiredRowsSql, HASH_COLUMN, KEY_COLUMN, keyCondition, sharedKeysSql, type EligibleSqlOptions } from "../eligible/rows.ts";
import { toJsonText, type LedgerRecord } from "../ledger/ledger.ts";
import type { LedgerTables } from "../ledger/migrations.ts";
import { UNSENDABLE_VALUE_CODE, unsendableReason, type SqlParam, type Warehouse } from "../warehouse/types.ts";

export type ChangeClass = "create" | "update" | "unchanged" | "removed" | "failed_unchanged" | "retry_later";

export interface PlannedRecord extends LedgerRecord {
  change: "create" | "update";
  /** The row's `late_arriving.source` timestamp, when the contract declares one. */
  sourceTimestamp?: Date | null;
  /**
   * Why the row may not be sent at all, dead-lettered instead: a value with no exact destination form
   * (`UNSENDABLE_VALUE`), or an `on_null: fail` field that is null (`NULL_FIELD`).
   */
  failure?: { code: string; message: string };
  /** What the ledger says we last sent for this key (absent for creates). */
  ledger?: { syncedAt: Date | null; lastSent: Record<string, unknown> | null };
}

export interface PlanCounts {
  eligible: number;
  create: number;
  update: number;
  unchanged: number;
  removed: number;
  /** Held back: failed permanently before with this very row hash (not attempted). */
  failedUnchanged: number;
  /** Held back: failed transiently before and its backoff has not passed (not attempted). */
  retryLater: number;
  /**
   * Rows left out because their value is older than `freshness.expire_after` (not sent, not in `eligible`); those the
   * ledger holds as synced are in `removed` too, where the contract's removal rule applies to them. Present only
   * when the contract declares an expiry.
   */
  expired?: number;
  /**
   * Of `removed`, the keys the run acts on: each gets its removal action (clear, delete, unlist, or a keep recorded
   * with its reason); the rest are left as `destination.on_removed: keep` leaves them.
   */
  removable: number;
}

export interface PlanOptions extends Omit<EligibleSqlOptions, "partition"> {
  /** Treat every eligible row as changed (the ledger is ignored, not erased; dead letters hold nothing back). */
  fullResync?: boolean;
  /** Only the keys with an open dead letter, each sent as today's eligible row (`replay`). */
  replay?: boolean;
  /** The time backoffs are compared with (default: now). */
  now?: Date;
  /** Run each query once per stable key bucket, 0 … partitions-1, one after another (1 or absent: one query). */
  partitions?: number | undefined;
  /** The excluded-rows model's relation when it can be read: why each removed key left (consent, exclude, …). */
  excluded?: string | undefined;
}

/** One partition's query options. */
type PartOptions = PlanOptions & EligibleSqlOptions;

/** The options of each partition's query, in order. */
function partitioned(options: PlanOptions): PartOptions[] {
  const count = Math.max(1, Math.trunc(options.partitions ?? 1));
  return Array.from({ length: count }, (_, index) => ({ ...options, partition: count > 1 ? { index, count } : undefined }));
}

/** The ledger's synced rows of the contract whose keys fall in the options' shard and partition. */
function ledgerRowsWhere(warehouse: Warehouse, options: PartOptions, alias = ""): string {
  const d = warehouse.dialect;
  const column = (name: string): string => (alias ? `${alias}.${name}` : name);
  return `${column("contract_name")} = ${d.param(1)} and ${column("status")} = 'synced' and ${keyCondition(column("sync_key"), d, options)}`;
}

const CHANGE = "__activation_change";
const LEDGER_SYNCED_AT = "__activation_ledger_synced_at";
const LEDGER_LAST_SENT = "__activation_ledger_last_sent";

function parseJson(text: unknown): Record<string, unknown> | null {
  if (typeof text !== "string") return null;
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return null;
  }
}

function asDate(value: unknown): Date | null {
  if (value instanceof Date) return value;
  if (typeof value === "string" || typeof value === "number") {
    const date = new Date(value);
    return Number.isNaN(date.getTime()) ? null : date;
  }
  return null;
}

function needsLastSent(contract: Contract): boolean {
  return fieldMappings(contract.spec).some((m) => m.overwrite === "unless_edited");
}

/**
 * The open dead letters of the contract's write failures, one row per key (a key has one open letter; letters from
 * before the lifecycle may be several, and hold nothing back: no kind, no hash).
 */
function openFailuresSql(warehouse: Warehouse, tables: LedgerTables, options: PartOptions): string {
  const d = warehouse.dialect;
  return [
    `select sync_key, max(failure_kind) as failure_kind, max(row_hash) as row_hash, max(next_attempt_at) as next_attempt_at`,
    `from ${tables.deadLetters} where contract_name = ${d.param(1)} and closed_at is null and error_class <> '${REMOVAL_CLASS}'`,
    `  and ${keyCondition("sync_key", d, options)} group by sync_key`,
  ].join("\n");
}

/** The error_class of a dead letter for a removal (clear, delete, unlist) that failed. */
export const REMOVAL_CLASS = "removal";

function diffSql(contract: Contract, warehouse: Warehouse, tables: LedgerTables, options: PartOptions, withLastSent = needsLastSent(contract)): string {
  const d = warehouse.dialect;
  const q = d.quoteIdentifier;
  const compare = options.fullResync ? "true" : `l.row_hash is distinct from e.${q(HASH_COLUMN)}`;
  const sameRow = `f.row_hash = e.${q(HASH_COLUMN)}`;
  // Replay sends every dead-lettered key; a full resync sends every row; otherwise an open letter of the same row
  // hash holds the row back (permanent: until it changes; transient: until its next attempt time).
  const held = options.replay || options.fullResync
    ? []
    : [`when ${sameRow} and f.failure_kind = 'permanent' then 'failed_unchanged'`, `when ${sameRow} and f.next_attempt_at > ${d.param(2)} then 'retry_later'`];
  const change = options.replay ? `case when l.sync_key is null then 'create' else 'update' end` : `case ${held.join(" ")} when l.sync_key is null then 'create' when ${compare} then 'update' else 'unchanged' end`;
  return [
    `with eligible as (${eligibleRowsSql(contract, d, options)}),`,
    // What we last sent rides along only for the `unless_edited` guard and the plan's field changes: otherwise the
    // join would carry every ledger row's JSON for nothing.
    ...(withLastSent
      ? [
          `ledger as (select sync_key, row_hash, synced_at, last_sent_values from ${tables.ledger} where ${ledgerRowsWhere(warehouse, options)})`,
          `select e.*, l.synced_at as ${q(LEDGER_SYNCED_AT)}, l.last_sent_values as ${q(LEDGER_LAST_SENT)},`,
        ]
      : [
          `ledger as (select sync_key, row_hash from ${tables.ledger} where ${ledgerRowsWhere(warehouse, options)})`,
          `select e.*, cast(null as ${d.types.timestamp}) as ${q(LEDGER_SYNCED_AT)}, cast(null as ${d.types.text}) as ${q(LEDGER_LAST_SENT)},`,
        ]),
    `  ${change} as ${q(CHANGE)}`,
    `from eligible as e left join ledger as l on l.sync_key = e.${q(KEY_COLUMN)}`,
    `${options.replay ? "inner" : "left"} join (${openFailuresSql(warehouse, tables, options)}) as f on f.sync_key = e.${q(KEY_COLUMN)}`,
  ].join("\n");
}

/** The diff's parameters: the contract, and the time backoffs are compared with when the diff reads it. */
function diffParams(contract: Contract, options: PlanOptions): SqlParam[] {
  return options.replay || options.fullResync ? [contract.spec.name] : [contract.spec.name, options.now ?? new Date()];
}

/** The removal query's parameters (see removedKeysSql). */
function removedParams(contract: Contract, options: PlanOptions): SqlParam[] {
  return options.replay ? [contract.spec.name] : [contract.spec.name, options.now ?? new Date()];
}

export async function planCounts(warehouse: Warehouse, contract: Contract, tables: LedgerTables, options: PlanOptions = {}): Promise<PlanCounts> {
  const q = warehouse.dialect.quoteIdentifier;
  const total: PlanCounts = { eligible: 0, create: 0, update: 0, unchanged: 0, removed: 0, failedUnchanged: 0, retryLater: 0, removable: 0 };
  const classes = { create: "create", update: "update", unchanged: "unchanged", failedUnchanged: "failed_unchanged", retryLater: "retry_later" } as const;
  for (const part of partitioned(options)) {
    const expired = expiredRowsSql(contract, warehouse.dialect, part);
    const [row] = await warehouse.query(
      [
        `select count(*) as eligible,`,
        Object.entries(classes).map(([name, change]) => ` sum(case when ${q(CHANGE)} = '${change}' then 1 else 0 end) as ${q(name)}`).join(",\n"),
        `from (${diffSql(contract, warehouse, tables, part)}) as diff`,
      ].join("\n"),
      diffParams(contract, options),
    );
    const [removed] = await warehouse.query(
      `select count(*) as n, sum(case when ${actedOnCondition(contract, options)} then 1 else 0 end) as ${q("removable")} from (${removedKeysSql(contract, warehouse, tables, part)}) as removed`,
      removedParams(contract, options),
    );
    total.eligible += Number(row?.eligible ?? 0);
    for (const name of Object.keys(classes) as (keyof typeof classes)[]) total[name] += Number(row?.[name] ?? 0);
    total.removed += Number(removed?.n ?? 0);
    total.removable += Number(removed?.removable ?? 0);
    if (expired) {
      const [row] = await warehouse.query(`select count(*) as n from (${expired}) as x`);
      total.expired = (total.expired ?? 0) + Number(row?.n ?? 0);
    }
  }
  return total;
}

/**
 * The rows to send (create and update), in key order within each partition, mapped to destination fields. A null
 * follows its field's `on_null` (see contract/rules.ts): left out, sent as null (clear), or the row carries a failure.
 */
export async function* plannedRecords(warehouse: Warehouse, contract: Contract, tables: LedgerTables, options: PlanOptions = {}): AsyncIterable<PlannedRecord[]> {
  const q = warehouse.dialect.quoteIdentifier;
  const toRecord = recordOf(contract);
  for (const part of partitioned(options)) {
    const sql = `select * from (${diffSql(contract, warehouse, tables, part)}) as diff where ${q(CHANGE)} in ('create', 'update') order by ${q(KEY_COLUMN)}`;
    for await (const rows of warehouse.stream(sql, diffParams(contract, options))) yield rows.map(toRecord);
  }
}

/** A diff row as the record a sync would send (see plannedRecords). */
function recordOf(contract: Contract): (row: Record<string, unknown>) => PlannedRecord {
  const mappings = fieldMappings(contract.spec);
  const source = contract.spec.late_arriving?.source;
  return (row) => {
    const fields: PlannedRecord["fields"] = {};
    const unsendable: string[] = [];
    const nullFailures: string[] = [];
    for (const mapping of mappings) {
      const reason = unsendableReason(row[mapping.column]);
      if (reason) {
        unsendable.push(`${mapping.column}: ${reason}`);
        continue;
      }
      const outcome = nullOutcome(mapping, row[mapping.column]);
      if ("fail" in outcome) nullFailures.push(outcome.fail);
      else if (outcome.send) fields[mapping.to] = outcome.value as PlannedRecord["fields"][string];
    }
    const record: PlannedRecord = { key: String(row[KEY_COLUMN]), fields, hash: String(row[HASH_COLUMN]), change: row[CHANGE] as PlannedRecord["change"] };
    if (unsendable.length > 0) record.failure = { code: UNSENDABLE_VALUE_CODE, message: unsendable.join("; ") };
    else if (nullFailures.length > 0) record.failure = { code: NULL_FIELD_CODE, message: nullFailures.join("; ") };
    if (source) record.sourceTimestamp = asDate(row[source]);
    if (record.change === "update") record.ledger = { syncedAt: asDate(row[LEDGER_SYNCED_AT]), lastSent: parseJson(row[LEDGER_LAST_SENT]) };
    return record;
  };
}

/**
 * Of the rows to update, how many would change each destination field: the value the sync would send differs from
 * the one the ledger last sent (both as the ledger's JSON text writes them; a field newly sent counts, a null that
 * `on_null: skip` leaves out does not). Rows that would be dead-lettered instead (a failure) change nothing.
 * Streamed once, only counts kept. The overwrite guards, which read the destination, may still protect some.
 */
export async function fieldChanges(warehouse: Warehouse, contract: Contract, tables: LedgerTables, options: PlanOptions = {}): Promise<Record<string, number>> {
  const q = warehouse.dialect.quoteIdentifier;
  const toRecord = recordOf(contract);
  const fields = [...new Set(fieldMappings(contract.spec).map((m) => m.to))];
  const counts = new Map<string, number>();
  for (const part of partitioned(options)) {
    const sql = `select * from (${diffSql(contract, warehouse, tables, part, true)}) as diff where ${q(CHANGE)} = 'update'`;
    for await (const rows of warehouse.stream(sql, diffParams(contract, options))) {
      for (const row of rows) {
        const record = toRecord(row);
        if (record.failure) continue;
        const lastSent = record.ledger?.lastSent ?? {};
        for (const field of fields) {
          if (field in record.fields && toJsonText(record.fields[field]) !== toJsonText(lastSent[field])) counts.set(field, (counts.get(field) ?? 0) + 1);
        }
      }
    }
  }
  // In the contract's field order, fields that change only.
  return Object.fromEntries(fields.filter((f) => counts.has(f)).map((f) => [f, counts.get(f)!]));
}

export interface RemovedKey {
  key: string;
  recordId: string | null;
  /** Why it left, as the ledger records it: the excluded-rows model's reasons, or what stands in for them. */
  reason: string;
  cause: RemovalCause;
  action: RemovalAction;
}

const REMOVAL_REASONS = "removal_reasons";

/**
 * The excluded-rows model's key (alias `x`) in the ledger's canonical form: a case-insensitive key rule lower-cases
 * it as the ledger does, or a withdrawn consent of `Ann@X.com` would not be found for ledger key `ann@x.com`.
 */
function excludedKeySql(contract: Contract, warehouse: Warehouse, options: { keyRule?: KeyRule | undefined }): string {
  const d = warehouse.dialect;
  const text = `cast(x.${d.quoteIdentifier(contract.spec.key)} as ${d.types.text})`;
  return options.keyRule === "case_insensitive" ? `lower(${text})` : text;
}

/** The excluded-rows model's reasons for the ledger row `l`'s key, or null (not listed, or no readable model). */
function removalReasonsSql(contract: Contract, warehouse: Warehouse, options: PlanOptions): string {
  const d = warehouse.dialect;
  if (!options.excluded) return `cast(null as ${d.types.text})`;
  return `(select max(cast(x.reasons as ${d.types.text})) from ${options.excluded} as x where ${excludedKeySql(contract, warehouse, options)} = l.sync_key)`;
}

/** SQL over removedKeysSql's rows: the removals the run acts on (every one but those `destination.on_removed: keep` leaves). */
function actedOnCondition(contract: Contract, options: PlanOptions): string {
  if (removalAction(contract.spec, "other") !== "skip") return "true";
  if (!declaresSuppressionRemovals(contract.spec)) return "false";
  // Unreadable excluded-rows model: every removal may be a withdrawn consent, so each takes the consent action.
  if (!options.excluded) return "true";
  return ["no_consent", "consent_stale", "excluded:"].map((r) => `${REMOVAL_REASONS} like '%${r}%'`).join(" or ");
}

/**
 * Keys the ledger holds as synced that are no longer eligible, less those whose removal failed before and is held
 * back as a write failure is (permanent: until replay; transient: until its next attempt). `replay`: only those.
 * A key now shared by several rows is rejected, not removed: its record is left alone.
 */
function removedKeysSql(contract: Contract, warehouse: Warehouse, tables: LedgerTables, options: PartOptions): string {
  const d = warehouse.dialect;
  const q = d.quoteIdentifier;
  const letter = `select 1 from ${tables.deadLetters} as x where x.contract_name = ${d.param(1)} and x.sync_key = l.sync_key and x.closed_at is null and x.error_class = '${REMOVAL_CLASS}'`;
  const letters = options.replay ? `and exists (${letter})` : `and not exists (${letter} and (x.failure_kind = 'permanent' or x.next_attempt_at > ${d.param(2)}))`;
  return [
    `select l.sync_key, l.destination_record_id, ${removalReasonsSql(contract, warehouse, options)} as ${REMOVAL_REASONS} from ${tables.ledger} as l`,
    `where ${ledgerRowsWhere(warehouse, options, "l")}`,
    `  and not exists (select 1 from (${eligibleRowsSql(contract, d, options)}) as e where e.${q(KEY_COLUMN)} = l.sync_key)`,
    `  and l.sync_key not in (${sharedKeysSql(contract, d, options)})`,
    `  ${letters}`,
  ].join("\n");
}

/** Keys to remove (see removedKeysSql), in the shard when there is one, in key order within each partition. */
export async function* removedKeys(warehouse: Warehouse, contract: Contract, tables: LedgerTables, options: PlanOptions = {}): AsyncIterable<RemovedKey[]> {
  for (const part of partitioned(options)) {
    const sql = `select * from (${removedKeysSql(contract, warehouse, tables, part)}) as removed where ${actedOnCondition(contract, options)} order by sync_key`;
    for await (const rows of warehouse.stream(sql, removedParams(contract, options))) {
      yield rows.map((r): RemovedKey => {
        const reasons = r[REMOVAL_REASONS] === null || r[REMOVAL_REASONS] === undefined ? null : String(r[REMOVAL_REASONS]);
        const cause = removalCause(reasons, options.excluded !== undefined, contract.spec);
        const reason = reasons ?? (cause === "unknown" ? "unknown" : "not in the eligible rows");
        return { key: String(r.sync_key), recordId: r.destination_record_id === null ? null : String(r.destination_record_id), reason, cause, action: removalAction(contract.spec, cause) };
      });
    }
  }
}

/**
 * The removals per action the run would take: each acted-on key's (clear, delete, unlist, or a recorded keep), and
 * `skip` for the rest, left as `destination.on_removed: keep` leaves them. Streamed, counts only.
 */
export async function removalActionCounts(warehouse: Warehouse, contract: Contract, tables: LedgerTables, counts: Pick<PlanCounts, "removed" | "removable">, options: PlanOptions = {}): Promise<Partial<Record<RemovalAction, number>>> {
  const actions: Partial<Record<RemovalAction, number>> = {};
  if (counts.removed > counts.removable) actions.skip = counts.removed - counts.removable;
  if (counts.removable === 0) return actions;
  for await (const chunk of removedKeys(warehouse, contract, tables, options)) for (const key of chunk) actions[key.action] = (actions[key.action] ?? 0) + 1;
  return actions;
}

/** The records without a failure; those with one go to `onFailed` (awaited, chunk by chunk) and are not yielded. */
export async function* withoutFailedRows(records: AsyncIterable<PlannedRecord[]>, onFailed: (failed: PlannedRecord[]) => Promise<void>): AsyncIterable<PlannedRecord[]> {
  for await (const chunk of records) {
    const failed = chunk.filter((r) => r.failure !== undefined);
    if (failed.length > 0) await onFailed(failed);
    const sendable = failed.length > 0 ? chunk.filter((r) => r.failure === undefined) : chunk;
    if (sendable.length > 0) yield sendable;
  }
}

/**
 * `replay`: the keys with an open write dead letter that are not eligible today (consent withdrawn, suppressed,
 * removed from the model, a null or shared key), with the excluded-rows model's reasons when it lists the key.
 */
export async function ineligibleDeadLetters(warehouse: Warehouse, contract: Contract, tables: LedgerTables, options: PlanOptions = {}): Promise<{ key: string; reason: string }[]> {
  const d = warehouse.dialect;
  const q = d.quoteIdentifier;
  const found: { key: string; reason: string }[] = [];
  for (const part of partitioned(options)) {
    const excluded = contract.excludedModel?.relation;
    const sql = [
      `select f.sync_key, ${excluded ? `(select max(cast(x.reasons as ${d.types.text})) from ${excluded} as x where ${excludedKeySql(contract, warehouse, options)} = f.sync_key)` : "cast(null as " + d.types.text + ")"} as reasons`,
      `from (${openFailuresSql(warehouse, tables, part)}) as f`,
      `where not exists (select 1 from (${eligibleRowsSql(contract, d, part)}) as e where e.${q(KEY_COLUMN)} = f.sync_key)`,
      `order by f.sync_key`,
    ].join("\n");
    for (const row of await warehouse.query(sql, [contract.spec.name])) {
      found.push({ key: String(row.sync_key), reason: row.reasons === null || row.reasons === undefined ? "not in the eligible rows today" : String(row.reasons) });
    }
  }
  return found;
}
