/** Reads the integration build's DuckDB file directly, to compare what landed with what the warehouse holds. */
import { DuckDBInstance } from "@duckdb/node-api";

export async function queryDuckDB(path: string, sql: string): Promise<Record<string, unknown>[]> {
  const instance = await DuckDBInstance.create(path, { access_mode: "READ_ONLY" });
  try {
    const connection = await instance.connect();
    const reader = await connection.runAndReadAll(sql);
    const rows = reader.getRowObjectsJS() as Record<string, unknown>[];
    connection.closeSync();
    return rows;
  } finally {
    instance.closeSync();
  }
}
