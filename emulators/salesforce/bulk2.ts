// Bulk API 2.0 ingest jobs: create, upload CSV, close, asynchronous processing, results, abort, delete.
import { z } from "zod";
import { CsvError, DELIMITERS, parseCsv, toCsv } from "./csv.ts";
import type { SObjectDef } from "./describe.ts";
import { createOne, deleteOne, duplicateKeyError, duplicateKeyPositions, extField, updateOne, upsertOne, type DmlContext } from "./dml.ts";
import type { Faults } from "./faults.ts";
import { API_USER_ID, makeId } from "./ids.ts";
import { json, sfError, type Reply } from "./http.ts";
import type { Clock, Store } from "./store.ts";
import type { SaveResult } from "./types.ts";

const CreateJobBody = z.object({
  object: z.string().min(1),
  operation: z.enum(["insert", "update", "upsert", "delete", "hardDelete"]),
  externalIdFieldName: z.string().min(1).optional(),
  contentType: z.literal("CSV").optional(),
  lineEnding: z.enum(["LF", "CRLF"]).optional(),
  columnDelimiter: z.enum(["BACKQUOTE", "CARET", "COMMA", "PIPE", "SEMICOLON", "TAB"]).optional(),
  assignmentRuleId: z.string().optional(),
});

const PatchJobBody = z.object({ state: z.string() });

type JobState = "Open" | "UploadComplete" | "InProgress" | "JobComplete" | "Aborted" | "Failed";

interface Job {
  id: string;
  object: SObjectDef;
  operation: z.infer<typeof CreateJobBody>["operation"];
  externalIdFieldName: string | undefined;
  lineEnding: "LF" | "CRLF";
  columnDelimiter: keyof typeof DELIMITERS;
  apiVersion: number;
  state: JobState;
  createdDate: string;
  systemModstamp: string;
  data: string | undefined;
  errorMessage: string | undefined;
  header: string[];
  successful: string[][];
  failed: string[][];
  unprocessed: string[][];
  timers: NodeJS.Timeout[];
  startedMs: number;
  finishedMs: number;
}

const CHUNK = 200; // Salesforce processes bulk rows in chunks of 200, like one collections call.
const TERMINAL: JobState[] = ["JobComplete", "Aborted", "Failed"];

export interface BulkDeps {
  store: Store;
  faults: Faults;
  clock: Clock;
  processingDelayMs: number;
}

function errorCell(r: SaveResult): string {
  // Salesforce's sf__Error format: "CODE:message:field1,field2 --".
  return r.errors.map((e) => `${e.statusCode}:${e.message}:${e.fields.join(",")} --`).join(" ");
}

export class Bulk2 {
  private readonly deps: BulkDeps;
  private jobs = new Map<string, Job>();
  private counter = 0;

  constructor(deps: BulkDeps) {
    this.deps = deps;
  }

  private info(job: Job, version: string): Record<string, unknown> {
    return {
      id: job.id,
      operation: job.operation,
      object: job.object.name,
      createdById: API_USER_ID,
      createdDate: job.createdDate,
      systemModstamp: job.systemModstamp,
      state: job.state,
      ...(job.externalIdFieldName ? { externalIdFieldName: job.externalIdFieldName } : {}),
      concurrencyMode: "Parallel",
      contentType: "CSV",
      apiVersion: job.apiVersion,
      jobType: "V2Ingest",
      contentUrl: `services/data/${version}/jobs/ingest/${job.id}/batches`,
      lineEnding: job.lineEnding,
      columnDelimiter: job.columnDelimiter,
      numberRecordsProcessed: job.successful.length + job.failed.length,
      numberRecordsFailed: job.failed.length,
      retries: 0,
      totalProcessingTime: job.finishedMs > 0 ? job.finishedMs - job.startedMs : 0,
      apiActiveProcessingTime: 0,
      apexProcessingTime: 0,
      ...(job.errorMessage ? { errorMessage: job.errorMessage } : {}),
    };
  }

  private touch(job: Job, state: JobState): void {
    job.state = state;
    job.systemModstamp = this.deps.clock.stamp();
  }

  create(body: unknown, version: string): Reply {
    const parsed = CreateJobBody.safeParse(body);
    if (!parsed.success) return sfError(400, "INVALIDJOB", `InvalidJob : ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
    const b = parsed.data;
    const object = this.deps.store.sobject(b.object);
    if (!object) return sfError(400, "INVALIDJOB", `InvalidJob : Unable to find object: ${b.object}`);
    let externalIdFieldName: string | undefined;
    if (b.operation === "upsert") {
      if (!b.externalIdFieldName) return sfError(400, "INVALIDJOB", `InvalidJob : External ID was blank for ${object.name}. An External ID must be specified for upsert.`);
      const ext = extField(object, b.externalIdFieldName);
      if (!ext) return sfError(400, "INVALIDJOB", `InvalidJob : Field name provided, ${b.externalIdFieldName} is not an External ID or indexed field for ${object.name}`);
      externalIdFieldName = ext.name;
    }
    this.counter += 1;
    const now = this.deps.clock.stamp();
    const job: Job = {
      id: makeId("750", this.counter),
      object,
      operation: b.operation,
      externalIdFieldName,
      lineEnding: b.lineEnding ?? "LF",
      columnDelimiter: b.columnDelimiter ?? "COMMA",
      apiVersion: Number(version.slice(1)),
      state: "Open",
      createdDate: now,
      systemModstamp: now,
      data: undefined,
      errorMessage: undefined,
      header: [],
      successful: [],
      failed: [],
      unprocessed: [],
      timers: [],
      startedMs: 0,
      finishedMs: 0,
    };
    this.jobs.set(job.id, job);
    return json(200, this.info(job, version));
  }

  list(version: string): Reply {
    return json(200, { done: true, records: [...this.jobs.values()].map((j) => this.info(j, version)), nextRecordsUrl: null });
  }

  get(id: string, version: string): Reply {
    const job = this.jobs.get(id);
    return job ? json(200, this.info(job, version)) : sfError(404, "NOT_FOUND", "The requested resource does not exist");
  }

  upload(id: string, data: Buffer): Reply {
    const job = this.jobs.get(id);
    if (!job) return sfError(404, "NOT_FOUND", "The requested resource does not exist");
    if (job.state !== "Open") return sfError(409, "INVALIDJOBSTATE", `Job ${id} is not open for uploads (state: ${job.state})`);
    // Bulk 2.0 takes one upload per job; a second PUT is refused rather than appended.
    if (job.data !== undefined) return sfError(409, "INVALIDJOBSTATE", `Job ${id} already has data uploaded`);
    job.data = data.toString("utf8");
    let records: number | undefined;
    try {
      records = Math.max(0, parseCsv(job.data, DELIMITERS[job.columnDelimiter] ?? ",").length - 1);
    } catch {
      records = undefined; // reported when the job is processed, as Salesforce does
    }
    return { status: 201, text: "", contentType: "text/plain", records };
  }

  patch(id: string, body: unknown, version: string): Reply {
    const job = this.jobs.get(id);
    if (!job) return sfError(404, "NOT_FOUND", "The requested resource does not exist");
    const parsed = PatchJobBody.safeParse(body);
    if (!parsed.success) return sfError(400, "INVALIDJOBSTATE", "A state is required");
    const wanted = parsed.data.state;
    if (wanted === "UploadComplete" && job.state === "Open") {
      this.touch(job, "UploadComplete");
      this.schedule(job);
    } else if (wanted === "Aborted" && !TERMINAL.includes(job.state)) {
      job.timers.forEach(clearTimeout);
      job.timers = [];
      this.touch(job, "Aborted");
      this.markUnprocessed(job);
    } else {
      return sfError(400, "INVALIDJOBSTATE", `Invalid state transition from ${job.state} to ${wanted}`);
    }
    return json(200, this.info(job, version));
  }

  delete(id: string): Reply {
    const job = this.jobs.get(id);
    if (!job) return sfError(404, "NOT_FOUND", "The requested resource does not exist");
    if (job.state === "Open" || job.state === "InProgress") return sfError(400, "INVALIDJOBSTATE", `Job in state ${job.state} cannot be deleted`);
    job.timers.forEach(clearTimeout);
    this.jobs.delete(id);
    return { status: 204 };
  }

  results(id: string, kind: "successfulResults" | "failedResults" | "unprocessedrecords"): Reply {
    const job = this.jobs.get(id);
    if (!job) return sfError(404, "NOT_FOUND", "The requested resource does not exist");
    if (!TERMINAL.includes(job.state)) return sfError(400, "INVALIDJOBSTATE", `Job ${id} has not finished processing (state: ${job.state})`);
    const [header, rows] =
      kind === "successfulResults"
        ? [["sf__Id", "sf__Created", ...job.header], job.successful]
        : kind === "failedResults"
          ? [["sf__Id", "sf__Error", ...job.header], job.failed]
          : [job.header, job.unprocessed];
    const lineEnding = job.lineEnding === "CRLF" ? "\r\n" : "\n";
    const text = header.length === 0 ? "" : toCsv(header, rows, DELIMITERS[job.columnDelimiter] ?? ",", lineEnding);
    return { status: 200, text, contentType: "text/csv", records: rows.length };
  }

  /** Cancels pending processing (server shutdown) and forgets every job (reset). */
  clear(): void {
    for (const job of this.jobs.values()) job.timers.forEach(clearTimeout);
    this.jobs.clear();
    this.counter = 0;
  }

  private schedule(job: Job): void {
    job.startedMs = Date.now();
    job.timers.push(
      setTimeout(() => {
        if (job.state === "UploadComplete") this.touch(job, "InProgress");
      }, 0),
      setTimeout(() => this.process(job), this.deps.processingDelayMs),
    );
  }

  private fail(job: Job, message: string): void {
    job.errorMessage = `InvalidBatch : ${message}`;
    this.touch(job, "Failed");
    job.finishedMs = Date.now();
  }

  private markUnprocessed(job: Job): void {
    try {
      const rows = parseCsv(job.data ?? "", DELIMITERS[job.columnDelimiter] ?? ",");
      job.header = rows[0] ?? [];
      job.unprocessed = rows.slice(1);
    } catch {
      job.unprocessed = [];
    }
  }

  private process(job: Job): void {
    job.timers = [];
    if (job.state !== "UploadComplete" && job.state !== "InProgress") return;
    let rows: string[][];
    try {
      rows = parseCsv(job.data ?? "", DELIMITERS[job.columnDelimiter] ?? ",");
    } catch (e) {
      if (!(e instanceof CsvError)) throw e;
      return this.fail(job, e.message);
    }
    const [header, ...data] = rows;
    if (!header || header.every((h) => h === "")) return this.fail(job, "Found no data or header in the upload");
    job.header = header;
    const o = job.object;
    const unknown = header.find((h) => !o.byLower.has(h.trim().toLowerCase()));
    if (unknown !== undefined) {
      job.unprocessed = data;
      return this.fail(job, `Field name not found : ${unknown}`);
    }
    const names = header.map((h) => o.byLower.get(h.trim().toLowerCase())?.name ?? h);
    const badRow = data.findIndex((r) => r.length !== header.length);
    if (badRow >= 0) {
      job.unprocessed = data;
      return this.fail(job, `Record ${badRow + 1}: expected ${header.length} columns, found ${data[badRow]?.length ?? 0}`);
    }
    const keyName = job.operation === "upsert" ? job.externalIdFieldName : job.operation === "insert" ? undefined : "Id";
    const keyCol = keyName === undefined ? -1 : names.indexOf(keyName);
    if (keyName !== undefined && keyCol < 0) {
      job.unprocessed = data;
      return this.fail(job, `Field name not found : ${keyName}`);
    }
    this.touch(job, "InProgress");
    const ctx: DmlContext = { table: this.deps.store.table(o), faults: this.deps.faults, clock: this.deps.clock };
    const ext = keyName === undefined ? undefined : o.byLower.get(keyName.toLowerCase());
    for (let start = 0; start < data.length; start += CHUNK) {
      const chunk = data.slice(start, start + CHUNK);
      const dupes = job.operation === "upsert" ? duplicateKeyPositions(ext, chunk.map((r) => r[keyCol])) : new Set<number>();
      chunk.forEach((row, i) => {
        const input = Object.fromEntries(names.map((n, c) => [n, row[c] ?? ""]));
        let r: SaveResult;
        if (dupes.has(i) && ext) {
          ctx.faults.record(undefined);
          r = { id: null, success: false, errors: [duplicateKeyError(ext, row[keyCol])] };
        } else if (job.operation === "upsert" && ext) r = upsertOne(ctx, ext, row[keyCol], input, "csv");
        else if (job.operation === "insert") r = createOne(ctx, input, "csv");
        else if (job.operation === "update") r = updateOne(ctx, row[keyCol], input, "csv");
        else r = deleteOne(ctx, row[keyCol]);
        if (r.success) job.successful.push([r.id ?? "", String(r.created ?? job.operation === "insert"), ...row]);
        else job.failed.push([r.id ?? "", errorCell(r), ...row]);
      });
    }
    this.touch(job, "JobComplete");
    job.finishedMs = Date.now();
  }
}
