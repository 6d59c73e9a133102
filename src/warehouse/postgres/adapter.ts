import { AsyncLocalStorage } from "node:async_hooks";
import type pg from "pg";
import Cursor from "pg-cursor";
import type { SqlParam, Warehouse, WarehouseRow } from "../types.ts";
import { postgresDialect } from "./dialect.ts";
import { typeParsers } from "./driver.ts";

/** Rows per cursor read: memory stays bounded by one chunk however large the relation is. */
const CHUNK_ROWS = 2048;

/**
 * PostgreSQL through a pool. A transaction holds one client for its whole duration, and every statement issued
 * inside `work` (found through async context) runs on that client. A stream reads a server-side cursor on a client
 * of its own, so the syncer can checkpoint the ledger while it is still reading the plan (on one client the writes
 * would queue behind the open cursor forever).
 */
export class PostgresWarehouse implements Warehouse {
  readonly dialect = postgresDialect;
  readonly defaultSchema: string;
  readonly #pool: pg.Pool;
  readonly #transaction = new AsyncLocalStorage<pg.PoolClient>();

  constructor(pool: pg.Pool, defaultSchema: string) {
    this.#pool = pool;
    this.defaultSchema = defaultSchema;
  }

  #runner(): pg.Pool | pg.PoolClient {
    return this.#transaction.getStore() ?? this.#pool;
  }

  async columns(relation: string): Promise<string[]> {
    const result = await this.#runner().query(`select * from ${relation} limit 0`);
    return result.fields.map((f) => f.name);
  }

  async columnTypes(relation: string): Promise<Record<string, string>> {
    const result = await this.#runner().query(`select * from ${relation} limit 0`);
    const oids = [...new Set(result.fields.map((f) => f.dataTypeID))];
    const names = new Map(
      (await this.#runner().query<{ oid: number; name: string }>(`select oid::int as oid, format_type(oid, null) as name from pg_type where oid = any($1)`, [oids])).rows.map((r) => [r.oid, r.name]),
    );
    return Object.fromEntries(result.fields.map((f) => [f.name, names.get(f.dataTypeID) ?? String(f.dataTypeID)]));
  }

  async *stream(sql: string, params?: SqlParam[]): AsyncIterable<WarehouseRow[]> {
    const inTransaction = this.#transaction.getStore();
    const client = inTransaction ?? (await this.#pool.connect());
    const cursor = client.query(new Cursor<WarehouseRow>(sql, params ?? [], { types: typeParsers }));
    let failed = false;
    try {
      for (;;) {
        const rows = await cursor.read(CHUNK_ROWS);
        if (rows.length === 0) break;
        yield rows;
        if (rows.length < CHUNK_ROWS) break;
      }
    } catch (error) {
      failed = true;
      throw error;
    } finally {
      await cursor.close().catch(() => {
        failed = true;
      });
      // A client whose cursor failed to close is dropped rather than handed to the next caller mid-protocol.
      if (!inTransaction) (client as pg.PoolClient).release(failed);
    }
  }

  async query(sql: string, params?: SqlParam[]): Promise<WarehouseRow[]> {
    return (await this.#runner().query<WarehouseRow>(sql, params)).rows;
  }

  async execute(sql: string, params?: SqlParam[]): Promise<void> {
    await this.#runner().query(sql, params);
  }

  async transaction<T>(work: () => Promise<T>): Promise<T> {
    // Nested: joins the enclosing transaction (PostgreSQL has one per session).
    if (this.#transaction.getStore()) return work();
    const client = await this.#pool.connect();
    let broken = false;
    try {
      await client.query("begin");
      const result = await this.#transaction.run(client, work);
      await client.query("commit");
      return result;
    } catch (error) {
      await client.query("rollback").catch(() => {
        broken = true;
      });
      throw error;
    } finally {
      client.release(broken);
    }
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}
