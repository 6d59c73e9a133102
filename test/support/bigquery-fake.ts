/**
 * A loopback fake of the BigQuery REST API (v2) for `@google-cloud/bigquery` pointed at it with `apiEndpoint`:
 * `jobs.query` (POST /projects/P/queries), `jobs.insert` (POST /projects/P/jobs), `jobs.get`, and
 * `jobs.getQueryResults` (GET /projects/P/queries/ID) with pages, query parameters (named and positional), and
 * sessions (`createSession`, `connectionProperties: session_id`) for multi-statement transactions.
 *
 * The SQL really runs: in DuckDB, after a small, listed translation of the BigQuery spellings the syncer uses
 * (`translate` below). Nothing is canned. What it does not emulate: BigQuery's type coercion rules beyond DuckDB's,
 * its quotas and slots, concurrent-transaction conflicts (DuckDB's MVCC decides), and any SQL outside that list.
 * The BigQuery project is a DuckDB catalog of the same name, a dataset a schema; primary keys are dropped, as
 * BigQuery never enforces them.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { DuckDBInstance, DuckDBTimestampValue, type DuckDBConnection, type DuckDBValue } from "@duckdb/node-api";
import { z } from "zod";

export interface BigQueryFake {
  /** For `new BigQuery({ apiEndpoint })`. */
  url: string;
  projectId: string;
  /** Every request: method and path. */
  calls(): { method: string; path: string }[];
  close(): Promise<void>;
}

const parameterSchema = z.object({
  name: z.string().optional(),
  parameterType: z.object({ type: z.string() }),
  parameterValue: z.object({ value: z.unknown().optional() }).optional(),
});
const queryFields = {
  query: z.string(),
  queryParameters: z.array(parameterSchema).optional(),
  // The client sends "named"/"positional"; the API takes either case.
  parameterMode: z.string().transform((m) => m.toUpperCase()).pipe(z.enum(["NAMED", "POSITIONAL"])).optional(),
  useLegacySql: z.boolean().optional(),
  createSession: z.boolean().optional(),
  connectionProperties: z.array(z.object({ key: z.string(), value: z.string() })).optional(),
  maxResults: z.number().optional(),
  formatOptions: z.object({ useInt64Timestamp: z.boolean().optional() }).optional(),
};
const jobsQuerySchema = z.object(queryFields);
const jobsInsertSchema = z.object({
  jobReference: z.object({ jobId: z.string().optional(), location: z.string().optional() }).optional(),
  configuration: z.object({ query: z.object(queryFields) }),
});

class QueryError extends Error {}

/**
 * The BigQuery spellings the syncer emits, as DuckDB reads them. Outside string literals: `quoted` identifiers
 * become "quoted", `@name` parameters `$name`; to_hex(md5(x)) is DuckDB's md5(x) (hex already);
 * code_points_to_string([n]) is chr(n); `primary key (…) not enforced` is dropped.
 */
export function translate(sql: string): string {
  let out = "";
  for (let i = 0; i < sql.length; ) {
    const c = sql[i]!;
    if (c === "'" || c === '"') {
      // A BigQuery string literal (backslash escapes); copied as is, the syncer's literals have none.
      let j = i + 1;
      while (j < sql.length && sql[j] !== c) j += sql[j] === "\\" ? 2 : 1;
      out += sql.slice(i, j + 1);
      i = j + 1;
    } else if (c === "`") {
      const j = sql.indexOf("`", i + 1);
      if (j < 0) throw new QueryError("Syntax error: unclosed identifier quote");
      out += `"${sql.slice(i + 1, j).replaceAll('"', '""')}"`;
      i = j + 1;
    } else if (c === "@" && /[A-Za-z_]/.test(sql[i + 1] ?? "")) {
      const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(sql.slice(i + 1))![0];
      out += `$${name}`;
      i += 1 + name.length;
    } else {
      out += c;
      i += 1;
    }
  }
  return out
    .replace(/\bto_hex\s*\(\s*md5\s*\(/gi, "(md5(")
    .replace(/\bcode_points_to_string\s*\(\s*\[\s*(\d+)\s*\]\s*\)/gi, "chr($1)")
    .replace(/,?\s*primary\s+key\s*\([^)]*\)\s*not\s+enforced/gi, "");
}

type Parameter = z.infer<typeof parameterSchema>;

function paramValue(p: Parameter): DuckDBValue {
  const raw = p.parameterValue?.value;
  if (raw === undefined || raw === null) return null;
  const text = String(raw);
  switch (p.parameterType.type) {
    case "INT64":
      return BigInt(text);
    case "FLOAT64":
    case "NUMERIC":
      return Number(text);
    case "BOOL":
      return text.toLowerCase() === "true";
    case "TIMESTAMP": {
      // The client sends "2026-03-04 05:06:07.123Z" (or with an offset); DuckDB's TIMESTAMP holds UTC micros here.
      const ms = Date.parse(text.replace(" ", "T"));
      if (Number.isNaN(ms)) throw new QueryError(`Invalid TIMESTAMP parameter: ${text}`);
      return new DuckDBTimestampValue(BigInt(ms) * 1000n);
    }
    case "STRING":
      return text;
    default:
      throw new QueryError(`Query parameter type ${p.parameterType.type} is not supported by the fake`);
  }
}

function bigQueryType(duckdbType: string): string {
  if (/^(BIGINT|INTEGER|HUGEINT|SMALLINT|TINYINT|UBIGINT|UINTEGER|USMALLINT|UTINYINT)$/.test(duckdbType)) return "INT64";
  if (/^(DOUBLE|FLOAT)$/.test(duckdbType)) return "FLOAT64";
  if (duckdbType.startsWith("DECIMAL")) return "NUMERIC";
  if (duckdbType === "BOOLEAN") return "BOOL";
  if (duckdbType.startsWith("TIMESTAMP")) return "TIMESTAMP";
  if (duckdbType === "DATE") return "DATE";
  return "STRING";
}

interface Result {
  schema?: { fields: { name: string; type: string; mode: string }[] };
  rows: { f: { v: string | null }[] }[];
  affected?: number;
}

interface Job {
  id: string;
  result: Result;
  sessionId?: string | undefined;
  query: string;
}

const STATEMENT = /^\s*(?:--[^\n]*\n\s*)*(\w+)/;

export async function startBigQueryFake(options: { projectId?: string; token?: string } = {}): Promise<BigQueryFake> {
  const projectId = options.projectId ?? "fake-project";
  const instance = await DuckDBInstance.create(":memory:");
  const prepare = async (connection: DuckDBConnection): Promise<DuckDBConnection> => {
    await connection.run(`use ${JSON.stringify(projectId)}`);
    return connection;
  };
  const main = await instance.connect();
  await main.run(`attach ':memory:' as ${JSON.stringify(projectId)}`);
  // BigQuery TIMESTAMPs are UTC instants: DuckDB's TIMESTAMP holds them as UTC wall time.
  await main.run(`set TimeZone = 'UTC'`);
  await prepare(main);
  const sessions = new Map<string, DuckDBConnection>();
  const jobs = new Map<string, Job>();
  const calls: { method: string; path: string }[] = [];

  async function run(body: z.infer<typeof jobsQuerySchema>, jobId: string): Promise<Job> {
    if (body.useLegacySql) throw new QueryError("legacy SQL is not supported by the fake");
    let sessionId = body.connectionProperties?.find((p) => p.key === "session_id")?.value;
    let connection = main;
    if (sessionId) {
      const found = sessions.get(sessionId);
      if (!found) throw new QueryError(`Session ${sessionId} was not found or has been terminated`);
      connection = found;
    } else if (body.createSession) {
      sessionId = randomUUID();
      connection = await prepare(await instance.connect());
      sessions.set(sessionId, connection);
    }
    const query = body.query.trim().replace(/;\s*$/, "");
    if (/^call\s+bq\.abort_session\s*\(\s*\)$/i.test(query)) {
      if (sessionId) {
        await connection.run("rollback").catch(() => undefined);
        connection.closeSync();
        sessions.delete(sessionId);
      }
      return { id: jobId, result: { rows: [] }, sessionId, query };
    }
    const params = body.queryParameters ?? [];
    const values: DuckDBValue[] | Record<string, DuckDBValue> | undefined =
      params.length === 0 ? undefined : body.parameterMode === "POSITIONAL" ? params.map(paramValue) : Object.fromEntries(params.map((p) => [p.name ?? "", paramValue(p)]));
    const useInt64 = body.formatOptions?.useInt64Timestamp !== false;
    let reader;
    try {
      reader = await connection.runAndReadAll(translate(query), values);
    } catch (error) {
      throw new QueryError(error instanceof Error ? error.message : String(error));
    }
    const kind = (STATEMENT.exec(query)?.[1] ?? "").toLowerCase();
    if (kind !== "select" && kind !== "with") {
      const affected = ["insert", "update", "delete", "merge"].includes(kind) ? Number(reader.getRows()[0]?.[0] ?? 0) : undefined;
      return { id: jobId, result: { rows: [], ...(affected === undefined ? {} : { affected }) }, sessionId, query };
    }
    const types = reader.columnTypes().map((t) => bigQueryType(String(t)));
    const fields = reader.columnNames().map((name, i) => ({ name, type: types[i]!, mode: "NULLABLE" }));
    const rows = reader.getRows().map((row) => ({
      f: row.map((value, i) => {
        if (value === null) return { v: null };
        if (types[i] === "TIMESTAMP") {
          const micros = (value as DuckDBTimestampValue).micros;
          return { v: useInt64 ? micros.toString() : (Number(micros) / 1e6).toString() };
        }
        return { v: String(value) };
      }),
    }));
    return { id: jobId, result: { schema: { fields }, rows }, sessionId, query };
  }

  function page(job: Job, maxResults: number | undefined, start: number): Record<string, unknown> {
    // BigQuery pages large results even without maxResults (by bytes); 10,000 rows stands in for that.
    const size = maxResults === undefined ? 10_000 : Math.max(0, maxResults);
    const rows = job.result.rows.slice(start, start + size);
    const next = start + rows.length;
    return {
      kind: "bigquery#getQueryResultsResponse",
      jobReference: { projectId, jobId: job.id, location: "US" },
      jobComplete: true,
      totalRows: String(job.result.rows.length),
      ...(job.result.schema ? { schema: job.result.schema, rows } : {}),
      ...(next < job.result.rows.length ? { pageToken: String(next) } : {}),
      ...(job.result.affected === undefined ? {} : { numDmlAffectedRows: String(job.result.affected) }),
      ...(job.sessionId ? { sessionInfo: { sessionId: job.sessionId } } : {}),
    };
  }

  function jobResource(job: Job): Record<string, unknown> {
    return {
      kind: "bigquery#job",
      id: `${projectId}:US.${job.id}`,
      jobReference: { projectId, jobId: job.id, location: "US" },
      configuration: { query: { query: job.query, useLegacySql: false } },
      status: { state: "DONE" },
      statistics: {
        query: { ...(job.result.affected === undefined ? {} : { numDmlAffectedRows: String(job.result.affected) }) },
        ...(job.sessionId ? { sessionInfo: { sessionId: job.sessionId } } : {}),
      },
    };
  }

  const send = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { "content-type": "application/json; charset=UTF-8" });
    res.end(JSON.stringify(body));
  };
  const fail = (res: ServerResponse, status: number, reason: string, message: string): void =>
    send(res, status, { error: { code: status, message, errors: [{ reason, message, domain: "global" }], status: status === 404 ? "NOT_FOUND" : "INVALID_ARGUMENT" } });

  async function readJson(req: IncomingMessage): Promise<unknown> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
  }

  // DuckDB runs one statement per connection at a time: requests are served in arrival order.
  let queue: Promise<unknown> = Promise.resolve();
  const server = createServer((req, res) => {
    queue = queue.then(() => handle(req, res)).catch((error: unknown) => fail(res, 500, "backendError", String(error)));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://fake");
    calls.push({ method: req.method ?? "GET", path: url.pathname });
    if (options.token && req.headers.authorization !== `Bearer ${options.token}`) {
      fail(res, 401, "unauthorized", "Request had invalid authentication credentials.");
      return;
    }
    const match = /^\/bigquery\/v2\/projects\/([^/]+)\/(queries|jobs)(?:\/([^/]+))?$/.exec(url.pathname);
    if (!match || decodeURIComponent(match[1]!) !== projectId) {
      fail(res, 404, "notFound", `Not found: ${url.pathname}`);
      return;
    }
    const [, , collection, id] = match;
    try {
      if (req.method === "POST" && collection === "queries" && !id) {
        const body = jobsQuerySchema.parse(await readJson(req));
        const job = await run(body, `job_${randomUUID().replaceAll("-", "")}`);
        jobs.set(job.id, job);
        send(res, 200, { ...page(job, body.maxResults, 0), kind: "bigquery#queryResponse" });
      } else if (req.method === "POST" && collection === "jobs" && !id) {
        const body = jobsInsertSchema.parse(await readJson(req));
        const job = await run(body.configuration.query, body.jobReference?.jobId ?? `job_${randomUUID().replaceAll("-", "")}`);
        jobs.set(job.id, job);
        send(res, 200, jobResource(job));
      } else if (req.method === "GET" && id) {
        const job = jobs.get(decodeURIComponent(id));
        if (!job) {
          fail(res, 404, "notFound", `Not found: Job ${projectId}:${id}`);
        } else if (collection === "jobs") {
          send(res, 200, jobResource(job));
        } else {
          const start = Number(url.searchParams.get("pageToken") ?? url.searchParams.get("startIndex") ?? 0);
          const maxResults = url.searchParams.get("maxResults");
          send(res, 200, page(job, maxResults === null ? undefined : Number(maxResults), start));
        }
      } else {
        fail(res, 404, "notFound", `Not found: ${req.method} ${url.pathname}`);
      }
    } catch (error) {
      if (error instanceof QueryError || error instanceof z.ZodError) fail(res, 400, "invalidQuery", error.message);
      else throw error;
    }
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    projectId,
    calls: () => [...calls],
    async close() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      for (const connection of sessions.values()) connection.closeSync();
      main.closeSync();
      instance.closeSync();
    },
  };
}
