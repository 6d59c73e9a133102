/**
 * The plan: eligible rows diffed against the ledger in the warehouse by row hash, streamed. Classes: create (key not
 * in the ledger), update (hash differs), unchanged (same hash: never sent), removed (in the ledger, no longer
 * eligible). Nothing is held in memory but one chunk; a run where nothing changed streams nothing. With
 * `partitions`, each query runs once per stable key bucket, one after another (see partitions.ts).
 */
import type { Contract } from "../contract/load.ts";
import { fieldMappings } from "../contract/schema.ts";
import type { DestinationRecord } from "../destinations/types.ts";
import { eligibleRowsSql, HASH_COLUMN, KEY_COLUMN, keyCondition, type EligibleSqlOptions } from "../eligible/rows.ts";
import type { LedgerTables } from "../ledger/migrations.ts";
import type { Warehouse } from "../warehouse/types.ts";

export type ChangeClass = "create" | "update" | "unchanged" | "removed";

export interface PlannedRecord extends DestinationRecord {
  change: "create" | "update";
  hash: string;
  /** The row's `late_arriving.source` timestamp, when the contract declares one. */
  sourceTimestamp?: Date | null;
  /** What the ledger says we last sent for this key (absent for creates). */
  ledger?: { syncedAt: Date | null; lastSent: Record<string, unknown> | null };
}

export interface PlanCounts {
  eligible: number;
  create: number;
  update: number;
  unchanged: number;
  removed: number;
}

export interface PlanOptions extends Omit<EligibleSqlOptions, "partition"> {
  /** Treat every eligible row as changed (the ledger is ignored, not erased). */
  fullResync?: boolean;
  /** Run each query once per stable key bucket, 0 … partitions-1, one after another (1 or absent: one query). */
  partitions?: number | undefined;
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

function diffSql(contract: Contract, warehouse: Warehouse, tables: LedgerTables, options: PartOptions): string {
  const d = warehouse.dialect;
  const q = d.quoteIdentifier;
  const compare = options.fullResync ? "true" : `l.row_hash is distinct from e.${q(HASH_COLUMN)}`;
  return [
    `with eligible as (${eligibleRowsSql(contract, d, options)}),`,
    // What we last sent rides along only for the `unless_edited` guard: otherwise the join would carry every
    // ledger row's JSON for nothing.
    ...(needsLastSent(contract)
      ? [
          `ledger as (select sync_key, row_hash, synced_at, last_sent_values from ${tables.ledger} where ${ledgerRowsWhere(warehouse, options)})`,
          `select e.*, l.synced_at as ${q(LEDGER_SYNCED_AT)}, l.last_sent_values as ${q(LEDGER_LAST_SENT)},`,
        ]
      : [
          `ledger as (select sync_key, row_hash from ${tables.ledger} where ${ledgerRowsWhere(warehouse, options)})`,
          `select e.*, cast(null as ${d.types.timestamp}) as ${q(LEDGER_SYNCED_AT)}, cast(null as ${d.types.text}) as ${q(LEDGER_LAST_SENT)},`,
        ]),
    `  case when l.sync_key is null then 'create' when ${compare} then 'update' else 'unchanged' end as ${q(CHANGE)}`,
    `from eligible as e left join ledger as l on l.sync_key = e.${q(KEY_COLUMN)}`,
  ].join("\n");
}

export async function planCounts(warehouse: Warehouse, contract: Contract, tables: LedgerTables, options: PlanOptions = {}): Promise<PlanCounts> {
  const q = warehouse.dialect.quoteIdentifier;
  const total: PlanCounts = { eligible: 0, create: 0, update: 0, unchanged: 0, removed: 0 };
  for (const part of partitioned(options)) {
    const [row] = await warehouse.query(
      [
        `with diff as (${diffSql(contract, warehouse, tables, part)})`,
        `select count(*) as eligible,`,
        ` sum(case when ${q(CHANGE)} = 'create' then 1 else 0 end) as ${q("create")},`,
        ` sum(case when ${q(CHANGE)} = 'update' then 1 else 0 end) as ${q("update")},`,
        ` sum(case when ${q(CHANGE)} = 'unchanged' then 1 else 0 end) as unchanged,`,
        ` (select count(*) from ${tables.ledger} as l where ${ledgerRowsWhere(warehouse, part, "l")}`,
        `   and not exists (select 1 from diff where diff.${q(KEY_COLUMN)} = l.sync_key)) as removed`,
        `from diff`,
      ].join("\n"),
      [contract.spec.name],
    );
    total.eligible += Number(row?.eligible ?? 0);
    total.create += Number(row?.create ?? 0);
    total.update += Number(row?.update ?? 0);
    total.unchanged += Number(row?.unchanged ?? 0);
    total.removed += Number(row?.removed ?? 0);
  }
  return total;
}

/** The rows to send (create and update), in key order within each partition, mapped to destination fields. Nulls are left out, but for on_null: clear (sent as null). */
export async function* plannedRecords(warehouse: Warehouse, contract: Contract, tables: LedgerTables, options: PlanOptions = {}): AsyncIterable<PlannedRecord[]> {
  const q = warehouse.dialect.quoteIdentifier;
  const mappings = fieldMappings(contract.spec);
  const source = contract.spec.late_arriving?.source;
  const toRecord = (row: Record<string, unknown>): PlannedRecord => {
    const fields: DestinationRecord["fields"] = {};
    for (const { column, to, on_null } of mappings) {
      const value = row[column];
      if (value !== null && value !== undefined) fields[to] = value;
      else if (on_null === "clear") fields[to] = null; // the destination empties its field (skip: left out, untouched)
    }
    const record: PlannedRecord = { key: String(row[KEY_COLUMN]), fields, hash: String(row[HASH_COLUMN]), change: row[CHANGE] as PlannedRecord["change"] };
    if (source) record.sourceTimestamp = asDate(row[source]);
    if (record.change === "update") record.ledger = { syncedAt: asDate(row[LEDGER_SYNCED_AT]), lastSent: parseJson(row[LEDGER_LAST_SENT]) };
    return record;
  };
  for (const part of partitioned(options)) {
    const sql = `select * from (${diffSql(contract, warehouse, tables, part)}) as diff where ${q(CHANGE)} <> 'unchanged' order by ${q(KEY_COLUMN)}`;
    for await (const rows of warehouse.stream(sql, [contract.spec.name])) yield rows.map(toRecord);
  }
}

export interface RemovedKey {
  key: string;
  recordId: string | null;
}

/** Keys the ledger holds as synced that are no longer eligible (in the shard, when there is one), in key order within each partition. */
export async function* removedKeys(warehouse: Warehouse, contract: Contract, tables: LedgerTables, options: PlanOptions = {}): AsyncIterable<RemovedKey[]> {
  const q = warehouse.dialect.quoteIdentifier;
  for (const part of partitioned(options)) {
    const sql = [
      `with eligible as (${eligibleRowsSql(contract, warehouse.dialect, part)})`,
      `select l.sync_key, l.destination_record_id from ${tables.ledger} as l`,
      `where ${ledgerRowsWhere(warehouse, part, "l")}`,
      `  and not exists (select 1 from eligible as e where e.${q(KEY_COLUMN)} = l.sync_key)`,
      `order by l.sync_key`,
    ].join("\n");
    for await (const rows of warehouse.stream(sql, [contract.spec.name])) {
      yield rows.map((r) => ({ key: String(r.sync_key), recordId: r.destination_record_id === null ? null : String(r.destination_record_id) }));
    }
  }
}
