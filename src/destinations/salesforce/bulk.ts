/**
 * Bulk API 2.0 ingest for large runs: a batch of records becomes one CSV upsert job, or several when its CSV would
 * pass `maxBytes` (UTF-8, header included); each job is opened, its CSV streamed up, closed, polled until done,
 * then its successful and failed results streamed back, parsed row by row and matched to the keys by the external
 * id column (a job answers its rows in no particular order; a job holds each key once). Each step is one paced
 * request with jsforce's retry off; the engine's retry policy runs a failed job again alone, as a new job. The engine
 * runs several batches, so several jobs, at once. A later job whose retries run out does not undo the jobs before
 * it: their outcomes are answered, its rows fail (`keepsFinishedJobs`).
 */
import { Readable } from "node:stream";
import { setTimeout as delay } from "node:timers/promises";
import { parse } from "csv-parse";
import type { z } from "zod";
import { DestinationRequestError, failedByRequest, type BulkWriter, type DestinationRecord, type RecordOutcome, type RetryJob } from "../types.ts";
import type { SalesforceAnswer, StreamedRequest } from "./destination.ts";
import { bulkRowSchema, jobInfoSchema } from "./responses.ts";
import { toCsvCell } from "./values.ts";

export interface SalesforceBulkOptions {
  threshold: number;
  maxRecords: number;
  maxBytes: number;
  /** Where `maxBytes` came from (an environment variable, the target's setting, the default), for messages. */
  maxBytesFrom: string;
  pollIntervalMs: number;
  pollTimeoutMs: number;
  object: string;
  externalIdField: string;
  normalizeKey: (key: string) => string;
  fieldType: (name: string) => string | undefined;
  request: (method: "GET" | "PATCH" | "POST" | "DELETE", url: string, body?: unknown) => Promise<SalesforceAnswer<unknown>>;
  stream: (method: "GET" | "PUT", url: string, streamed: StreamedRequest) => Promise<SalesforceAnswer<unknown>>;
}

const FINAL_STATES = new Set(["JobComplete", "Failed", "Aborted"]);
/** CSV lines per chunk of the upload stream: few enough to stay small, enough to keep the stream's overhead low. */
const LINES_PER_CHUNK = 500;

/** A job's info as Salesforce answers it, checked: another shape fails the request, not the run. */
function jobInfo(body: unknown): z.infer<typeof jobInfoSchema> {
  const parsed = jobInfoSchema.safeParse(body);
  if (!parsed.success) throw new DestinationRequestError("Salesforce answered a Bulk API job's info in an unexpected shape", { code: "UNEXPECTED_RESPONSE" });
  return parsed.data;
}

/** One job's share of a batch: its records' positions in the batch and the CSV's size. */
interface Part {
  positions: number[];
  bytes: number;
}

/**
 * Whether a job's thrown request error, after `finished` jobs of its batch landed, becomes outcomes rather than
 * failing the batch. It still throws when nothing finished (the job's retries are spent; the engine splits the batch
 * or stops as for any request), for a refusal that ends the run (revoked token, daily quota, open circuit: the rest is not sent), for one
 * the engine must split to find the record it refuses (400, 413), and for anything not a request error (a bug).
 */
function keepsFinishedJobs(error: unknown, finished: number): error is DestinationRequestError {
  return finished > 0 && error instanceof DestinationRequestError && !error.exhausted && !error.splittable;
}

export class SalesforceBulk implements BulkWriter {
  readonly threshold: number;
  readonly maxRecords: number;
  readonly maxBytes: number;
  readonly #options: SalesforceBulkOptions;
  /** Jobs run so far (tests and reports). */
  jobs = 0;

  constructor(options: SalesforceBulkOptions) {
    this.#options = options;
    this.threshold = options.threshold;
    this.maxRecords = options.maxRecords;
    this.maxBytes = options.maxBytes;
  }

  #line(record: DestinationRecord, columns: string[]): string {
    const { externalIdField, fieldType } = this.#options;
    return columns.map((c) => (c === externalIdField ? toCsvCell(record.key, undefined) : toCsvCell(record.fields[c], fieldType(c)))).join(",");
  }

  /**
   * Cuts the batch into jobs whose CSV (header + lines, each ending in LF) stays within `maxBytes`. Only sizes are
   * kept: each job's lines are written again as they are streamed. A record too large for any job fails alone.
   */
  #parts(records: DestinationRecord[], columns: string[], outcomes: RecordOutcome[]): Part[] {
    const header = Buffer.byteLength(`${columns.join(",")}\n`);
    const parts: Part[] = [];
    let part: Part = { positions: [], bytes: header };
    for (const [position, record] of records.entries()) {
      const bytes = Buffer.byteLength(this.#line(record, columns)) + 1;
      if (header + bytes > this.maxBytes) {
        outcomes[position] = {
          key: record.key,
          status: "failed",
          code: "BULK_ROW_TOO_LARGE",
          message: `its CSV line is ${bytes} bytes: with the header, more than the ${this.maxBytes} bytes a Bulk API job may hold (${this.#options.maxBytesFrom})`,
        };
        continue;
      }
      if (part.bytes + bytes > this.maxBytes) {
        parts.push(part);
        part = { positions: [], bytes: header };
      }
      part.positions.push(position);
      part.bytes += bytes;
    }
    if (part.positions.length > 0) parts.push(part);
    return parts;
  }

  #csv(records: DestinationRecord[], columns: string[]): Readable {
    const line = (r: DestinationRecord): string => this.#line(r, columns);
    return Readable.from(
      (function* () {
        yield `${columns.join(",")}\n`;
        for (let start = 0; start < records.length; start += LINES_PER_CHUNK) {
          yield `${records.slice(start, start + LINES_PER_CHUNK).map(line).join("\n")}\n`;
        }
      })(),
      { objectMode: false },
    );
  }

  async write(records: DestinationRecord[], retry: RetryJob): Promise<RecordOutcome[]> {
    const { externalIdField } = this.#options;
    const fields = new Set<string>();
    for (const r of records) for (const name of Object.keys(r.fields)) if (name !== externalIdField) fields.add(name);
    const columns = [externalIdField, ...fields];
    const outcomes = new Array<RecordOutcome>(records.length);
    const parts = this.#parts(records, columns, outcomes);
    // One job after another: the engine already has several batches (so jobs) in flight.
    for (const [n, part] of parts.entries()) {
      try {
        // A job retried after a failure is a new job with the same rows (an upsert by external id: no duplicates).
        const answered = await retry(() => this.#job(part.positions.map((p) => records[p]!), columns));
        part.positions.forEach((p, i) => (outcomes[p] = answered[i]!));
      } catch (error) {
        if (!keepsFinishedJobs(error, n)) throw error;
        // Earlier jobs wrote their rows: their outcomes stand (so the ledger checkpoints them), and this job's rows
        // and the later ones fail as the request did, to be sent again on a later run.
        for (const rest of parts.slice(n)) for (const p of rest.positions) outcomes[p] = failedByRequest(records[p]!.key, error);
        return outcomes;
      }
    }
    return outcomes;
  }

  async #job(records: DestinationRecord[], columns: string[]): Promise<RecordOutcome[]> {
    const { object, externalIdField, normalizeKey, request, stream } = this.#options;
    const opened = await request("POST", "/jobs/ingest", { object, operation: "upsert", externalIdFieldName: externalIdField, contentType: "CSV", lineEnding: "LF" });
    const { id } = jobInfo(opened.body);
    const path = `/jobs/ingest/${encodeURIComponent(id)}`;
    this.jobs += 1;
    try {
      await stream("PUT", `${path}/batches`, { headers: { "Content-Type": "text/csv" }, upload: () => this.#csv(records, columns) });
      await request("PATCH", path, { state: "UploadComplete" });
    } catch (error) {
      // Not left open to expire: aborted, best effort (the engine retries the batch in a new job).
      await request("PATCH", path, { state: "Aborted" }).catch(() => undefined);
      throw error;
    }

    const check = async () => jobInfo((await request("GET", path)).body);
    const deadline = Date.now() + this.#options.pollTimeoutMs;
    let info = await check();
    // Small jobs finish in well under a second: poll soon, then back off to the configured interval.
    for (let wait = Math.min(250, this.#options.pollIntervalMs); !FINAL_STATES.has(info.state); wait = Math.min(this.#options.pollIntervalMs, wait * 2)) {
      if (Date.now() > deadline) {
        // The job may still finish server-side; its rows are reported failed so the next run sends them again.
        throw new DestinationRequestError(`Bulk API job ${info.id} still ${info.state} after ${this.#options.pollTimeoutMs} ms`, { code: "BULK_TIMEOUT" });
      }
      await delay(wait);
      info = await check();
    }

    // Each result row back to its record by the external id (a job holds each key once).
    const positions = new Map(records.map((r, i) => [normalizeKey(r.key), i]));
    const positionOf = (row: Record<string, string>): number | undefined => {
      const value = row[externalIdField];
      return value === undefined ? undefined : positions.get(normalizeKey(value));
    };
    const outcomes = new Array<RecordOutcome | undefined>(records.length);
    if (info.state === "JobComplete") {
      await this.#results(`${path}/successfulResults`, (row) => {
        const i = positionOf(row);
        if (i !== undefined) outcomes[i] = { key: records[i]!.key, status: row.sf__Created === "true" ? "created" : "updated", recordId: row.sf__Id ?? "" };
      });
      await this.#results(`${path}/failedResults`, (row) => {
        const i = positionOf(row);
        if (i === undefined) return;
        const error = row.sf__Error ?? "";
        const colon = error.indexOf(":");
        outcomes[i] = { key: records[i]!.key, status: "failed", code: colon > 0 ? error.slice(0, colon) : "REJECTED", message: error || "rejected by Salesforce" };
      });
    }
    // Rows the job never processed (a failed or aborted job, or left over): failed, to be sent again next run.
    const reason = info.state === "JobComplete" ? "the Bulk API job did not process this row" : `the Bulk API job ${info.state}${info.errorMessage ? `: ${info.errorMessage}` : ""}`;
    const code = info.state === "JobComplete" ? "BULK_UNPROCESSED" : "BULK_JOB_FAILED";
    return records.map((r, i) => outcomes[i] ?? { key: r.key, status: "failed", code, message: reason });
  }

  /** Streams a job's result CSV and hands each row (checked) to `onRow` as it is parsed. */
  async #results(url: string, onRow: (row: Record<string, string>) => void): Promise<void> {
    await this.#options.stream("GET", url, {
      headers: { Accept: "text/csv" },
      download: async (body) => {
        const rows = body.pipe(parse({ columns: true, bom: true, relax_column_count: false }));
        body.once("error", (error) => rows.destroy(error));
        const unexpected = (why: string) => new DestinationRequestError(`Salesforce answered a Bulk API job's results in an unexpected shape: ${why}`, { code: "UNEXPECTED_RESPONSE" });
        try {
          for await (const row of rows as AsyncIterable<unknown>) {
            const parsed = bulkRowSchema.safeParse(row);
            if (!parsed.success) throw unexpected("a row is not a record of text cells");
            onRow(parsed.data);
          }
        } catch (error) {
          throw error instanceof DestinationRequestError ? error : unexpected(error instanceof Error ? error.message : String(error));
        }
      },
    });
  }
}
