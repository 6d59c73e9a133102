/**
 * The plan: eligible rows diffed against the ledger in the warehouse by row hash, streamed. Classes: create (key not
 * in the ledger), update (hash differs, or the row was written under another field mapping: its ledger row's
 * mapping_hash), unchanged (same hash, same mapping: never sent), removed (in the ledger, no longer
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
import { mappingFingerprint } from "../contract/fingerprint.ts";
import {
  eligibleRowsSql,
  EXPIRED_COLUMN,
  expiredRowsSql,
  HASH_COLUMN,
  KEY_COLUMN,
  KEY_ROWS_COLUMN,
  canonicalTextSql,
  carriedColumns,
  keyCondition,
  keyedRowsSql,
  nullKeyRowsSql,
  rejectedKeyOf,
  rejectedKeys,
  REFUSED_COLUMN,
  type EligibleSqlOptions,
  type RejectedKey,
} from "../eligible/rows.ts";
import { planStaging, type PlanStaging } from "../ledger/plan-staging.ts";
import { toJsonText, type LedgerRecord } from "../ledger/ledger.ts";
import type { LedgerTables } from "../ledger/migrations.ts";
import { UNSENDABLE_VALUE_CODE, unsendableReason, type Dialect, type SqlParam, type Warehouse } from "../warehouse/types.ts";
import { packedTextSelect, type PackedTextSelect } from "../warehouse/packed-text.ts";

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
  /**
   * Plan as a sync with `--accept-new-target` will, once it has retired the ledger's rows of the old target and
   * closed their open dead letters: every eligible row a create, nothing removed or held back (`plan` only).
   */
  retiredLedger?: boolean | undefined;
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
  const retired = options.retiredLedger ? " and 1 = 0" : "";
  return `${column("contract_name")} = ${d.param(1)} and ${column("status")} = 'synced' and ${keyCondition(column("sync_key"), d, options)}${retired}`;
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
/**
 * A contract's open dead letters in this partition, one row per key with the given aggregates: of failed writes, or
 * of failed removals (`REMOVAL_CLASS`), which hold back different things.
 */
function openLettersSql(warehouse: Warehouse, tables: LedgerTables, options: PartOptions, of: "writes" | "removals", aggregates: string): string {
  const d = warehouse.dialect;
  return [
    `select sync_key, ${aggregates}`,
    `from ${tables.deadLetters} where contract_name = ${d.param(1)} and closed_at is null and error_class ${of === "removals" ? "=" : "<>"} '${REMOVAL_CLASS}'`,
    `  and ${keyCondition("sync_key", d, options)}${options.retiredLedger ? " and 1 = 0" : ""} group by sync_key`,
  ].join("\n");
}

/** The open write failures of each key: what holds a row back, and the keys replay sends again. */
function openFailuresSql(warehouse: Warehouse, tables: LedgerTables, options: PartOptions): string {
  return openLettersSql(warehouse, tables, options, "writes", "max(failure_kind) as failure_kind, max(row_hash) as row_hash, max(next_attempt_at) as next_attempt_at, max(mapping_hash) as mapping_hash");
}

/** The error_class of a dead letter for a removal (clear, delete, unlist) that failed. */
export const REMOVAL_CLASS = "removal";

const PART = "__activation_part";
const RECORD_ID = "__activation_record_id";
const REMOVAL_REASONS = "removal_reasons";
/** The classes of the staging table that are eligible rows (the rest: expired, shared, removed, not_replayed). */
const ELIGIBLE_CLASSES = ["create", "update", "unchanged", "failed_unchanged", "retry_later"] as const;

/**
 * One partition's rows of the plan, with their class, as SQL: every keyed row, shared (a key several rows share:
 * rejected, not eligible), expired (`freshness.expire_after`), not_replayed (replay: eligible, with no open dead
 * letter), else the diff's class against the ledger; then the ledger's synced keys that are neither eligible nor
 * shared, as removed (a key now shared is rejected, not removed: its record is left alone), less those whose removal
 * failed before and is held back as a write failure is (permanent: until replay; transient: until its next
 * attempt); `replay`: only those.
 *
 * One statement and one join: keyed rows full outer join the ledger, each joined row read once on each of two sides,
 * side 0 the keyed row classified, side 1 the ledger key as removed (no keyed row, or only an expired one, so an
 * expired key is both). No CTE is read twice, so no engine computes or holds the classified rows a second time for
 * the removed keys: DuckDB did, and that anti-join took most of the plan's time.
 */
function planRowsSql(contract: Contract, warehouse: Warehouse, tables: LedgerTables, options: PartOptions, part: number, lastSent: boolean): string {
  const d = warehouse.dialect;
  const q = d.quoteIdentifier;
  const key = `e.${q(KEY_COLUMN)}`;
  // A row written under another field mapping (a renamed `to`, a changed `on_null`) is an update whatever its hash:
  // the destination does not hold what today's mapping sends. Null (written before the ledger kept it): as today's.
  // The fingerprint is hex (src/contract/fingerprint.ts), safe inline.
  const mapping = mappingFingerprint(contract.spec);
  if (!/^[0-9a-f]+$/.test(mapping)) throw new Error(`mapping fingerprint is not hex: ${mapping}`);
  const compare = options.fullResync ? "true" : `l.row_hash is distinct from e.${q(HASH_COLUMN)} or (l.mapping_hash is not null and l.mapping_hash <> '${mapping}')`;
  // A letter holds its row back only for the same values sent the same way: one written under another mapping (an
  // on_null: fail now clear, a field renamed) no longer says what sending the row would do.
  const sameRow = `f.row_hash = e.${q(HASH_COLUMN)} and (f.mapping_hash is null or f.mapping_hash = '${mapping}')`;
  // Replay sends every dead-lettered key; a full resync sends every row; otherwise an open letter of the same row
  // hash holds the row back (permanent: until it changes; transient: until its next attempt time).
  const held = options.replay || options.fullResync
    ? []
    : [`when ${sameRow} and f.failure_kind = 'permanent' then 'failed_unchanged'`, `when ${sameRow} and f.next_attempt_at > ${d.param(2)} then 'retry_later'`];
  const change = options.replay ? `when l.sync_key is null then 'create' else 'update'` : `${held.join(" ")} when l.sync_key is null then 'create' when ${compare} then 'update' else 'unchanged'`;
  const first = [`when e.${q(KEY_ROWS_COLUMN)} > 1 or e.${q(REFUSED_COLUMN)} = 1 then 'shared'`, `when e.${q(EXPIRED_COLUMN)} = 1 then 'expired'`, ...(options.replay ? [`when f.sync_key is null then 'not_replayed'`] : [])];
  // The open removal letters of each key: replay removes only the keys that have one; otherwise one that failed
  // permanently, or transiently before its next attempt, holds the removal back.
  const removalLetters = openLettersSql(warehouse, tables, options, "removals", `max(${options.replay ? "1" : `case when failure_kind = 'permanent' or next_attempt_at > ${d.param(2)} then 1 else 0 end`}) as held`);
  const letters = options.replay ? `r.sync_key is not null` : `coalesce(r.held, 0) = 0`;
  const removed = `l.sync_key is not null and (${key} is null or (e.${q(KEY_ROWS_COLUMN)} = 1 and e.${q(EXPIRED_COLUMN)} = 1)) and ${letters}`;
  const nothing = (type: string): string => `cast(null as ${type})`;
  const keyedSide = (expression: string): string => `case when s.side = 0 then ${expression} end`;
  const keyedColumns = [...carriedColumns(contract), HASH_COLUMN, KEY_ROWS_COLUMN, EXPIRED_COLUMN].map((c) => `${keyedSide(`e.${q(c)}`)} as ${q(c)}`);
  const reasons = removalReasonsJoin(contract, warehouse, options);
  return [
    `with keyed as (${keyedRowsSql(contract, d, options, "all")}),`,
    `ledger as (select sync_key, row_hash, mapping_hash, destination_record_id${lastSent ? ", synced_at, last_sent_values" : ""} from ${tables.ledger} where ${ledgerRowsWhere(warehouse, options)})`,
    `select ${part} as ${q(PART)}, case when s.side = 0 then ${key} else l.sync_key end as ${q(KEY_COLUMN)}, ${keyedColumns.join(", ")},`,
    `  ${lastSent ? `${keyedSide("l.synced_at")} as ${q(LEDGER_SYNCED_AT)}, ${keyedSide("l.last_sent_values")} as ${q(LEDGER_LAST_SENT)}` : `${nothing(d.types.timestamp)} as ${q(LEDGER_SYNCED_AT)}, ${nothing(d.types.text)} as ${q(LEDGER_LAST_SENT)}`},`,
    `  case when s.side = 0 then case ${first.join(" ")} ${change} end else 'removed' end as ${q(CHANGE)},`,
    `  case when s.side = 1 then l.destination_record_id end as ${q(RECORD_ID)},`,
    `  ${reasons ? `case when s.side = 1 then xr.reasons end` : nothing(d.types.text)} as ${q(REMOVAL_REASONS)}`,
    `from keyed as e full outer join ledger as l on l.sync_key = ${key}`,
    `left join (${openFailuresSql(warehouse, tables, options)}) as f on f.sync_key = ${key}`,
    `left join (${removalLetters}) as r on r.sync_key = l.sync_key`,
    ...(reasons ? [`left join (${reasons}) as xr on xr.sync_key = l.sync_key`] : []),
    `cross join (select 0 as side union all select 1 as side) as s`,
    `where (s.side = 0 and ${key} is not null) or (s.side = 1 and ${removed})`,
  ].join("\n");
}

/**
 * The plan's rows as the staging table keeps them: a row's mapped values, hash and last-sent values only when it is
 * sent (create, update), the only rows they are read from. Most rows of a run are unchanged, and writing their
 * values into the staging table cost as much as classifying them.
 */
function slimPlanSql(contract: Contract, d: Dialect, planned: string): string {
  const q = d.quoteIdentifier;
  const sentOnly = new Set([...carriedColumns(contract), HASH_COLUMN, LEDGER_SYNCED_AT, LEDGER_LAST_SENT]);
  const columns = [PART, KEY_COLUMN, ...carriedColumns(contract), HASH_COLUMN, KEY_ROWS_COLUMN, EXPIRED_COLUMN, LEDGER_SYNCED_AT, LEDGER_LAST_SENT, CHANGE, RECORD_ID, REMOVAL_REASONS];
  const select = columns.map((c) => (sentOnly.has(c) ? `case when ${q(CHANGE)} in ('create', 'update') then ${q(c)} end as ${q(c)}` : q(c)));
  return `select ${select.join(", ")} from (${planned}) as planned`;
}

/** The plan rows' parameters: the contract, and the time backoffs are compared with (every plan but a replay's reads it). */
function planParams(contract: Contract, options: PlanOptions): SqlParam[] {
  return options.replay ? [contract.spec.name] : [contract.spec.name, options.now ?? new Date()];
}

/**
 * The plan of one run, computed once: every partition's keyed rows classified against the ledger (create, update,
 * unchanged, failed_unchanged, retry_later, expired, shared, not_replayed) and its removed keys, written to a
 * staging table (src/ledger/plan-staging.ts) in one pass per partition. Counts, rows to send and removed keys are
 * read from it; `drop()` when done.
 */
export class MaterializedPlan {
  readonly #warehouse: Warehouse;
  readonly #contract: Contract;
  readonly #options: PlanOptions;
  readonly #staging: PlanStaging;
  readonly #partitions: number;
  readonly #withLastSent: boolean;
  #counts: PlanCounts | undefined;
  #recordSelect: Promise<PackedTextSelect> | undefined;

  private constructor(warehouse: Warehouse, contract: Contract, options: PlanOptions, staging: PlanStaging, partitions: number, withLastSent: boolean) {
    this.#warehouse = warehouse;
    this.#contract = contract;
    this.#options = options;
    this.#staging = staging;
    this.#partitions = partitions;
    this.#withLastSent = withLastSent;
  }

  /**
   * `withLastSent`: what we last sent rides along (for the `unless_edited` guard it always does; a dry run's field
   * changes need it too). Otherwise the join would carry every ledger row's JSON for nothing.
   */
  static async materialize(warehouse: Warehouse, contract: Contract, tables: LedgerTables, options: PlanOptions = {}, withLastSent = false): Promise<MaterializedPlan> {
    const staging = planStaging(warehouse, tables);
    const parts = partitioned(options);
    const lastSent = withLastSent || needsLastSent(contract);
    try {
      for (const [index, part] of parts.entries()) {
        const rows = slimPlanSql(contract, warehouse.dialect, planRowsSql(contract, warehouse, tables, part, index, lastSent));
        await warehouse.execute(index === 0 ? staging.createAs(rows) : `insert into ${staging.table} ${rows}`, planParams(contract, options));
      }
    } catch (error) {
      await staging.drop().catch(() => undefined);
      throw error;
    }
    return new MaterializedPlan(warehouse, contract, options, staging, parts.length, lastSent);
  }

  /** A query of the keys whose row is unchanged: the destination holds today's values of it (from our last write). */
  unchangedKeysSql(): string {
    const q = this.#warehouse.dialect.quoteIdentifier;
    return `select ${q(KEY_COLUMN)} from ${this.#staging.table} where ${q(CHANGE)} = 'unchanged'`;
  }

  /** Rows per class (read once from the staging table). */
  async counts(): Promise<PlanCounts> {
    if (this.#counts) return this.#counts;
    const q = this.#warehouse.dialect.quoteIdentifier;
    const rows = await this.#warehouse.query(
      `select ${q(CHANGE)} as ${q("change")}, count(*) as ${q("n")}, sum(case when ${actedOnCondition(this.#contract, this.#options)} then 1 else 0 end) as ${q("removable")} from ${this.#staging.table} group by ${q(CHANGE)}`,
    );
    const of = (change: string): Record<string, unknown> | undefined => rows.find((r) => r.change === change);
    const n = (change: string): number => Number(of(change)?.n ?? 0);
    const counts: PlanCounts = {
      eligible: ELIGIBLE_CLASSES.reduce((sum, change) => sum + n(change), 0),
      create: n("create"),
      update: n("update"),
      unchanged: n("unchanged"),
      removed: n("removed"),
      failedUnchanged: n("failed_unchanged"),
      retryLater: n("retry_later"),
      removable: Number(of("removed")?.removable ?? 0),
    };
    if (expiredRowsSql(this.#contract, this.#warehouse.dialect, this.#options)) counts.expired = n("expired");
    this.#counts = counts;
    return counts;
  }

  /**
   * The rows to send (create and update), in key order within each partition, mapped to destination fields. A null
   * follows its field's `on_null` (see contract/rules.ts): left out, sent as null (clear), or the row carries a failure.
   */
  async *records(): AsyncIterable<PlannedRecord[]> {
    const q = this.#warehouse.dialect.quoteIdentifier;
    const toRecord = recordOf(this.#contract);
    const { columns, unpack } = await this.#recordColumns();
    for (let part = 0; part < this.#partitions; part += 1) {
      // Qualified: a packed text column's select-list alias (null where packed) must not stand for it here.
      const sql = `select ${columns} from ${this.#staging.table} as s where s.${q(PART)} = ${part} and s.${q(CHANGE)} in ('create', 'update') order by s.${q(KEY_COLUMN)}`;
      for await (const rows of this.#warehouse.stream(sql)) yield rows.map((row) => toRecord(unpack(row)));
    }
  }

  /**
   * The staging columns a planned record is read from (recordOf): each value read costs its conversion in Node, so
   * the text columns are read packed where the engine packs them (src/warehouse/packed-text.ts).
   */
  #recordColumns(): Promise<PackedTextSelect> {
    const columns = [...new Set([KEY_COLUMN, ...carriedColumns(this.#contract), HASH_COLUMN, CHANGE, LEDGER_SYNCED_AT, LEDGER_LAST_SENT])];
    this.#recordSelect ??= packedTextSelect(this.#warehouse, this.#staging.table, columns);
    return this.#recordSelect;
  }

  /**
   * The relation's rejected keys (null, and shared by several rows), as `rejectedKeys` finds them: the shared keys
   * read from the plan, which holds each with its row count, and the null keys counted, with no pass over the
   * relation per partition. A shard's plan holds its shard's keys only, so a sharded run counts them all again.
   */
  async rejectedKeys(): Promise<RejectedKey[]> {
    const warehouse = this.#warehouse;
    const options = this.#options;
    if (options.shard && options.shard.count > 1) return rejectedKeys(warehouse, this.#contract, options);
    const q = warehouse.dialect.quoteIdentifier;
    const [nulls] = await warehouse.query(nullKeyRowsSql(this.#contract, warehouse.dialect, options.builtBy));
    const rejected = Number(nulls?.rows ?? 0) > 0 ? [rejectedKeyOf({ key: null, rows: nulls?.rows }, options.keyRule)] : [];
    const shared = `select ${q(KEY_COLUMN)} as ${q("key")}, max(${q(KEY_ROWS_COLUMN)}) as ${q("rows")} from ${this.#staging.table} where ${q(CHANGE)} = 'shared' group by ${q(KEY_COLUMN)}`;
    for await (const chunk of warehouse.stream(shared)) rejected.push(...chunk.map((row) => rejectedKeyOf(row, options.keyRule)));
    return rejected;
  }

  /** Keys to remove that the run acts on, in key order within each partition. */
  async *removedKeys(): AsyncIterable<RemovedKey[]> {
    const q = this.#warehouse.dialect.quoteIdentifier;
    const contract = this.#contract;
    const excluded = this.#options.excluded !== undefined;
    for (let part = 0; part < this.#partitions; part += 1) {
      const sql = `select * from ${this.#staging.table} where ${q(PART)} = ${part} and ${q(CHANGE)} = 'removed' and (${actedOnCondition(contract, this.#options)}) order by ${q(KEY_COLUMN)}`;
      for await (const rows of this.#warehouse.stream(sql)) {
        yield rows.map((r): RemovedKey => {
          const reasons = r[REMOVAL_REASONS] === null || r[REMOVAL_REASONS] === undefined ? null : String(r[REMOVAL_REASONS]);
          const cause = removalCause(reasons, excluded, contract.spec);
          const reason = reasons ?? (cause === "unknown" ? "unknown" : "not in the eligible rows");
          const recordId = r[RECORD_ID] === null || r[RECORD_ID] === undefined ? null : String(r[RECORD_ID]);
          return { key: String(r[KEY_COLUMN]), recordId, reason, cause, action: removalAction(contract.spec, cause) };
        });
      }
    }
  }

  /**
   * Of the rows to update, how many would change each destination field: the value the sync would send differs from
   * the one the ledger last sent (both as the ledger's JSON text writes them; a field newly sent counts, a null that
   * `on_null: skip` leaves out does not). Rows that would be dead-lettered instead (a failure) change nothing.
   * Streamed once, only counts kept. The overwrite guards, which read the destination, may still protect some.
   * Needs a plan materialized `withLastSent`.
   */
  async fieldChanges(): Promise<Record<string, number>> {
    if (!this.#withLastSent) throw new Error("fieldChanges needs a plan materialized with what was last sent");
    const q = this.#warehouse.dialect.quoteIdentifier;
    const toRecord = recordOf(this.#contract);
    const fields = [...new Set(fieldMappings(this.#contract.spec).map((m) => m.to))];
    const counts = new Map<string, number>();
    const { columns, unpack } = await this.#recordColumns();
    for await (const rows of this.#warehouse.stream(`select ${columns} from ${this.#staging.table} as s where s.${q(CHANGE)} = 'update'`)) {
      for (const row of rows) {
        const record = toRecord(unpack(row));
        if (record.failure) continue;
        const lastSent = record.ledger?.lastSent ?? {};
        for (const field of fields) {
          if (field in record.fields && toJsonText(record.fields[field]) !== toJsonText(lastSent[field])) counts.set(field, (counts.get(field) ?? 0) + 1);
        }
      }
    }
    // In the contract's field order, fields that change only.
    return Object.fromEntries(fields.filter((f) => counts.has(f)).map((f) => [f, counts.get(f)!]));
  }

  /**
   * The removals per action the run would take: each acted-on key's (clear, delete, unlist, or a recorded keep), and
   * `skip` for the rest, left as `destination.on_removed: keep` leaves them. Streamed, counts only.
   */
  async removalActions(): Promise<Partial<Record<RemovalAction, number>>> {
    const counts = await this.counts();
    const actions: Partial<Record<RemovalAction, number>> = {};
    if (counts.removed > counts.removable) actions.skip = counts.removed - counts.removable;
    if (counts.removable === 0) return actions;
    for await (const chunk of this.removedKeys()) for (const key of chunk) actions[key.action] = (actions[key.action] ?? 0) + 1;
    return actions;
  }

  async drop(): Promise<void> {
    await this.#staging.drop();
  }
}

/** Runs `read` on a plan materialized for it alone, dropped after. */
async function once<T>(warehouse: Warehouse, contract: Contract, tables: LedgerTables, options: PlanOptions, read: (plan: MaterializedPlan) => Promise<T>, withLastSent = false): Promise<T> {
  const plan = await MaterializedPlan.materialize(warehouse, contract, tables, options, withLastSent);
  try {
    return await read(plan);
  } finally {
    await plan.drop();
  }
}

/** The plan's counts alone (a run reads them, its records and removed keys from one MaterializedPlan). */
export async function planCounts(warehouse: Warehouse, contract: Contract, tables: LedgerTables, options: PlanOptions = {}): Promise<PlanCounts> {
  return once(warehouse, contract, tables, options, (plan) => plan.counts());
}

/** The plan's field changes alone (see MaterializedPlan.fieldChanges). */
export async function fieldChanges(warehouse: Warehouse, contract: Contract, tables: LedgerTables, options: PlanOptions = {}): Promise<Record<string, number>> {
  return once(warehouse, contract, tables, options, (plan) => plan.fieldChanges(), true);
}

/** The plan's rows to send alone (see MaterializedPlan.records). */
export async function* plannedRecords(warehouse: Warehouse, contract: Contract, tables: LedgerTables, options: PlanOptions = {}): AsyncIterable<PlannedRecord[]> {
  const plan = await MaterializedPlan.materialize(warehouse, contract, tables, options);
  try {
    yield* plan.records();
  } finally {
    await plan.drop();
  }
}

/** The plan's removed keys alone (see MaterializedPlan.removedKeys). */
export async function* removedKeys(warehouse: Warehouse, contract: Contract, tables: LedgerTables, options: PlanOptions = {}): AsyncIterable<RemovedKey[]> {
  const plan = await MaterializedPlan.materialize(warehouse, contract, tables, options);
  try {
    yield* plan.removedKeys();
  } finally {
    await plan.drop();
  }
}

/** A staging row as a planned record. */
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

export interface RemovedKey {
  key: string;
  recordId: string | null;
  /** Why it left, as the ledger records it: the excluded-rows model's reasons, or what stands in for them. */
  reason: string;
  cause: RemovalCause;
  action: RemovalAction;
}

/**
 * The excluded-rows model's key (alias `x`) in the ledger's canonical form: a case-insensitive key rule lowers its
 * ASCII letters as the ledger does, or a withdrawn consent of `Ann@X.com` would not be found for ledger key `ann@x.com`.
 */
function excludedKeySql(contract: Contract, warehouse: Warehouse, options: { keyRule?: KeyRule | undefined }): string {
  const d = warehouse.dialect;
  return canonicalTextSql(`cast(x.${d.quoteIdentifier(contract.spec.key)} as ${d.types.text})`, d, options.keyRule);
}

/** The excluded-rows model's reasons per key (columns sync_key, reasons), or undefined (no readable model). */
function removalReasonsJoin(contract: Contract, warehouse: Warehouse, options: PlanOptions): string | undefined {
  const d = warehouse.dialect;
  if (!options.excluded) return undefined;
  const key = excludedKeySql(contract, warehouse, options);
  return `select ${key} as sync_key, max(cast(x.reasons as ${d.types.text})) as reasons from ${options.excluded} as x group by ${key}`;
}

/** SQL over the staging table's removed rows: the removals the run acts on (every one but those `destination.on_removed: keep` leaves). */
function actedOnCondition(contract: Contract, options: PlanOptions): string {
  if (removalAction(contract.spec, "other") !== "skip") return "true";
  if (!declaresSuppressionRemovals(contract.spec)) return "false";
  // Unreadable excluded-rows model: every removal may be a withdrawn consent, so each takes the consent action.
  if (!options.excluded) return "true";
  return ["no_consent", "consent_stale", "excluded:"].map((r) => `${REMOVAL_REASONS} like '%${r}%'`).join(" or ");
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
