import type { Dialect } from "../types.ts";

export const duckdbDialect: Dialect = {
  quoteIdentifier: (name) => `"${name.replaceAll('"', '""')}"`,
};
