import { rowHashSql } from "../row-hash.ts";
import type { Dialect } from "../types.ts";

const text = "varchar";
/** Snowflake stores an unquoted identifier upper-cased: `email` in a model is the column EMAIL. */
const FOLDS_TO_UPPER = /^[a-z_][a-z0-9_$]*$/;
const HEX = "'0123456789abcdef'";

export const snowflakeDialect: Dialect = {
  // Quoted, so reserved words and any name survive; a plain lower-case name is quoted as Snowflake stores it
  // unquoted (upper case), so the contract's `email` finds the column dbt created as EMAIL.
  quoteIdentifier: (name) => `"${(FOLDS_TO_UPPER.test(name) ? name.toUpperCase() : name).replaceAll('"', '""')}"`,
  param: (n) => `:${n}`,
  // timestamp_tz: the ledger's times are instants (timestamp_ntz would drop the offset of the bound Date).
  types: { text, timestamp: "timestamp_tz", boolean: "boolean", integer: "integer" },
  // Declared for readers and tools; Snowflake does not enforce it (see the lease in src/ledger/controls.ts).
  primaryKey: (columns) => `primary key (${columns.join(", ")})`,
  // Snowflake strings are UTF-8: OCTET_LENGTH exceeds LENGTH exactly when a character is outside ASCII.
  nonAscii: (expression) => `(octet_length(${expression}) <> length(${expression}))`,
  // activation.stable_bucket's formula. The macro's Snowflake spelling is to_number(h, 'XXXXXXXX'); fakesnow does
  // not implement to_number with a format, so this spells out the positional sum of the dbt package's default
  // hex8_to_int, which Snowflake runs as well and which gives the same unsigned integer.
  hashBucket: (expression, modulus) => {
    const hash = `md5(${expression})`;
    const digits = Array.from({ length: 8 }, (_, i) => `(position(substr(${hash}, ${i + 1}, 1), ${HEX}) - 1) * ${16 ** (7 - i)}`);
    return `mod(${digits.join(" + ")}, ${Math.trunc(modulus)})`;
  },
  // Snowflake's own 64-bit hash for the plan's partitions, which need not match any other engine: the positional md5
  // sum above, repeated in every partitioned query, made each one several times longer to compile.
  partitionBucket: (key, salt, modulus) => `mod(abs(hash(${salt} || ${key})), ${Math.trunc(modulus)})`,
  // The dbt macro activation.row_hash (Snowflake spells chr as char; both exist).
  rowHash: (expressions) => rowHashSql(expressions, { text, chr: (c) => `chr(${c})`, md5: (e) => `md5(${e})` }),
};

/** Result column names as the syncer wrote them: an upper-case name is an unquoted identifier Snowflake folded. */
export function normalizeColumnName(name: string): string {
  return /[a-z]/.test(name) ? name : name.toLowerCase();
}
