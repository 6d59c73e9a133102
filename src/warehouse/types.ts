/** One interface for every warehouse engine; each engine is a folder with its dialect, driver and adapter. */

/** A value as a driver returns it: strings, numbers, bigints, booleans, Dates, nulls, or nested lists and structs. */
export type WarehouseValue = unknown;
export type WarehouseRow = Record<string, WarehouseValue>;
/** A value bound to a query parameter. */
export type SqlParam = string | number | boolean | null | Date;

export interface Dialect {
  /** Quotes one identifier part (column, alias) so any name, and no injection, survives. */
  quoteIdentifier(name: string): string;
  /** The n-th (1-based) bound parameter in SQL text. */
  param(n: number): string;
  /** SQL type names for the syncer's own tables; `text` is also the type keys and hashed values are cast to. */
  types: { text: string; timestamp: string; boolean: string; integer: string };
  /**
   * A table constraint declaring the primary key. Snowflake and BigQuery do not enforce it (BigQuery even requires
   * `not enforced` to be spelt out), so the syncer never relies on it alone (see the lease in src/ledger/controls.ts).
   */
  primaryKey(columns: string[]): string;
  /**
   * An expression hashing the given SQL expressions to 32 lower-case hex digits, equal to the dbt macro
   * `activation.row_hash` (src/warehouse/row-hash.ts: separators inside values are escaped, so no two rows collide).
   */
  rowHash(expressions: string[]): string;
  /**
   * A stable bucket 0 … modulus-1 of a text expression: the first 8 hex digits of md5(text) read as an unsigned
   * integer, modulo `modulus`. The same on every engine and in every run (shards, rollouts).
   */
  hashBucket(textExpression: string, modulus: number): string;
  /**
   * The SQL condition that a text expression holds a character outside ASCII, exact whatever the database's locale
   * (keys with one are refused under a case-insensitive key rule: `refusedKeySql` in src/eligible/rows.ts).
   */
  nonAscii(textExpression: string): string;
  /**
   * A statement that, run first in a transaction, holds off every other syncer's ledger migration until that
   * transaction ends. Absent where the engine has none (DuckDB's file lock already admits one writer).
   */
  migrationLock?: string;
  /**
   * Optional: a relation (for FROM) with text columns c1 … c`width` read from one bound parameter holding a JSON array
   * of row arrays (strings or nulls). Where binding thousands of parameters is slow (DuckDB binds each one at
   * about 20 µs), the ledger's checkpoints bind this one parameter instead.
   */
  jsonTextRows?(param: string, width: number): string;
  /**
   * Optional: the schema (as SQL) for the plan's staging table where the engine has one held in memory, spilled to
   * disk only past its memory limit: DuckDB's in-memory database, which its driver attaches beside the file (a table
   * in the file cost a write to it and its WAL: 40 % of the plan at 1M rows). Absent: beside the ledger.
   */
  scratchSchema?: string;
  /**
   * Optional: about how many rows one plan query should hold where the engine runs inside the syncer's process
   * (DuckDB): larger diffs run in partitions of about this many keys, so the process's memory stays flat as tables
   * grow. Absent for server engines, whose memory is not ours and which spill to their own disk.
   */
  planPartitionRows?: number;
  /**
   * Optional: a cheaper bucket 0 … modulus-1 of a text key, salted by `salt` (a SQL string literal), for the plan's
   * partitions, which live for one run and need not match any other engine (`hashBucket` of salt || key is used
   * where absent).
   */
  partitionBucket?(textKey: string, salt: string, modulus: number): string;
  /**
   * Optional: one text expression packing the given text expressions (columns of the engine's text type, `textType`)
   * into a JSON array, nulls as null, for `packedTextSelect` (src/warehouse/packed-text.ts). Where a driver pays per
   * text value read (DuckDB's client: a native call for every value longer than 12 bytes), a row's texts are then
   * read as one value and parsed in Node. `fits`: the SQL condition that a row's texts are short enough to pack
   * (DuckDB's `to_json` asks for about eight times a text's size: a 34 MB value ran out of the 256MB memory cap).
   */
  packedText?: { textType: string; pack(expressions: string[]): string; fits(expressions: string[]): string };
}

const ASCII_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/**
 * A text expression with its ASCII letters lowered and every other character kept: `translate` with the 26 letters
 * spelt out, which DuckDB, PostgreSQL (in any locale), Snowflake and BigQuery compute alike, unlike `lower()`.
 */
export function asciiLowerSql(textExpression: string): string {
  return `translate(${textExpression}, '${ASCII_UPPER}', '${ASCII_UPPER.toLowerCase()}')`;
}

/**
 * A key's text compared case-insensitively (`canonicalKey` in src/contract/rules.ts): ASCII letters lowered. A key
 * with a character outside ASCII is refused before sending under that rule; its text stays what earlier versions
 * stored for it, the engine's `lower()`, only so that a ledger row they wrote is still recognised as that key's (and
 * never taken for a removed one). Such a text is never sent.
 */
export function caseInsensitiveKeySql(textExpression: string, dialect: Pick<Dialect, "nonAscii">): string {
  return `case when ${dialect.nonAscii(textExpression)} then lower(${textExpression}) else ${asciiLowerSql(textExpression)} end`;
}

export interface Warehouse {
  readonly dialect: Dialect;
  /** The schema the profile target builds into (where the syncer keeps its ledger by default). */
  readonly defaultSchema: string;
  /** Column names of a relation, in order (a zero-row query: cheap on every engine). */
  columns(relation: string): Promise<string[]>;
  /** Column name → the engine's type name, where the engine's driver says (for the mapping check's kinds). */
  columnTypes?(relation: string): Promise<Record<string, string>>;
  /** Runs a query and yields its rows in chunks, without holding the whole result in memory. */
  stream(sql: string, params?: SqlParam[]): AsyncIterable<WarehouseRow[]>;
  /** Runs a query whose result is small, and returns all its rows. */
  query(sql: string, params?: SqlParam[]): Promise<WarehouseRow[]>;
  /** Runs one statement. */
  execute(sql: string, params?: SqlParam[]): Promise<void>;
  /** Runs `work` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(work: () => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface ConnectOptions {
  /** Open without write access. */
  readOnly?: boolean;
  /** Directory relative paths in the profile resolve against (dbt's: the working directory). */
  cwd?: string;
}

/**
 * A warehouse value the syncer cannot send exactly (TIME, INTERVAL, binary, an infinite or out-of-range timestamp):
 * the drivers return this instead of an approximation, and the row carrying it is refused with the reason.
 */
export class UnsendableValue {
  readonly reason: string;
  constructor(reason: string) {
    this.reason = reason;
  }
  toJSON(): string {
    return `(unsendable: ${this.reason})`;
  }
}

/** Decimal text: digits with an optional point and exponent (not hex such as `0x10`, which JavaScript also reads). */
export const DECIMAL_TEXT = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** A number's significant digits, as its text spells them (sign, exponent, point and outer zeros left out). */
export function significantDigits(text: string): string {
  return text.replace(/^[-+]/, "").replace(/[eE].*$/, "").replace(".", "").replace(/^0+/, "").replace(/0+$/, "");
}

/**
 * A decimal's text (DECIMAL / NUMERIC, or decimal text bound for a number field) as a number when a double holds it
 * exactly (the double's own text has the same significant digits: NUMERIC(38,10)'s 0.5000000000 is 0.5), else the
 * exact text itself: more digits than a double keeps, or beyond its range (1e400 is not Infinity, 1e-400 not 0).
 * PostgreSQL's `NaN` and `±Infinity` become those numbers, which refuse their row (`unsendableReason`).
 */
export function exactDecimal(text: string): number | string {
  const number = Number(text);
  if (!DECIMAL_TEXT.test(text)) return number;
  return Number.isFinite(number) && significantDigits(String(number)) === significantDigits(text) ? number : text;
}

/**
 * A nested warehouse value (a STRUCT, MAP or JSON object) as JSON text for a destination: a bigint inside it is written
 * as the JSON number it is, digits exact (JSON.stringify alone throws on a bigint), a Date as its ISO instant.
 */
export function valueJson(value: unknown): string {
  const raw = (JSON as { rawJSON?: (text: string) => unknown }).rawJSON;
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === "bigint" ? (raw ? raw(v.toString()) : v.toString()) : v));
}

/** The dead-letter code of a row refused for a value with no exact destination form. */
export const UNSENDABLE_VALUE_CODE = "UNSENDABLE_VALUE";

/** Why a value cannot be sent as it is, or undefined when it can (lists and objects are checked member by member). */
export function unsendableReason(value: WarehouseValue): string | undefined {
  if (value instanceof UnsendableValue) return value.reason;
  if (typeof value === "number" && !Number.isFinite(value)) return `${value} is not a number any destination stores`;
  if (value instanceof Date && Number.isNaN(value.getTime())) return "an infinite or out-of-range timestamp";
  if (value instanceof Uint8Array) return "a binary value (BLOB/BYTEA) has no exact text or number form";
  // Lists, and STRUCT / MAP / JSON objects: an unsendable member would otherwise be sent as the text of its reason.
  const members = Array.isArray(value) ? value : value !== null && typeof value === "object" ? Object.values(value) : [];
  for (const item of members) {
    const reason = unsendableReason(item);
    if (reason) return reason;
  }
  return undefined;
}

/** The kind of value a warehouse column type holds, for the mapping check (undefined: not checked). */
export function kindOfType(type: string): "string" | "number" | "boolean" | "date" | "datetime" | undefined {
  const t = type.toLowerCase();
  if (/^(var)?char|^text|^string|^character|^uuid|^enum|^name$|^citext/.test(t)) return "string";
  if (/^(tiny|small|big|huge|u)?int|^integer|^decimal|^numeric|^double|^float|^real|^number/.test(t)) return "number";
  if (/^bool/.test(t)) return "boolean";
  if (t === "date") return "date";
  if (/^timestamp/.test(t)) return "datetime";
  return undefined;
}
