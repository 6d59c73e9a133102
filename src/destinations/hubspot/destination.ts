/**
 * HubSpot CRM objects (contacts, companies, custom objects) by a unique property, through the batch upsert
 * (≤ 100 inputs per request). One `objectWriteTraceId` per input maps 207 per-record errors back to the row that
 * caused them. The batch upsert, the hot path, is sent as raw JSON (`sendHubSpotJson`) and its answer parsed once;
 * the other calls use the SDK's `…WithHttpInfo` variants. Either way the `X-HubSpot-RateLimit-*` headers of each
 * answer (errors included) reach the engine's pacer.
 */
import type { Client } from "@hubspot/api-client";
import { checkMapping, describeForCheck, type MappedField } from "../mapping.ts";
import {
  canonicalKey,
  DestinationRequestError,
  UNPACED,
  type KeyRule,
  type CurrentRecord,
  type Destination,
  type DestinationLimits,
  type DestinationRecord,
  type DestinationSchema,
  type FieldDescription,
  type MembershipOutcome,
  type RecordOutcome,
  type RemoveOutcome,
  type RequestPacer,
  type ValueKind,
} from "../types.ts";
import { HubSpotAuth, sendHubSpotJson, type HubSpotConnection } from "./client.ts";
import { HubSpotAnswerError, parseJsonOr, toRequestError } from "./errors.ts";
import { HUBSPOT_DOCUMENTED_LIMITS, hubspotRateLimitInfo } from "./limits.ts";
import { listResponseSchema, membershipsResponseSchema, propertiesResponseSchema, readResponseSchema, resultPropertiesSchema, upsertResponseSchema } from "./responses.ts";
import { toHubSpotValue } from "./values.ts";

export const HUBSPOT_MAX_BATCH = 100;
/** Record ids per lists-membership request (HubSpot accepts far more; this keeps one request's failure small). */
const MEMBERSHIP_CHUNK = 1000;

export interface HubSpotTarget {
  objectType: string;
  idProperty: string;
  /** The destination properties the contract maps to, with the contract's `allowed` values. */
  fields: MappedField[];
  /** Audience mode: the list whose membership is synced. */
  listId?: string | undefined;
}

/** HubSpot matches contacts by email case-insensitively (it stores emails lower-cased); other unique properties exactly. */
export function hubspotKeyRule(idProperty: string): KeyRule {
  return idProperty === "email" ? "case_insensitive" : "exact";
}

/** Column kinds each HubSpot property type takes (values travel as strings; HubSpot parses them per type). */
function accepts(type: string, kind: ValueKind): boolean | undefined {
  switch (type) {
    case "string":
    case "enumeration":
      return true;
    case "number":
      return kind === "number";
    case "bool":
      return kind === "boolean";
    case "date":
    case "datetime":
      return kind === "date" || kind === "datetime";
    default:
      return undefined;
  }
}

interface HttpInfo<T> {
  httpStatusCode: number;
  headers: unknown;
  data: T;
}

/** One input of a batch upsert as HubSpot takes it on the wire (no `idProperty`: `id` is the record id). */
interface UpsertInput {
  id: string;
  idProperty?: string;
  objectWriteTraceId: string;
  properties: Record<string, string>;
}

export class HubSpotDestination implements Destination {
  readonly maxBatchSize = HUBSPOT_MAX_BATCH;
  readonly limits: DestinationLimits = { ...HUBSPOT_DOCUMENTED_LIMITS };
  readonly description: string;
  readonly #client: Client;
  readonly #target: HubSpotTarget;
  readonly #auth: HubSpotAuth;
  #pacer: RequestPacer = UNPACED;

  constructor(client: Client, target: HubSpotTarget, connection: HubSpotConnection = {}) {
    this.#client = client;
    this.#target = target;
    this.#auth = new HubSpotAuth(client, connection);
    this.description = `hubspot ${target.objectType} by ${target.idProperty}`;
  }

  /** How many times an OAuth access token was fetched (tests; never the token itself). */
  get tokenRefreshes(): number {
    return this.#auth.refreshes;
  }

  keyRule(): Promise<KeyRule> {
    return Promise.resolve(hubspotKeyRule(this.#target.idProperty));
  }

  normalizeKey(key: string): string {
    return canonicalKey(key, hubspotKeyRule(this.#target.idProperty));
  }

  usePacer(pacer: RequestPacer): void {
    this.#pacer = pacer;
  }

  /** One paced request: headers to the pacer, a 401 answered by one OAuth refresh, SDK errors mapped. */
  async #call<T>(send: () => Promise<HttpInfo<T>>): Promise<T> {
    await this.#auth.ready();
    return this.#pacer.request(async () => {
      try {
        let info: HttpInfo<T>;
        try {
          info = await send();
        } catch (error) {
          if ((error as { code?: unknown }).code !== 401 || !this.#auth.canRefresh) throw error;
          await this.#auth.refresh();
          info = await send();
        }
        this.#pacer.observe(hubspotRateLimitInfo(info.headers));
        return info.data;
      } catch (error) {
        this.#pacer.observe(hubspotRateLimitInfo((error as { headers?: unknown }).headers));
        throw toRequestError(error);
      }
    });
  }

  /** One batch upsert, raw: a 2xx answer's body parsed once (undefined when it is not JSON), any other refused. */
  #upsert(inputs: UpsertInput[]): Promise<unknown> {
    const path = `/crm/v3/objects/${encodeURIComponent(this.#target.objectType)}/batch/upsert`;
    return this.#call(async () => {
      const answer = await sendHubSpotJson(this.#client, "POST", path, { inputs });
      if (answer.status < 200 || answer.status >= 300) throw new HubSpotAnswerError(answer);
      return { httpStatusCode: answer.status, headers: answer.headers, data: parseJsonOr(answer.text, undefined) };
    });
  }

  async describe(): Promise<DestinationSchema> {
    const raw = await this.#call(() => this.#client.crm.properties.coreApi.getAllWithHttpInfo(this.#target.objectType));
    const parsed = propertiesResponseSchema.safeParse(raw);
    if (!parsed.success) {
      throw new DestinationRequestError(`HubSpot answered the properties request of ${this.#target.objectType} in an unexpected shape`, { code: "UNEXPECTED_RESPONSE" });
    }
    const schema: DestinationSchema = new Map();
    for (const p of parsed.data.results) {
      if (p.archived) continue;
      const description: FieldDescription = {
        type: p.type,
        writable: !(p.calculated || p.modificationMetadata?.readOnlyValue),
        matchable: p.hasUniqueValue ?? false,
      };
      if (p.type === "enumeration") description.allowed = (p.options ?? []).filter((o) => !o.hidden).map((o) => o.value);
      if (p.type === "bool") description.allowed = ["true", "false"];
      schema.set(p.name, description);
    }
    return schema;
  }

  async checkMapping(kinds?: Record<string, ValueKind>, clearing?: string): Promise<string[]> {
    const described = await describeForCheck(() => this.describe(), `read the properties of HubSpot object ${this.#target.objectType}`, toRequestError);
    if ("problem" in described) return [described.problem];
    const problems = checkMapping(described.schema, { label: `HubSpot ${this.#target.objectType}`, matchField: this.#target.idProperty, fields: this.#target.fields, accepts, clearing }, kinds);
    if (this.#target.listId !== undefined) problems.push(...(await this.#checkList(this.#target.listId)));
    return problems;
  }


  async #checkList(listId: string): Promise<string[]> {
    let raw: unknown;
    try {
      raw = await this.#call(() => this.#client.crm.lists.listsApi.getByIdWithHttpInfo(listId));
    } catch (error) {
      const failure = toRequestError(error);
      if (failure.retryable) throw failure;
      return [`destination.list_id ${listId}: ${failure.status === 404 ? "no such HubSpot list" : failure.message}`];
    }
    const parsed = listResponseSchema.safeParse(raw);
    if (!parsed.success) return [`destination.list_id ${listId}: HubSpot answered in an unexpected shape`];
    const type = parsed.data.list.processingType;
    // Only lists whose membership is managed by hand (or a snapshot) accept membership writes.
    if (type !== undefined && type !== "MANUAL" && type !== "SNAPSHOT") {
      return [`destination.list_id ${listId}: HubSpot list "${parsed.data.list.name ?? listId}" is ${type}; audience mode needs a MANUAL or SNAPSHOT list`];
    }
    return [];
  }

  async write(records: DestinationRecord[]): Promise<RecordOutcome[]> {
    const idProperty = this.#target.idProperty;
    const inputs = records.map((record, index): UpsertInput => {
      const properties: Record<string, string> = {};
      for (const name in record.fields) properties[name] = toHubSpotValue(record.fields[name] ?? null);
      return { id: record.key, idProperty, objectWriteTraceId: String(index), properties };
    });
    const parsed = upsertResponseSchema.safeParse(await this.#upsert(inputs));
    if (!parsed.success) {
      return records.map((r) => ({ key: r.key, status: "failed", code: "UNEXPECTED_RESPONSE", message: "HubSpot's answer did not have the batch-upsert shape" }));
    }

    // Results and errors are mapped back by the trace id we sent; HubSpot's spec makes it optional (its documented
    // 207 example has none), so without it a result is matched by its id property and an error by its context ids,
    // compared as HubSpot compares that property (that index is built only when an answer needs it).
    const traced = (trace: string | null | undefined): number | undefined => (trace !== undefined && trace !== null && records[Number(trace)] ? Number(trace) : undefined);
    let keyIndex: Map<string, number[]> | undefined;
    const byKey = (key: string | null | undefined): number[] => {
      if (key === undefined || key === null) return [];
      if (!keyIndex) {
        keyIndex = new Map();
        for (let index = 0; index < records.length; index += 1) {
          const normalized = this.normalizeKey(records[index]!.key);
          const same = keyIndex.get(normalized);
          if (same) same.push(index);
          else keyIndex.set(normalized, [index]);
        }
      }
      return keyIndex.get(this.normalizeKey(key)) ?? [];
    };
    const idValue = (properties: unknown): string | null | undefined => {
      const checked = resultPropertiesSchema.safeParse(properties);
      return checked.success ? checked.data[idProperty] : undefined;
    };
    const outcomes: (RecordOutcome | undefined)[] = new Array<RecordOutcome | undefined>(records.length);
    for (const result of parsed.data.results) {
      const status = result.new === true ? "created" : "updated";
      const at = traced(result.objectWriteTraceId);
      for (const index of at === undefined ? byKey(idValue(result.properties)) : [at]) {
        outcomes[index] = { key: records[index]!.key, status, recordId: result.id };
      }
    }
    for (const error of parsed.data.errors ?? []) {
      const detail = error.errors?.map((e) => e.message).filter(Boolean).join("; ");
      const message = [error.message, detail].filter(Boolean).join(": ") || "rejected by HubSpot";
      const code = error.errors?.find((e) => e.code)?.code ?? error.category ?? "REJECTED";
      const traces = error.context?.objectWriteTraceId;
      const indexes = traces ? traces.flatMap((t) => traced(t) ?? []) : (error.context?.ids ?? []).flatMap((id) => byKey(id));
      for (const index of indexes) outcomes[index] ??= { key: records[index]!.key, status: "failed", code, message };
    }
    // Every record gets an outcome: one HubSpot neither wrote nor rejected is a failure, never silently lost.
    return records.map(
      (record, index) => outcomes[index] ?? { key: record.key, status: "failed", code: "NO_RESULT", message: "HubSpot returned no result for this record" },
    );
  }

  async readBack(keys: string[], fields: string[]): Promise<Map<string, CurrentRecord>> {
    const found = new Map<string, CurrentRecord>();
    const idProperty = this.#target.idProperty;
    const byNormalized = new Map<string, string[]>();
    for (const key of keys) byNormalized.set(this.normalizeKey(key), [...(byNormalized.get(this.normalizeKey(key)) ?? []), key]);
    const unique = [...byNormalized.keys()];
    for (let start = 0; start < unique.length; start += HUBSPOT_MAX_BATCH) {
      const chunk = unique.slice(start, start + HUBSPOT_MAX_BATCH);
      const raw = await this.#call(() =>
        this.#client.crm.objects.batchApi.readWithHttpInfo(
          this.#target.objectType,
          { inputs: chunk.map((id) => ({ id })), idProperty, properties: [idProperty, ...fields], propertiesWithHistory: [] },
          false,
        ),
      );
      const parsed = readResponseSchema.safeParse(raw);
      if (!parsed.success) throw new DestinationRequestError("HubSpot answered a batch read in an unexpected shape", { code: "UNEXPECTED_RESPONSE" });
      for (const result of parsed.data.results) {
        const value = result.properties[idProperty];
        if (value === null || value === undefined) continue;
        const updatedAt = result.updatedAt instanceof Date ? result.updatedAt.toISOString() : (result.updatedAt ?? "");
        const values = Object.fromEntries(fields.map((f) => [f, result.properties[f] ?? null]));
        for (const key of byNormalized.get(this.normalizeKey(value)) ?? []) found.set(key, { key, recordId: result.id, modifiedAt: updatedAt, values });
      }
    }
    return found;
  }

  async remove(keys: string[], how: "clear" | "delete", fields: string[]): Promise<RemoveOutcome[]> {
    const current = await this.readBack(keys, []);
    const outcomes = new Map<string, RemoveOutcome>();
    const present = keys.filter((key) => {
      if (current.has(key)) return true;
      outcomes.set(key, { key, status: "absent" });
      return false;
    });
    for (let start = 0; start < present.length; start += HUBSPOT_MAX_BATCH) {
      const chunk = present.slice(start, start + HUBSPOT_MAX_BATCH);
      const ids = chunk.map((key) => current.get(key)!.recordId);
      try {
        if (how === "delete") {
          await this.#call(() => this.#client.crm.objects.batchApi.archiveWithHttpInfo(this.#target.objectType, { inputs: ids.map((id) => ({ id })) }));
          chunk.forEach((key, i) => outcomes.set(key, { key, status: "deleted", recordId: ids[i]! }));
          continue;
        }
        // Addressed by record id (no idProperty), so a record deleted meanwhile fails instead of being re-created.
        // An empty string is how HubSpot clears a property.
        const inputs = ids.map((id, i): UpsertInput => ({ id, objectWriteTraceId: String(i), properties: Object.fromEntries(fields.map((f) => [f, ""])) }));
        const parsed = upsertResponseSchema.safeParse(await this.#upsert(inputs));
        if (!parsed.success) {
          // An answer we cannot read proves nothing was cleared.
          for (const key of chunk) outcomes.set(key, { key, status: "failed", code: "UNEXPECTED_RESPONSE", message: "HubSpot's answer did not have the batch-upsert shape" });
          continue;
        }
        const failed = new Map<number, string>();
        for (const error of parsed.data.errors ?? []) {
          // By trace id when HubSpot echoes it, else by the record ids this call addressed.
          const indexes = error.context?.objectWriteTraceId?.map(Number) ?? (error.context?.ids ?? []).map((id) => ids.indexOf(id)).filter((i) => i >= 0);
          for (const index of indexes) failed.set(index, error.message ?? "rejected by HubSpot");
        }
        chunk.forEach((key, i) => {
          const message = failed.get(i);
          outcomes.set(key, message === undefined ? { key, status: "cleared", recordId: ids[i]! } : { key, status: "failed", code: "REJECTED", message });
        });
      } catch (error) {
        const failure = toRequestError(error);
        if (failure.retryable || failure.exhausted) throw failure;
        for (const key of chunk) outcomes.set(key, { key, status: "failed", code: failure.code, message: failure.message });
      }
    }
    return keys.map((key) => outcomes.get(key)!);
  }

  async audience(add: string[], remove: string[]): Promise<MembershipOutcome[]> {
    const listId = this.#target.listId;
    const fail = (key: string, code: string, message: string): MembershipOutcome => ({ key, status: "failed", code, message });
    if (listId === undefined) return [...add, ...remove].map((key) => fail(key, "NO_LIST", "the contract has no destination.list_id"));
    const current = await this.readBack([...add, ...remove], []);
    const outcomes: MembershipOutcome[] = [];
    const toAdd: { key: string; id: string }[] = [];
    const toRemove: { key: string; id: string }[] = [];
    for (const [keys, into] of [
      [add, toAdd],
      [remove, toRemove],
    ] as const) {
      for (const key of keys) {
        const record = current.get(key);
        if (record) into.push({ key, id: record.recordId });
        else outcomes.push(fail(key, "NOT_FOUND", `no HubSpot ${this.#target.objectType} record has ${this.#target.idProperty} ${key}`));
      }
    }
    for (let start = 0; start < Math.max(toAdd.length, toRemove.length); start += MEMBERSHIP_CHUNK) {
      const adding = toAdd.slice(start, start + MEMBERSHIP_CHUNK);
      const removing = toRemove.slice(start, start + MEMBERSHIP_CHUNK);
      const raw = await this.#call(() =>
        this.#client.crm.lists.membershipsApi.addAndRemoveWithHttpInfo(listId, {
          recordIdsToAdd: adding.map((a) => a.id),
          recordIdsToRemove: removing.map((r) => r.id),
        }),
      );
      const parsed = membershipsResponseSchema.safeParse(raw);
      if (!parsed.success) throw new DestinationRequestError("HubSpot answered a list membership change in an unexpected shape", { code: "UNEXPECTED_RESPONSE" });
      const added = new Set(parsed.data.recordsIdsAdded ?? []);
      const removed = new Set(parsed.data.recordIdsRemoved ?? []);
      const missing = new Set(parsed.data.recordIdsMissing ?? []);
      for (const { key, id } of adding) {
        if (missing.has(id)) outcomes.push(fail(key, "NOT_FOUND", `HubSpot list ${listId} cannot hold record ${id}`));
        else outcomes.push({ key, status: added.has(id) ? "added" : "unchanged", recordId: id });
      }
      for (const { key, id } of removing) outcomes.push({ key, status: removed.has(id) ? "removed" : "unchanged", recordId: id });
    }
    return outcomes;
  }
}
