/**
 * Eligible rows: the rows of a contract's model that may be sent, read from the warehouse in streamed chunks.
 * Rows with a null sync key or a key shared with another row are not eligible (sending them would pick one at
 * random or write nothing useful); they are returned separately as rejected rows so every row is accounted for.
 */
import type { Contract } from "../contract/load.ts";
import { fieldMappings } from "../contract/schema.ts";
import { BadInputError } from "../errors.ts";
import type { Dialect, Warehouse } from "../warehouse/types.ts";

export interface RejectedKey {
  key: string | null;
  reason: "null_key" | "duplicate_key";
  rows: number;
}

const KEY_ALIAS = "__activation_key";
const COUNT_ALIAS = "__activation_key_rows";

/** Syncs read the generated activation model when there is one (suppression applied), else the model itself. */
function relationOf(contract: Contract): string {
  const model = contract.activationModel ?? contract.model;
  if (!model.relation) {
    throw new BadInputError(`model ${model.name} has no relation in the manifest (ephemeral models cannot be synced)`, { where: model.file });
  }
  return model.relation;
}

/** Checks that the key and every mapped column exist in the built relation, naming the contract field if not. */
export async function checkColumns(warehouse: Warehouse, contract: Contract): Promise<void> {
  const available = new Set((await warehouse.columns(relationOf(contract))).map((c) => c.toLowerCase()));
  const missing: string[] = [];
  if (!available.has(contract.spec.key.toLowerCase())) missing.push(`key: column ${contract.spec.key}`);
  for (const { column } of fieldMappings(contract.spec)) {
    if (!available.has(column.toLowerCase())) missing.push(`fields.${column}: column ${column}`);
  }
  if (missing.length > 0) {
    throw new BadInputError(`${contract.model.file}: model ${contract.model.name}, contract ${contract.spec.name}: columns not in ${relationOf(contract)}`, {
      where: contract.model.file,
      details: missing,
    });
  }
}

export const KEY_COLUMN = KEY_ALIAS;
export const HASH_COLUMN = "__activation_hash";
/** The row hash the generated activation model computes (the `activation.row_hash` macro), used when present. */
export const MODEL_HASH_COLUMN = "_activation_row_hash";

export interface Shard {
  /** 0-based. */
  index: number;
  count: number;
}

export interface EligibleSqlOptions {
  /** Read the activation model's own `_activation_row_hash` instead of hashing the mapped columns here. */
  modelHash?: boolean;
  /** Only the keys of one shard: workers with shards 0/n … n-1/n together cover every key exactly once. */
  shard?: Shard | undefined;
}

/** The SQL condition that a text key belongs to the shard (true without a shard). */
export function shardCondition(textKey: string, dialect: Dialect, shard: Shard | undefined): string {
  return shard && shard.count > 1 ? `${dialect.hashBucket(`'shard:' || ${textKey}`, shard.count)} = ${Math.trunc(shard.index)}` : "true";
}

/**
 * Eligible rows as SQL (no order): the key as text, the mapped columns, and a hash of the mapped values that the
 * planner compares with the ledger. Null and shared keys are left out.
 */
export function eligibleRowsSql(contract: Contract, dialect: Dialect, options: EligibleSqlOptions = {}): string {
  const q = dialect.quoteIdentifier;
  const key = q(contract.spec.key);
  const mapped = [...new Set(fieldMappings(contract.spec).map((m) => m.column))].map(q);
  // The late-arrival source timestamp rides along (unhashed): the engine compares it with the destination's.
  const source = contract.spec.late_arriving?.source;
  const carried = source && !fieldMappings(contract.spec).some((m) => m.column === source) ? [...mapped, q(source)] : mapped;
  const hash = options.modelHash ? q(MODEL_HASH_COLUMN) : dialect.rowHash(mapped);
  return [
    `select ${q(KEY_ALIAS)}, ${carried.join(", ")}, ${q(HASH_COLUMN)} from (`,
    `  select cast(${key} as ${dialect.types.text}) as ${q(KEY_ALIAS)}, ${carried.join(", ")}, ${hash} as ${q(HASH_COLUMN)},`,
    `    count(*) over (partition by ${key}) as ${q(COUNT_ALIAS)}`,
    `  from ${relationOf(contract)}`,
    `  where ${key} is not null`,
    `) as keyed where ${q(COUNT_ALIAS)} = 1 and ${shardCondition(q(KEY_ALIAS), dialect, options.shard)}`,
  ].join("\n");
}

/** Whether the relation a contract reads carries the activation model's row hash. */
export async function hasModelHash(warehouse: Warehouse, contract: Contract): Promise<boolean> {
  return (await warehouse.columns(relationOf(contract))).some((c) => c.toLowerCase() === MODEL_HASH_COLUMN);
}

export function rejectedKeysSql(contract: Contract, dialect: Dialect): string {
  const q = dialect.quoteIdentifier;
  const key = q(contract.spec.key);
  return [
    `select cast(${key} as ${dialect.types.text}) as ${q("key")}, count(*) as ${q("rows")}`,
    `from ${relationOf(contract)}`,
    `group by ${key}`,
    `having ${key} is null or count(*) > 1`,
    `order by 1`,
  ].join("\n");
}

export async function rejectedKeys(warehouse: Warehouse, contract: Contract): Promise<RejectedKey[]> {
  const rejected: RejectedKey[] = [];
  for await (const chunk of warehouse.stream(rejectedKeysSql(contract, warehouse.dialect))) {
    for (const row of chunk) {
      const key = row.key === null || row.key === undefined ? null : String(row.key);
      rejected.push({ key, reason: key === null ? "null_key" : "duplicate_key", rows: Number(row.rows) });
    }
  }
  return rejected;
}
