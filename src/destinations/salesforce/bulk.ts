/**
 * Bulk API 2.0 ingest for large runs, through jsforce's job API: one CSV upsert job per batch of records (open,
 * upload, close, poll until done), then the successful, failed and unprocessed results mapped back to the keys.
 * Each step is one paced request. A job's rows are answered in no particular order, so results are matched by the
 * external id column, which the batch holds once per key.
 */
import { setTimeout as delay } from "node:timers/promises";
import { DestinationRequestError, type BulkWriter, type DestinationRecord, type RecordOutcome } from "../types.ts";
import type { SalesforceConnection } from "./client.ts";
import { bulkRowsSchema, jobInfoSchema } from "./responses.ts";
import { toCsvCell } from "./values.ts";

export interface SalesforceBulkOptions {
  threshold: number;
  maxRecords: number;
  pollIntervalMs: number;
  pollTimeoutMs: number;
  object: string;
  externalIdField: string;
  normalizeKey: (key: string) => string;
  fieldType: (name: string) => string | undefined;
  connection: () => Promise<SalesforceConnection>;
  paced: <T>(call: () => Promise<T>) => Promise<T>;
}

const FINAL_STATES = new Set(["JobComplete", "Failed", "Aborted"]);

export class SalesforceBulk implements BulkWriter {
  readonly threshold: number;
  readonly maxRecords: number;
  readonly #options: SalesforceBulkOptions;
  /** Jobs run so far (tests and reports). */
  jobs = 0;

  constructor(options: SalesforceBulkOptions) {
    this.#options = options;
    this.threshold = options.threshold;
    this.maxRecords = options.maxRecords;
  }

  #csv(records: DestinationRecord[]): { csv: string; columns: string[] } {
    const { externalIdField, fieldType } = this.#options;
    const columns = [externalIdField, ...new Set(records.flatMap((r) => Object.keys(r.fields)).filter((c) => c !== externalIdField))];
    const lines = [columns.join(",")];
    for (const record of records) {
      lines.push(columns.map((c) => (c === externalIdField ? toCsvCell(record.key, undefined) : toCsvCell(record.fields[c], fieldType(c)))).join(","));
    }
    return { csv: `${lines.join("\n")}\n`, columns };
  }

  async write(records: DestinationRecord[]): Promise<RecordOutcome[]> {
    const { object, externalIdField, paced, normalizeKey } = this.#options;
    const conn = await this.#options.connection();
    const { csv } = this.#csv(records);
    const job = conn.bulk2.createJob({ object, operation: "upsert", externalIdFieldName: externalIdField, contentType: "CSV", lineEnding: "LF" });
    await paced(() => job.open());
    this.jobs += 1;
    await paced(() => job.uploadData(csv));
    await paced(() => job.close());

    const deadline = Date.now() + this.#options.pollTimeoutMs;
    let info = jobInfoSchema.parse(await paced(() => job.check()));
    // Small jobs finish in well under a second: poll soon, then back off to the configured interval.
    for (let wait = Math.min(250, this.#options.pollIntervalMs); !FINAL_STATES.has(info.state); wait = Math.min(this.#options.pollIntervalMs, wait * 2)) {
      if (Date.now() > deadline) {
        // The job may still finish server-side; its rows are reported failed so the next run sends them again.
        throw new DestinationRequestError(`Bulk API job ${info.id} still ${info.state} after ${this.#options.pollTimeoutMs} ms`, { code: "BULK_TIMEOUT" });
      }
      await delay(wait);
      info = jobInfoSchema.parse(await paced(() => job.check()));
    }

    const byKey = new Map<string, RecordOutcome>();
    const keyOf = (row: Record<string, unknown>): string | undefined => {
      const value = row[externalIdField];
      return typeof value === "string" ? normalizeKey(value) : undefined;
    };
    const original = new Map(records.map((r) => [normalizeKey(r.key), r.key]));
    if (info.state === "JobComplete") {
      const successes = bulkRowsSchema.parse(await paced(() => job.getSuccessfulResults()));
      for (const row of successes) {
        const k = keyOf(row);
        const key = k === undefined ? undefined : original.get(k);
        if (key === undefined) continue;
        byKey.set(k!, { key, status: String(row.sf__Created) === "true" ? "created" : "updated", recordId: String(row.sf__Id) });
      }
      const failures = bulkRowsSchema.parse(await paced(() => job.getFailedResults()));
      for (const row of failures) {
        const k = keyOf(row);
        const key = k === undefined ? undefined : original.get(k);
        if (key === undefined) continue;
        const error = String(row.sf__Error ?? "");
        const colon = error.indexOf(":");
        byKey.set(k!, { key, status: "failed", code: colon > 0 ? error.slice(0, colon) : "REJECTED", message: error || "rejected by Salesforce" });
      }
    }
    // Rows the job never processed (a failed or aborted job, or left over): failed, to be sent again next run.
    const reason = info.state === "JobComplete" ? "the Bulk API job did not process this row" : `the Bulk API job ${info.state}${info.errorMessage ? `: ${info.errorMessage}` : ""}`;
    return records.map((r) => byKey.get(normalizeKey(r.key)) ?? { key: r.key, status: "failed", code: info.state === "JobComplete" ? "BULK_UNPROCESSED" : "BULK_JOB_FAILED", message: reason });
  }
}
