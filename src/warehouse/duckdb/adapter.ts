import type { DuckDBConnection, DuckDBInstance, DuckDBValue } from "@duckdb/node-api";
import { DuckDBTimestampValue } from "@duckdb/node-api";
import type { SqlParam, Warehouse, WarehouseRow } from "../types.ts";
import { duckdbDialect } from "./dialect.ts";
import { syncerValueConverter } from "./values.ts";

function bind(params: SqlParam[] | undefined): DuckDBValue[] | undefined {
  // DuckDB binds JS Dates only through its own timestamp value (microseconds since the epoch).
  return params?.map((p) => (p instanceof Date ? new DuckDBTimestampValue(BigInt(p.getTime()) * 1000n) : p));
}

export class DuckDBWarehouse implements Warehouse {
  readonly dialect = duckdbDialect;
  readonly defaultSchema: string;
  readonly #instance: DuckDBInstance;
  readonly #connection: DuckDBConnection;

  constructor(instance: DuckDBInstance, connection: DuckDBConnection, defaultSchema: string) {
    this.#instance = instance;
    this.#connection = connection;
    this.defaultSchema = defaultSchema;
  }

  async columns(relation: string): Promise<string[]> {
    const reader = await this.#connection.runAndReadAll(`select * from ${relation} limit 0`);
    return reader.columnNames();
  }

  async *stream(sql: string, params?: SqlParam[]): AsyncIterable<WarehouseRow[]> {
    // A streaming result ends silently when another statement runs on its connection, and the ledger checkpoints
    // while the plan streams: each stream gets a connection of its own (a snapshot of the data as it began).
    const connection = await this.#instance.connect();
    try {
      const result = await connection.stream(sql, bind(params));
      // Chunks of ~2048 rows: memory stays bounded by one chunk however large the relation is.
      for await (const rows of result.yieldConvertedRowObjects(syncerValueConverter)) yield rows;
    } finally {
      connection.closeSync();
    }
  }

  async query(sql: string, params?: SqlParam[]): Promise<WarehouseRow[]> {
    const reader = await this.#connection.runAndReadAll(sql, bind(params));
    return reader.convertRowObjects(syncerValueConverter);
  }

  async columnTypes(relation: string): Promise<Record<string, string>> {
    const reader = await this.#connection.runAndReadAll(`select * from ${relation} limit 0`);
    const types = reader.columnTypes();
    return Object.fromEntries(reader.columnNames().map((name, i) => [name, String(types[i])]));
  }

  async execute(sql: string, params?: SqlParam[]): Promise<void> {
    await this.#connection.run(sql, bind(params));
  }

  async transaction<T>(work: () => Promise<T>): Promise<T> {
    await this.#connection.run("begin transaction");
    try {
      const result = await work();
      await this.#connection.run("commit");
      return result;
    } catch (error) {
      await this.#connection.run("rollback");
      throw error;
    }
  }

  async close(): Promise<void> {
    this.#connection.closeSync();
    this.#instance.closeSync();
  }
}
