import { AsyncLocalStorage } from "node:async_hooks";
import { BigQueryDate, BigQueryDatetime, BigQueryTime, BigQueryTimestamp, type BigQuery, type Query } from "@google-cloud/bigquery";
import type { SqlParam, Warehouse, WarehouseRow } from "../types.ts";
import { bigqueryDialect } from "./dialect.ts";

const PAGE_ROWS = 2048;
/** INT64 as bigint, as DuckDB and PostgreSQL return integers (the client's default, Number, loses digits past 2^53). */
const wrapIntegers = { integerTypeCastFunction: (value: string): bigint => BigInt(value) };

/** `@p1 … @pn` with their values; a null has no type BigQuery can infer, so it is sent as a STRING null. */
function bind(params: SqlParam[] | undefined): Pick<Query, "params" | "types"> {
  if (!params || params.length === 0) return {};
  const named: Record<string, SqlParam> = {};
  const types: Record<string, string> = {};
  params.forEach((value, i) => {
    named[`p${i + 1}`] = value;
    if (value === null) types[`p${i + 1}`] = "STRING";
  });
  return { params: named, types };
}

/** Timestamps as Dates (the instants they are), dates and times as their ISO text, like the other engines. */
function normalize(row: Record<string, unknown>): WarehouseRow {
  const out: WarehouseRow = {};
  for (const [name, value] of Object.entries(row)) {
    if (value instanceof BigQueryTimestamp) out[name] = new Date(value.value);
    else if (value instanceof BigQueryDate || value instanceof BigQueryDatetime || value instanceof BigQueryTime) out[name] = value.value;
    else out[name] = value;
  }
  return out;
}

/**
 * BigQuery through @google-cloud/bigquery. Each statement is a query job. A transaction is a BigQuery session:
 * `begin transaction` creates it, every statement inside `work` (found through async context) carries its
 * session_id, and `commit transaction` / `rollback transaction` end it before the session is aborted.
 */
export class BigQueryWarehouse implements Warehouse {
  readonly dialect = bigqueryDialect;
  readonly defaultSchema: string;
  readonly #client: BigQuery;
  readonly #location: string | undefined;
  readonly #session = new AsyncLocalStorage<string>();

  constructor(client: BigQuery, dataset: string, location: string | undefined) {
    this.#client = client;
    this.defaultSchema = dataset;
    this.#location = location;
  }

  #query(sql: string, params: SqlParam[] | undefined, extra: Partial<Query> = {}): Query {
    const session = this.#session.getStore();
    return {
      query: sql,
      ...bind(params),
      ...(this.#location ? { location: this.#location } : {}),
      ...(session ? { connectionProperties: [{ key: "session_id", value: session }] } : {}),
      ...extra,
    };
  }

  async columns(relation: string): Promise<string[]> {
    const [job] = await this.#client.createQueryJob(this.#query(`select * from ${relation} limit 0`, undefined));
    const [, , response] = await job.getQueryResults({ maxResults: 0, autoPaginate: false });
    return (response?.schema?.fields ?? []).map((f) => String(f.name));
  }

  async *stream(sql: string, params?: SqlParam[]): AsyncIterable<WarehouseRow[]> {
    // One job, read a page at a time: memory holds one page of rows, however large the result.
    const [job] = await this.#client.createQueryJob(this.#query(sql, params));
    let pageToken: string | undefined;
    do {
      const [rows, next] = await job.getQueryResults({ maxResults: PAGE_ROWS, autoPaginate: false, wrapIntegers, ...(pageToken ? { pageToken } : {}) });
      if (rows.length > 0) yield rows.map((r) => normalize(r as Record<string, unknown>));
      pageToken = next?.pageToken ?? undefined;
    } while (pageToken);
  }

  async query(sql: string, params?: SqlParam[]): Promise<WarehouseRow[]> {
    const [rows] = await this.#client.query(this.#query(sql, params, { wrapIntegers }));
    return rows.map((r) => normalize(r as Record<string, unknown>));
  }

  async execute(sql: string, params?: SqlParam[]): Promise<void> {
    await this.#client.query(this.#query(sql, params));
  }

  async transaction<T>(work: () => Promise<T>): Promise<T> {
    // Nested: joins the enclosing transaction (one per session).
    if (this.#session.getStore()) return work();
    const [job] = await this.#client.createQueryJob(this.#query("begin transaction", undefined, { createSession: true }));
    const sessionId = job.metadata?.statistics?.sessionInfo?.sessionId as string | undefined;
    if (!sessionId) throw new Error("BigQuery did not return a session for the transaction");
    return this.#session.run(sessionId, async () => {
      try {
        const result = await work();
        await this.execute("commit transaction");
        return result;
      } catch (error) {
        await this.execute("rollback transaction").catch(() => undefined);
        throw error;
      } finally {
        await this.execute("call bq.abort_session()").catch(() => undefined);
      }
    });
  }

  async close(): Promise<void> {
    // Stateless HTTP: nothing to close.
  }
}
