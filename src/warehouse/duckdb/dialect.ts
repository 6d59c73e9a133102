import type { Dialect } from "../types.ts";

export const duckdbDialect: Dialect = {
  quoteIdentifier: (name) => `"${name.replaceAll('"', '""')}"`,
  param: (n) => `$${n}`,
  types: { text: "varchar", timestamp: "timestamp", boolean: "boolean", integer: "bigint" },
  // chr(31) (unit separator) between values and chr(0) for null: no value can imitate another row's text.
  hashBucket: (text, modulus) => `(cast('0x' || substr(md5(${text}), 1, 8) as bigint) % ${Math.trunc(modulus)})`,
  rowHash: (expressions) => `md5(${expressions.map((e) => `coalesce(cast(${e} as varchar), chr(0))`).join(" || chr(31) || ")})`,
};
