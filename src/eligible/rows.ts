/**
 * Eligible rows: the rows of a contract's model that may be sent, read from the warehouse in streamed chunks.
 * Rows with a null sync key or a key shared with another row are not eligible (sending them would pick one at
 * random or write nothing useful); they are returned separately as rejected rows so every row is accounted for.
 */
import type { Contract } from "../contract/load.ts";
import { expiryCutoff, refusedKey, type KeyRule } from "../contract/rules.ts";
import { fieldMappings } from "../contract/schema.ts";
import { BadInputError } from "../errors.ts";
import { caseInsensitiveKeySql, type Dialect, type Warehouse } from "../warehouse/types.ts";

export interface RejectedKey {
  /** The key in the destination's canonical form (ASCII letters lowered where it compares keys case-insensitively). */
  key: string | null;
  /**
   * null_key; duplicate_key: several rows share the key under the rule; non_ascii_key: under a case-insensitive rule,
   * the key has a character outside ASCII, whose comparison no destination documents (`refusedKey`).
   */
  reason: "null_key" | "duplicate_key" | "non_ascii_key";
  rows: number;
  /** For a shared or non-ASCII key: the rule it was compared under, when not exact (rows whose keys differ only in case). */
  rule?: KeyRule;
}

const KEY_ALIAS = "__activation_key";
const COUNT_ALIAS = "__activation_key_rows";
const EXPIRED_ALIAS = "__activation_expired";
const REFUSED_ALIAS = "__activation_key_refused";

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

/** One of `count` stable buckets of the keys (0-based `index`). */
export interface KeyBucket {
  index: number;
  count: number;
}

export type Shard = KeyBucket;

export interface EligibleSqlOptions {
  /** Read the activation model's own `_activation_row_hash` instead of hashing the mapped columns here. */
  modelHash?: boolean;
  /** Only the keys of one shard: workers with shards 0/n … n-1/n together cover every key exactly once. */
  shard?: Shard | undefined;
  /** Only the keys of one of the plan's partitions (see src/plan/partitions.ts): salted apart from shards. */
  partition?: KeyBucket | undefined;
  /** The run's clock for `freshness.expire_after` (one value per run, so every query of it agrees); default now. */
  now?: Date | undefined;
  /** Only rows the activation model built in this dbt invocation (its `_activation_invocation_id`). */
  builtBy?: string | undefined;
  /**
   * How the destination compares keys (`Destination.keyRule()`; default exact): keys equal under it are one key, so
   * rows sharing it are rejected, and the key text everywhere after (plan, ledger, sends) is its canonical form.
   */
  keyRule?: KeyRule | undefined;
}

/** The column the generated activation model fills with the id of the dbt invocation that built it (activation.eligible_rows). */
export const INVOCATION_COLUMN = "_activation_invocation_id";

/** The SQL condition that a row was built by the given invocation (true without one). */
function builtByCondition(dialect: Dialect, builtBy: string | undefined): string {
  return builtBy === undefined ? "true" : `${dialect.quoteIdentifier(INVOCATION_COLUMN)} = '${builtBy.replaceAll("'", "''")}'`;
}

/**
 * The dbt invocations whose rows the relation a contract reads holds, or undefined when it does not record them (a
 * contract without an activation model, or one built by a package older than the column).
 */
export async function rowInvocations(warehouse: Warehouse, contract: Contract): Promise<string[] | undefined> {
  if (!contract.activationModel) return undefined;
  const columns = await warehouse.columns(relationOf(contract));
  const column = columns.find((c) => c.toLowerCase() === INVOCATION_COLUMN);
  if (column === undefined) return undefined;
  const q = warehouse.dialect.quoteIdentifier;
  const rows = await warehouse.query(`select distinct ${q(column)} as ${q("invocation")} from ${relationOf(contract)}`);
  return rows.map((r) => (r.invocation === null || r.invocation === undefined ? "(none)" : String(r.invocation))).sort();
}

/** The SQL condition that a row's value has expired (`freshness.expire_after`), or undefined without an expiry. */
function expiredCondition(contract: Contract, dialect: Dialect, now: Date | undefined): string | undefined {
  const cutoff = expiryCutoff(contract.spec, now ?? new Date());
  if (!cutoff) return undefined;
  // An explicit UTC offset: timestamptz engines would otherwise read the literal in the session's time zone.
  const literal = `${cutoff.before.toISOString().replace("T", " ").replace("Z", "")}+00:00`;
  return `cast(${dialect.quoteIdentifier(cutoff.column)} as ${dialect.types.timestamp}) < cast('${literal}' as ${dialect.types.timestamp})`;
}

/**
 * A text expression in the canonical form of the rule, in SQL: exactly `canonicalKey` in TypeScript, on every engine,
 * for every key that can be sent (a key `refusedKey` refuses keeps the text earlier versions stored for it).
 */
export function canonicalTextSql(text: string, dialect: Dialect, rule: KeyRule | undefined): string {
  return rule === "case_insensitive" ? caseInsensitiveKeySql(text, dialect) : text;
}

/** The key column as text, as the model holds it. */
function keyTextSql(contract: Contract, dialect: Dialect): string {
  return `cast(${dialect.quoteIdentifier(contract.spec.key)} as ${dialect.types.text})`;
}

/** The key column as canonical text: the destination's rule applied in SQL (`canonicalKey` in TypeScript). */
export function canonicalKeySql(contract: Contract, dialect: Dialect, rule: KeyRule | undefined): string {
  return canonicalTextSql(keyTextSql(contract, dialect), dialect, rule);
}

/**
 * The SQL condition that a row's key is refused before sending under the rule (`refusedKey` in TypeScript): a
 * character outside ASCII under a case-insensitive rule; never under an exact one. Rows of such a key are rejected
 * like the rows of a shared key: neither sent nor taken for removed.
 */
export function refusedKeySql(contract: Contract, dialect: Dialect, rule: KeyRule | undefined): string {
  return rule === "case_insensitive" ? dialect.nonAscii(keyTextSql(contract, dialect)) : "false";
}

/** The SQL condition that a text key belongs to the shard (true without a shard). */
export function shardCondition(textKey: string, dialect: Dialect, shard: Shard | undefined): string {
  return shard && shard.count > 1 ? `${dialect.hashBucket(`'shard:' || ${textKey}`, shard.count)} = ${Math.trunc(shard.index)}` : "true";
}

/** The SQL condition that a text key belongs to the plan partition (true without one): salted apart from shards. */
function partitionCondition(textKey: string, dialect: Dialect, partition: KeyBucket | undefined): string {
  if (!partition || partition.count <= 1) return "true";
  const bucket = dialect.partitionBucket ? dialect.partitionBucket(textKey, "'part:'", partition.count) : dialect.hashBucket(`'part:' || ${textKey}`, partition.count);
  return `${bucket} = ${Math.trunc(partition.index)}`;
}

/** The SQL condition that a text key belongs to the shard and the plan partition the options name. */
export function keyCondition(textKey: string, dialect: Dialect, options: EligibleSqlOptions): string {
  return [shardCondition(textKey, dialect, options.shard), partitionCondition(textKey, dialect, options.partition)].filter((c) => c !== "true").join(" and ") || "true";
}

/**
 * Eligible rows as SQL (no order): the key as text, the mapped columns, and a hash of the mapped values that the
 * planner compares with the ledger. Null and shared keys are left out.
 */
export function eligibleRowsSql(contract: Contract, dialect: Dialect, options: EligibleSqlOptions = {}): string {
  return keyedRowsSql(contract, dialect, options, "fresh");
}

/**
 * The rows `freshness.expire_after` leaves out (keyed like eligible rows: null and shared keys are rejected, not
 * expired), or undefined when the contract declares no expiry.
 */
export function expiredRowsSql(contract: Contract, dialect: Dialect, options: EligibleSqlOptions = {}): string | undefined {
  return expiryCutoff(contract.spec, options.now ?? new Date()) ? keyedRowsSql(contract, dialect, options, "expired") : undefined;
}

/**
 * The model's columns an eligible row carries, after its key and before its hash: the mapped columns, and the
 * late-arrival source timestamp (unhashed: the engine compares it with the destination's).
 */
export function carriedColumns(contract: Contract): string[] {
  const mapped = [...new Set(fieldMappings(contract.spec).map((m) => m.column))];
  const source = contract.spec.late_arriving?.source;
  return source && !mapped.includes(source) ? [...mapped, source] : mapped;
}

/** Per keyed row (`keyedRowsSql(…, "all")`): how many rows share its key (more than 1: rejected, not eligible). */
export const KEY_ROWS_COLUMN = COUNT_ALIAS;
/** Per keyed row (`keyedRowsSql(…, "all")`): 1 when `freshness.expire_after` leaves it out, else 0. */
export const EXPIRED_COLUMN = EXPIRED_ALIAS;
/** Per keyed row (`keyedRowsSql(…, "all")`): 1 when the key rule refuses its key (`refusedKeySql`), else 0. */
export const REFUSED_COLUMN = REFUSED_ALIAS;

/**
 * Rows with a key, as SQL: "fresh" the eligible ones, "expired" those `freshness.expire_after` leaves out, "all"
 * every keyed row with KEY_ROWS_COLUMN and EXPIRED_COLUMN to tell them apart (the plan's one pass, src/plan/diff.ts).
 */
export function keyedRowsSql(contract: Contract, dialect: Dialect, options: EligibleSqlOptions, which: "fresh" | "expired" | "all"): string {
  const q = dialect.quoteIdentifier;
  const key = q(contract.spec.key);
  const mapped = [...new Set(fieldMappings(contract.spec).map((m) => m.column))].map(q);
  const carried = carriedColumns(contract).map(q);
  const hash = options.modelHash ? q(MODEL_HASH_COLUMN) : dialect.rowHash(mapped);
  const textKey = canonicalKeySql(contract, dialect, options.keyRule);
  const expired = expiredCondition(contract, dialect, options.now);
  // The shard and partition filters go before the window: rows sharing a key share its buckets, so this is exact,
  // and the window (and everything after it) holds only the bucket's rows.
  return [
    `select ${q(KEY_ALIAS)}, ${carried.join(", ")}, ${q(HASH_COLUMN)}${which === "all" ? `, ${q(COUNT_ALIAS)}, ${q(EXPIRED_ALIAS)}, ${q(REFUSED_ALIAS)}` : ""} from (`,
    `  select ${textKey} as ${q(KEY_ALIAS)}, ${carried.join(", ")}, ${hash} as ${q(HASH_COLUMN)},`,
    `    count(*) over (partition by ${textKey}) as ${q(COUNT_ALIAS)}, ${expired ? `case when ${expired} then 1 else 0 end` : "0"} as ${q(EXPIRED_ALIAS)},`,
    `    case when ${refusedKeySql(contract, dialect, options.keyRule)} then 1 else 0 end as ${q(REFUSED_ALIAS)}`,
    `  from ${relationOf(contract)}`,
    `  where ${key} is not null and ${keyCondition(textKey, dialect, options)} and ${builtByCondition(dialect, options.builtBy)}`,
    which === "all"
      ? `) as keyed`
      : `) as keyed where ${q(COUNT_ALIAS)} = 1 and ${q(REFUSED_ALIAS)} = 0${expired ? ` and ${q(EXPIRED_ALIAS)} = ${which === "expired" ? 1 : 0}` : ""}`,
  ].join("\n");
}

/**
 * Keys (canonical text, column `k`) that several rows of the relation share, or that the key rule refuses, in the
 * options' shard and partition: rejected, not removed. A key that became shared is still in the data, so what was
 * written for it stays.
 */
export function sharedKeysSql(contract: Contract, dialect: Dialect, options: EligibleSqlOptions = {}): string {
  const textKey = canonicalKeySql(contract, dialect, options.keyRule);
  return [
    `select ${textKey} as k from ${relationOf(contract)}`,
    `where ${dialect.quoteIdentifier(contract.spec.key)} is not null and ${keyCondition(textKey, dialect, options)} and ${builtByCondition(dialect, options.builtBy)}`,
    `group by ${textKey} having count(*) > 1 or max(case when ${refusedKeySql(contract, dialect, options.keyRule)} then 1 else 0 end) = 1`,
  ].join("\n");
}

/** Whether the relation a contract reads carries the activation model's row hash. */
export async function hasModelHash(warehouse: Warehouse, contract: Contract): Promise<boolean> {
  return (await warehouse.columns(relationOf(contract))).some((c) => c.toLowerCase() === MODEL_HASH_COLUMN);
}

/** How many rows the relation a contract reads holds, eligible or not. */
export async function relationRows(warehouse: Warehouse, contract: Contract): Promise<number> {
  const [row] = await warehouse.query(`select count(*) as ${warehouse.dialect.quoteIdentifier("rows")} from ${relationOf(contract)}`);
  return Number(row?.rows ?? 0);
}

export function rejectedKeysSql(contract: Contract, dialect: Dialect, partition?: KeyBucket, builtBy?: string, keyRule?: KeyRule): string {
  const q = dialect.quoteIdentifier;
  const key = canonicalKeySql(contract, dialect, keyRule);
  // Null keys all fall in the bucket of '' (so exactly one partition counts them).
  const conditions = [
    ...(partition ? [keyCondition(`coalesce(${key}, '')`, dialect, { partition })] : []),
    ...(builtBy === undefined ? [] : [builtByCondition(dialect, builtBy)]),
  ];
  const where = conditions.length > 0 ? `where ${conditions.join(" and ")}` : undefined;
  return [
    `select ${key} as ${q("key")}, count(*) as ${q("rows")}`,
    `from ${relationOf(contract)}`,
    ...(where ? [where] : []),
    `group by ${key}`,
    `having ${key} is null or count(*) > 1 or max(case when ${refusedKeySql(contract, dialect, keyRule)} then 1 else 0 end) = 1`,
    `order by 1`,
  ].join("\n");
}

/** Null and shared keys with their row counts, in key order (within each partition, when there are several). */
export async function rejectedKeys(
  warehouse: Warehouse,
  contract: Contract,
  options: { partitions?: number | undefined; builtBy?: string | undefined; keyRule?: KeyRule | undefined } = {},
): Promise<RejectedKey[]> {
  const rejected: RejectedKey[] = [];
  const count = Math.max(1, Math.trunc(options.partitions ?? 1));
  for (let index = 0; index < count; index += 1) {
    const sql = rejectedKeysSql(contract, warehouse.dialect, count > 1 ? { index, count } : undefined, options.builtBy, options.keyRule);
    for await (const chunk of warehouse.stream(sql)) rejected.push(...chunk.map((row) => rejectedKeyOf(row, options.keyRule)));
  }
  return rejected;
}

/** A row of `key` (null for the null keys) and `rows` as a rejected key. */
export function rejectedKeyOf(row: Record<string, unknown>, keyRule: KeyRule | undefined): RejectedKey {
  const key = row.key === null || row.key === undefined ? null : String(row.key);
  const rule = keyRule && keyRule !== "exact" ? { rule: keyRule } : {};
  if (key === null) return { key, reason: "null_key", rows: Number(row.rows) };
  // Rejected alone (a shared key has several rows), or holding a character outside ASCII: refused by the rule.
  const rows = Number(row.rows);
  const refused = keyRule !== undefined && keyRule !== "exact" && (rows === 1 || refusedKey(key, keyRule));
  return { key, reason: refused ? "non_ascii_key" : "duplicate_key", rows, ...rule };
}

/** How many rows of the relation have a null key (column `rows`), of the invocation `builtBy` where given. */
export function nullKeyRowsSql(contract: Contract, dialect: Dialect, builtBy?: string): string {
  const q = dialect.quoteIdentifier;
  return `select count(*) as ${q("rows")} from ${relationOf(contract)} where ${q(contract.spec.key)} is null and ${builtByCondition(dialect, builtBy)}`;
}

/** The eligible rows' sync keys (as text, sorted): what `reconcile` looks up and `sync` measures the match rate on. */
export async function eligibleKeys(warehouse: Warehouse, contract: Contract, options: EligibleSqlOptions = {}): Promise<string[]> {
  const key = warehouse.dialect.quoteIdentifier(KEY_ALIAS);
  const rows = await warehouse.query(`select ${key} from (${eligibleRowsSql(contract, warehouse.dialect, options)}) as eligible order by ${key}`);
  return rows.map((r) => String(r[KEY_ALIAS]));
}
