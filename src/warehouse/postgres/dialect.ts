import { rowHashSql } from "../row-hash.ts";
import type { Dialect } from "../types.ts";

const text = "text";

export const postgresDialect: Dialect = {
  quoteIdentifier: (name) => `"${name.replaceAll('"', '""')}"`,
  param: (n) => `$${n}`,
  // timestamptz: the ledger's times are instants; a plain timestamp would store the client's local wall time.
  types: { text, timestamp: "timestamptz", boolean: "boolean", integer: "bigint" },
  primaryKey: (columns) => `primary key (${columns.join(", ")})`,
  // A regular expression, not octet_length: exact in a database of any encoding, and in any locale.
  nonAscii: (expression) => `(${expression} ~ '[^\\x01-\\x7f]')`,
  // The dbt macro activation.hex8_to_int (postgres): 'x' || 8 hex digits as bit(32), read as an unsigned bigint.
  hashBucket: (expression, modulus) => `mod((('x' || substr(md5(${expression}), 1, 8))::bit(32)::bigint), ${Math.trunc(modulus)})`,
  // A transaction-level advisory lock on one fixed key: released at commit or rollback, even if the process dies.
  migrationLock: "select pg_advisory_xact_lock(3701240917)",
  // The dbt macro activation.row_hash (PostgreSQL text cannot hold chr(0), hence chr(29) … chr(31)).
  rowHash: (expressions) => rowHashSql(expressions, { text, chr: (c) => `chr(${c})`, md5: (e) => `md5(${e})` }),
};
