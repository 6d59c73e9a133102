import { rowHashSql } from "../row-hash.ts";
import type { Dialect } from "../types.ts";

/** The in-memory database the driver attaches to every instance, for the plan's staging table (Dialect.scratchSchema). */
export const DUCKDB_SCRATCH_DATABASE = "activation_plan_scratch";

const text = "varchar";

export const duckdbDialect: Dialect = {
  quoteIdentifier: (name) => `"${name.replaceAll('"', '""')}"`,
  param: (n) => `$${n}`,
  types: { text, timestamp: "timestamp", boolean: "boolean", integer: "bigint" },
  primaryKey: (columns) => `primary key (${columns.join(", ")})`,
  // strlen counts bytes, length characters: they differ exactly when a character is outside ASCII (UTF-8).
  nonAscii: (expression) => `(strlen(${expression}) <> length(${expression}))`,
  // The dbt macros activation.stable_bucket / hex8_to_int (duckdb): the first 8 hex digits read as an unsigned int.
  hashBucket: (expression, modulus) => `mod(cast('0x' || substr(md5(${expression}), 1, 8) as bigint), ${Math.trunc(modulus)})`,
  jsonTextRows: (param, width) =>
    `(select ${Array.from({ length: width }, (_, i) => `r[${i + 1}] as c${i + 1}`).join(", ")} from (select unnest(from_json(${param}, '["VARCHAR[]"]')) as r))`,
  scratchSchema: `"${DUCKDB_SCRATCH_DATABASE}"."main"`,
  // The planner's join, window and sort run in our process: partitions keep them to about this many rows.
  planPartitionRows: 1_000_000,
  // DuckDB's own 64-bit hash: each partition's query buckets every key again, and md5 made that the largest cost.
  // The salt as a second argument (hashes combined), not concatenated: no new string per row, a third cheaper.
  partitionBucket: (key, salt, modulus) => `(hash(${key}, ${salt}) % ${Math.trunc(modulus)})`,
  // JSON escapes every character a VARCHAR can hold (NUL included), so JSON.parse gives back the very strings.
  packedText: {
    textType: "VARCHAR",
    pack: (expressions) => `cast(to_json([${expressions.map((e) => `cast(${e} as varchar)`).join(", ")}]) as varchar)`,
    // strlen reads the stored length: no scan. 64 KB per row keeps to_json's working memory small under any cap.
    fits: (expressions) => `(${expressions.map((e) => `coalesce(strlen(${e}), 0)`).join(" + ")}) <= 65536`,
  },
  // The dbt macro activation.row_hash, so the ledger's hash equals the activation model's `_activation_row_hash`.
  // The escape guarded, as measured in row-hash.ts.
  rowHash: (expressions) =>
    rowHashSql(expressions, {
      text,
      chr: (c) => `chr(${c})`,
      md5: (e) => `md5(${e})`,
      guard: { contains: (t, c) => `contains(${t}, ${c})`, concat: (texts) => `concat(${texts.join(", ")})` },
    }),
};
