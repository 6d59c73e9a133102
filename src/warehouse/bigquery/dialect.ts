import { rowHashSql } from "../row-hash.ts";
import type { Dialect } from "../types.ts";

const text = "string";
const chr = (code: number): string => `code_points_to_string([${code}])`;

export const bigqueryDialect: Dialect = {
  quoteIdentifier: (name) => `\`${name.replaceAll("\\", "\\\\").replaceAll("`", "\\`")}\``,
  // Named parameters: the client sends them as queryParameters with their types.
  param: (n) => `@p${n}`,
  types: { text, timestamp: "timestamp", boolean: "bool", integer: "int64" },
  // BigQuery accepts a primary key only as `not enforced`; it is metadata for the optimizer and for readers.
  primaryKey: (columns) => `primary key (${columns.join(", ")}) not enforced`,
  // BigQuery strings are UTF-8: BYTE_LENGTH exceeds CHAR_LENGTH exactly when a character is outside ASCII.
  nonAscii: (expression) => `(byte_length(${expression}) <> char_length(${expression}))`,
  // The dbt macros activation.stable_bucket / hex8_to_int (bigquery): md5 is BYTES there, so to_hex first.
  hashBucket: (expression, modulus) => `mod(cast(concat('0x', substr(to_hex(md5(${expression})), 1, 8)) as int64), ${Math.trunc(modulus)})`,
  // The dbt macro activation.row_hash (bigquery): no chr(), so code_points_to_string for the separators.
  rowHash: (expressions) => rowHashSql(expressions, { text, chr, md5: (e) => `to_hex(md5(${e}))` }),
};
