import type snowflake from "snowflake-sdk";
import { SessionGate } from "../session-gate.ts";
import type { SqlParam, Warehouse, WarehouseRow } from "../types.ts";
import { normalizeColumnName, snowflakeDialect } from "./dialect.ts";

const CHUNK_ROWS = 2048;

/** Dates travel as ISO-8601 text, which Snowflake reads into its timestamp types (the driver would do the same). */
function bind(params: SqlParam[] | undefined): snowflake.Bind[] | undefined {
  return params?.map((p) => (p instanceof Date ? p.toISOString() : p));
}

function normalize(row: Record<string, unknown>): WarehouseRow {
  const out: WarehouseRow = {};
  for (const [name, value] of Object.entries(row)) out[normalizeColumnName(name)] = value;
  return out;
}

/**
 * One Snowflake session. Statements inside `transaction` run between `begin` and `commit` in it; Snowflake commits
 * DDL implicitly, so a migration is not atomic there, which is why every migration statement is `if not exists`
 * (a rerun completes one a crash interrupted).
 */
export class SnowflakeWarehouse implements Warehouse {
  readonly dialect = snowflakeDialect;
  readonly defaultSchema: string;
  readonly #connection: snowflake.Connection;
  /** One session: a transaction holds it, and statements from elsewhere wait (a DDL would commit it halfway). */
  readonly #gate = new SessionGate();

  constructor(connection: snowflake.Connection, defaultSchema: string) {
    this.#connection = connection;
    this.defaultSchema = defaultSchema;
  }

  /** Runs one statement once no transaction from elsewhere holds the session; a stream's rows are read after. */
  #run(sqlText: string, params: SqlParam[] | undefined, streamResult = false): Promise<{ statement: snowflake.RowStatement; rows: WarehouseRow[] }> {
    return this.#gate.statement(() => this.#send(sqlText, params, streamResult));
  }

  #send(sqlText: string, params: SqlParam[] | undefined, streamResult: boolean): Promise<{ statement: snowflake.RowStatement; rows: WarehouseRow[] }> {
    return new Promise((resolve, reject) => {
      this.#connection.execute({
        sqlText,
        binds: bind(params),
        streamResult,
        complete: (error, statement, rows) => {
          if (error) reject(error);
          else resolve({ statement: statement as snowflake.RowStatement, rows: (rows ?? []).map(normalize) });
        },
      });
    });
  }

  async columns(relation: string): Promise<string[]> {
    const { statement } = await this.#run(`select * from ${relation} limit 0`, undefined);
    return (statement.getColumns() ?? []).map((c) => normalizeColumnName(c.getName()));
  }

  async *stream(sql: string, params?: SqlParam[]): AsyncIterable<WarehouseRow[]> {
    // streamResult: the driver downloads the result's chunks as rows are read, not all at once; the for-await
    // below pauses the stream while a chunk is being processed.
    const { statement } = await this.#run(sql, params, true);
    let chunk: WarehouseRow[] = [];
    for await (const row of statement.streamRows()) {
      chunk.push(normalize(row as Record<string, unknown>));
      if (chunk.length >= CHUNK_ROWS) {
        yield chunk;
        chunk = [];
      }
    }
    if (chunk.length > 0) yield chunk;
  }

  async query(sql: string, params?: SqlParam[]): Promise<WarehouseRow[]> {
    return (await this.#run(sql, params)).rows;
  }

  async execute(sql: string, params?: SqlParam[]): Promise<void> {
    await this.#run(sql, params);
  }

  transaction<T>(work: () => Promise<T>): Promise<T> {
    return this.#gate.transaction(
      {
        begin: () => this.#run("begin", undefined),
        commit: () => this.#run("commit", undefined),
        rollback: () => this.#run("rollback", undefined),
      },
      work,
    );
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.#connection.destroy(() => resolve()));
  }
}
