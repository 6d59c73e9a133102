import type { DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";
import type { Warehouse, WarehouseRow } from "../types.ts";
import { duckdbDialect } from "./dialect.ts";

export class DuckDBWarehouse implements Warehouse {
  readonly dialect = duckdbDialect;
  readonly #instance: DuckDBInstance;
  readonly #connection: DuckDBConnection;

  constructor(instance: DuckDBInstance, connection: DuckDBConnection) {
    this.#instance = instance;
    this.#connection = connection;
  }

  async columns(relation: string): Promise<string[]> {
    const reader = await this.#connection.runAndReadAll(`select * from ${relation} limit 0`);
    return reader.columnNames();
  }

  async *stream(sql: string): AsyncIterable<WarehouseRow[]> {
    const result = await this.#connection.stream(sql);
    // Chunks of ~2048 rows: memory stays bounded by one chunk however large the relation is.
    for await (const rows of result.yieldRowObjectJs()) yield rows;
  }

  async close(): Promise<void> {
    this.#connection.closeSync();
    this.#instance.closeSync();
  }
}
