/**
 * HubSpot CRM objects by a unique property, through the SDK's batch upsert (≤ 100 inputs per request).
 * One `objectWriteTraceId` per input maps 207 per-record errors back to the row that caused them.
 */
import type { Client } from "@hubspot/api-client";
import type { Destination, DestinationRecord, RecordOutcome } from "../types.ts";
import { toRequestError } from "./errors.ts";
import { propertiesResponseSchema, upsertResponseSchema } from "./responses.ts";
import { toHubSpotValue } from "./values.ts";

export const HUBSPOT_MAX_BATCH = 100;

export interface HubSpotTarget {
  objectType: string;
  idProperty: string;
  /** Destination property names the contract maps to. */
  properties: string[];
}

export class HubSpotDestination implements Destination {
  readonly maxBatchSize = HUBSPOT_MAX_BATCH;
  readonly description: string;
  readonly #client: Client;
  readonly #target: HubSpotTarget;

  constructor(client: Client, target: HubSpotTarget) {
    this.#client = client;
    this.#target = target;
    this.description = `hubspot ${target.objectType} by ${target.idProperty}`;
  }

  normalizeKey(key: string): string {
    // HubSpot matches emails case-insensitively; other unique properties exactly.
    return this.#target.idProperty === "email" ? key.toLowerCase() : key;
  }

  async preflight(): Promise<string[]> {
    let raw: unknown;
    try {
      raw = await this.#client.crm.properties.coreApi.getAll(this.#target.objectType);
    } catch (error) {
      const failure = toRequestError(error);
      if (failure.retryable) throw failure;
      return [`cannot read the properties of HubSpot object ${this.#target.objectType}: ${failure.message}`];
    }
    const parsed = propertiesResponseSchema.safeParse(raw);
    if (!parsed.success) return [`HubSpot answered the properties request of ${this.#target.objectType} in an unexpected shape`];
    const byName = new Map(parsed.data.results.map((p) => [p.name, p]));
    const problems: string[] = [];
    const id = byName.get(this.#target.idProperty);
    if (!id) problems.push(`destination.match.field ${this.#target.idProperty} is not a property of ${this.#target.objectType}`);
    else if (!id.hasUniqueValue) problems.push(`destination.match.field ${this.#target.idProperty} does not have unique values in HubSpot, so it cannot match records`);
    for (const name of this.#target.properties) {
      const property = byName.get(name);
      if (!property) problems.push(`fields: ${name} is not a property of HubSpot ${this.#target.objectType}`);
      else if (property.calculated || property.modificationMetadata?.readOnlyValue) problems.push(`fields: HubSpot property ${name} is read-only`);
    }
    return problems;
  }

  async write(records: DestinationRecord[]): Promise<RecordOutcome[]> {
    const inputs = records.map((record, index) => ({
      id: record.key,
      idProperty: this.#target.idProperty,
      objectWriteTraceId: String(index),
      properties: Object.fromEntries(Object.entries(record.fields).map(([name, value]) => [name, toHubSpotValue(value)])),
    }));
    let raw: unknown;
    try {
      raw = await this.#client.crm.objects.batchApi.upsert(this.#target.objectType, { inputs });
    } catch (error) {
      throw toRequestError(error);
    }
    const parsed = upsertResponseSchema.safeParse(raw);
    if (!parsed.success) {
      return records.map((r) => ({ key: r.key, status: "failed", code: "UNEXPECTED_RESPONSE", message: "HubSpot's answer did not have the batch-upsert shape" }));
    }

    const outcomes = new Map<number, RecordOutcome>();
    for (const result of parsed.data.results) {
      const index = Number(result.objectWriteTraceId);
      const record = records[index];
      if (!record) continue;
      const created = result._new ?? result.new ?? false;
      outcomes.set(index, { key: record.key, status: created ? "created" : "updated", recordId: result.id });
    }
    for (const error of parsed.data.errors ?? []) {
      const detail = error.errors?.map((e) => e.message).filter(Boolean).join("; ");
      const message = [error.message, detail].filter(Boolean).join(": ") || "rejected by HubSpot";
      const code = error.errors?.find((e) => e.code)?.code ?? error.category ?? "REJECTED";
      for (const trace of error.context?.objectWriteTraceId ?? []) {
        const index = Number(trace);
        const record = records[index];
        if (record && !outcomes.has(index)) outcomes.set(index, { key: record.key, status: "failed", code, message });
      }
    }
    // Every record gets an outcome: one HubSpot neither wrote nor rejected is a failure, never silently lost.
    return records.map(
      (record, index) => outcomes.get(index) ?? { key: record.key, status: "failed", code: "NO_RESULT", message: "HubSpot returned no result for this record" },
    );
  }
}
