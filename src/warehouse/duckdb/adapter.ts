import type { DuckDBConnection, DuckDBInstance, DuckDBResult, DuckDBValue } from "@duckdb/node-api";
import { DuckDBTimestampValue } from "@duckdb/node-api";
import { SessionGate } from "../session-gate.ts";
import type { SqlParam, Warehouse, WarehouseRow } from "../types.ts";
import { duckdbDialect } from "./dialect.ts";
import { syncerValueConverter } from "./values.ts";

function bind(params: SqlParam[] | undefined): DuckDBValue[] | undefined {
  // DuckDB binds JS Dates only through its own timestamp value (microseconds since the epoch).
  return params?.map((p) => (p instanceof Date ? new DuckDBTimestampValue(BigInt(p.getTime()) * 1000n) : p));
}

/** A stream's own connection and its result, from the query until DuckDB has let go of them. */
interface OpenStream {
  connection: DuckDBConnection;
  result?: DuckDBResult;
  /** Read to its end: DuckDB closed the result itself. */
  exhausted: boolean;
  /** Set once the stream is being ended (its reader stopped, or the warehouse is closing). */
  ending?: Promise<void>;
}

const closedError = (): Error => new Error("the DuckDB warehouse is closed");

/**
 * The warehouse on a DuckDB file. Closing it closes the database for real, which DuckDB does only once nothing holds
 * it: a streamed result that was not read to its end keeps its connection's context, and with it the database
 * instance, alive past `closeSync()` of both (the file stays locked, and the instance shuts down whenever the garbage
 * collector frees the result, writing its state over the file, maybe while the next session of this process has the
 * same file open: a corrupt file or a native crash). So every stream ends its result (cancelled, then read to its
 * end) when its reader stops, and `close()` waits for the statements in flight and ends the streams still open first.
 */
export class DuckDBWarehouse implements Warehouse {
  readonly dialect = duckdbDialect;
  readonly defaultSchema: string;
  readonly #instance: DuckDBInstance;
  readonly #connection: DuckDBConnection;
  readonly #onClosed: (() => void) | undefined;
  readonly #streams = new Set<OpenStream>();
  /** Statements (and chunk fetches) running now: closing a connection under one frees memory DuckDB is using. */
  readonly #running = new Set<Promise<unknown>>();
  /** The main connection is one session: a transaction on it holds it (see SessionGate); streams have their own. */
  readonly #gate = new SessionGate();
  #closing: Promise<void> | undefined;

  constructor(instance: DuckDBInstance, connection: DuckDBConnection, defaultSchema: string, onClosed?: () => void) {
    this.#instance = instance;
    this.#connection = connection;
    this.defaultSchema = defaultSchema;
    this.#onClosed = onClosed;
  }

  /** Runs one statement on the main connection, once no transaction from elsewhere holds it. */
  #onMain<T>(work: (connection: DuckDBConnection) => Promise<T>): Promise<T> {
    return this.#gate.statement(() => this.#use(() => work(this.#connection)));
  }

  /** Runs `work` on the database, unless it is closing; `close()` waits for it. */
  #use<T>(work: () => Promise<T>): Promise<T> {
    if (this.#closing) return Promise.reject(closedError());
    const running = work();
    this.#running.add(running);
    running.then(
      () => this.#running.delete(running),
      () => this.#running.delete(running),
    );
    return running;
  }

  async columns(relation: string): Promise<string[]> {
    const reader = await this.#onMain((c) => c.runAndReadAll(`select * from ${relation} limit 0`));
    return reader.columnNames();
  }

  async *stream(sql: string, params?: SqlParam[]): AsyncIterable<WarehouseRow[]> {
    // A streaming result ends silently when another statement runs on its connection, and the ledger checkpoints
    // while the plan streams: each stream gets a connection of its own (a snapshot of the data as it began).
    const open: OpenStream = { connection: await this.#use(() => this.#instance.connect()), exhausted: false };
    this.#streams.add(open);
    try {
      if (this.#closing) throw closedError();
      const result = await this.#use(() => open.connection.stream(sql, bind(params)));
      open.result = result;
      // Chunks of ~2048 rows: memory stays bounded by one chunk however large the relation is.
      const chunks = result.yieldConvertedRowObjects(syncerValueConverter)[Symbol.asyncIterator]();
      for (;;) {
        if (open.ending) throw new Error("the DuckDB warehouse was closed while a result was being read");
        const next = await this.#use(() => chunks.next());
        if (next.done) {
          open.exhausted = true;
          return;
        }
        yield next.value;
      }
    } finally {
      await this.#endStream(open);
    }
  }

  /** Lets go of a stream's result and connection: a result not read to its end is cancelled, then read to its end. */
  #endStream(open: OpenStream): Promise<void> {
    open.ending ??= (async () => {
      try {
        const result = open.result;
        if (result && !open.exhausted) {
          open.connection.interrupt();
          // Nothing is left once the query is interrupted; read on all the same until DuckDB says the end.
          while (((await result.fetchChunk())?.rowCount ?? 0) > 0);
        }
      } catch {
        // Interrupted: the result is closed all the same.
      } finally {
        open.connection.closeSync();
        this.#streams.delete(open);
      }
    })();
    return open.ending;
  }

  async query(sql: string, params?: SqlParam[]): Promise<WarehouseRow[]> {
    const reader = await this.#onMain((c) => c.runAndReadAll(sql, bind(params)));
    return reader.convertRowObjects(syncerValueConverter);
  }

  async columnTypes(relation: string): Promise<Record<string, string>> {
    const reader = await this.#onMain((c) => c.runAndReadAll(`select * from ${relation} limit 0`));
    const types = reader.columnTypes();
    return Object.fromEntries(reader.columnNames().map((name, i) => [name, String(types[i])]));
  }

  async execute(sql: string, params?: SqlParam[]): Promise<void> {
    await this.#onMain((c) => c.run(sql, bind(params)));
  }

  transaction<T>(work: () => Promise<T>): Promise<T> {
    return this.#gate.transaction(
      {
        begin: () => this.execute("begin transaction"),
        commit: () => this.execute("commit"),
        // Closing the connection rolls the transaction back; a rollback refused as closed would hide the error.
        rollback: async () => {
          if (!this.#closing) await this.execute("rollback");
        },
      },
      work,
    );
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    // A stream may open while a statement finishes: wait, end the streams, until neither is left.
    while (this.#running.size > 0 || this.#streams.size > 0) {
      await Promise.allSettled([...this.#running]);
      await Promise.all([...this.#streams].map((open) => this.#endStream(open)));
    }
    this.#connection.closeSync();
    this.#instance.closeSync();
    this.#onClosed?.();
  }
}
