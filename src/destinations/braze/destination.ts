/**
 * Braze users by external_id, email or user alias, through `/users/track` (≤ 75 attribute objects per request).
 * Braze answers a batch with one 201 whose `errors: [{type, input_array, index}]` name the objects it refused: each maps
 * back by index to its row (a dead letter), the others were written. Reads go through `/users/export/ids`, deletes
 * through `/users/delete` by braze_id, the drift check through `GET /custom_attributes` (paged by its `Link` header).
 * Every request goes through the engine's pacer; `/users/track` answers report their `X-RateLimit-*` headers to it.
 */
import { BRAZE_MATCH_FIELDS } from "../../contract/schema.ts";
import { checkMapping, describeForCheck, type MappedField } from "../mapping.ts";
import {
  canonicalKey,
  type KeyRule,
  DestinationRequestError,
  UNPACED,
  type CurrentRecord,
  type Destination,
  type DestinationLimits,
  type DestinationRecord,
  type DestinationSchema,
  type FailedOutcome,
  type MembershipOutcome,
  type RecordOutcome,
  type RemoveOutcome,
  type RequestPacer,
  type ValueKind,
} from "../types.ts";
import type { BrazeAnswer, BrazeHttp } from "./client.ts";
import { answerError, toRequestError } from "./errors.ts";
import { BRAZE_DOCUMENTED_LIMITS, brazeRateLimitInfo } from "./limits.ts";
import { customAttributesResponseSchema, deleteResponseSchema, exportResponseSchema, trackResponseSchema, type ExportedUser, type TrackResponse } from "./responses.ts";
import { fromBrazeValue, toBrazeValue } from "./values.ts";

export const BRAZE_MAX_BATCH = 75;
/** `/users/export/ids` and `/users/delete` take up to 50 external ids, aliases or braze ids per request. */
const ID_CHUNK = 50;
/** Pages of `GET /custom_attributes` followed at most (50 attributes each): a loop guard, far above real workspaces. */
const MAX_ATTRIBUTE_PAGES = 1000;

export type BrazeMatchField = (typeof BRAZE_MATCH_FIELDS)[number];

export interface BrazeTarget {
  /** The contract's destination.object: Braze syncs `users` only. */
  object: string;
  matchField: string;
  /** For match field user_alias: the alias label (the sync key is the alias name). */
  aliasLabel?: string | undefined;
  /** Mapped fields: profile fields (first_name, …) or custom attributes, with the contract's `allowed` values. */
  fields: (MappedField & { overwrite?: string | undefined })[];
  /** Audience mode: the subscription group whose membership is synced. */
  listId?: string | undefined;
  /** A mapped custom attribute Braze does not list yet is created by the first write instead of stopping the run. */
  createAttributes?: boolean | undefined;
  /** Mode update: `_update_existing_only: true`, so a profile deleted since the read-back is not created again. */
  updateOnly?: boolean | undefined;
}

/** Profile fields Braze keeps outside custom attributes (writable through /users/track, exported by name). */
const PROFILE_FIELDS: Record<string, string> = {
  first_name: "String",
  last_name: "String",
  email: "String",
  phone: "String",
  country: "String",
  home_city: "String",
  language: "String",
  gender: "String",
  dob: "Time",
  time_zone: "String",
  email_subscribe: "String",
  push_subscribe: "String",
};

/**
 * Column kinds each Braze data type takes. The type names (`String`, `Number`, `Boolean`, `Time`, `Array`, `Object`)
 * are those of the custom attributes export and dashboard; the full list is [unverified].
 */
function accepts(type: string, kind: ValueKind): boolean | undefined {
  switch (type) {
    case "String":
      return kind === "string" || kind === "date" || kind === "datetime";
    case "Number":
      return kind === "number";
    case "Boolean":
      return kind === "boolean";
    case "Time":
      return kind === "date" || kind === "datetime";
    default:
      return undefined;
  }
}

/** The `rel="next"` target of a `Link` header (`<url>; rel="next", <url>; rel="prev"`). */
export function nextLink(header: string | null): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(",")) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/i.exec(part.trim());
    if (m) return m[1];
  }
  return undefined;
}

/**
 * How Braze compares a match field's values: an external_id and an alias name exactly (Braze treats them as
 * case-sensitive strings), an email case-insensitively (Braze matches email addresses regardless of case).
 */
export function brazeKeyRule(matchField: string): KeyRule {
  return matchField === "email" ? "case_insensitive" : "exact";
}

export class BrazeDestination implements Destination {
  readonly maxBatchSize = BRAZE_MAX_BATCH;
  readonly limits: DestinationLimits = { ...BRAZE_DOCUMENTED_LIMITS };
  readonly description: string;
  readonly #http: BrazeHttp;
  readonly #target: BrazeTarget;
  #pacer: RequestPacer = UNPACED;

  constructor(http: BrazeHttp, target: BrazeTarget) {
    this.#http = http;
    this.#target = target;
    this.description = `braze ${target.object} by ${target.matchField}${target.aliasLabel ? ` (${target.aliasLabel})` : ""}`;
  }

  keyRule(): Promise<KeyRule> {
    return Promise.resolve(brazeKeyRule(this.#target.matchField));
  }

  normalizeKey(key: string): string {
    return canonicalKey(key, brazeKeyRule(this.#target.matchField));
  }

  usePacer(pacer: RequestPacer): void {
    this.#pacer = pacer;
  }

  /**
   * One paced request. 2xx answers (and the statuses in `keep`) come back; others become a `DestinationRequestError`
   * inside the pacer, so 429s pause it and 5xx count for its breaker. Only `/users/track` reports its limit headers:
   * the other endpoints count against buckets of their own.
   */
  async #call(what: string, method: "GET" | "POST", path: string, body?: unknown, keep: number[] = []): Promise<BrazeAnswer> {
    return this.#pacer.request(async () => {
      let answer: BrazeAnswer;
      try {
        answer = await this.#http.send(method, path, body);
      } catch (error) {
        throw toRequestError(error);
      }
      if (path === "/users/track") this.#pacer.observe(brazeRateLimitInfo(answer.headers));
      if ((answer.status >= 200 && answer.status < 300) || keep.includes(answer.status)) return answer;
      throw answerError(what, answer);
    });
  }

  /** The object that addresses a key's user in /users/track. */
  #identifier(key: string): Record<string, unknown> {
    switch (this.#target.matchField) {
      case "email":
        return { email: key };
      case "user_alias":
        return { user_alias: { alias_name: key, alias_label: this.#target.aliasLabel } };
      default:
        return { external_id: key };
    }
  }

  async describe(): Promise<DestinationSchema> {
    const schema: DestinationSchema = new Map();
    // The identifiers: matchable, and (but for email) never set as attributes.
    schema.set("external_id", { type: "String", writable: false, matchable: true });
    schema.set("user_alias", { type: "Object", writable: false, matchable: true });
    for (const [name, type] of Object.entries(PROFILE_FIELDS)) schema.set(name, { type, writable: true, matchable: name === "email" });
    let path: string | undefined = "/custom_attributes";
    const seen = new Set<string>();
    for (let page = 0; path !== undefined && page < MAX_ATTRIBUTE_PAGES && !seen.has(path); page += 1) {
      seen.add(path);
      const answer = await this.#call("GET /custom_attributes", "GET", path);
      const parsed = customAttributesResponseSchema.safeParse(answer.body);
      if (!parsed.success) throw new DestinationRequestError("Braze answered GET /custom_attributes in an unexpected shape", { code: "UNEXPECTED_RESPONSE" });
      for (const a of parsed.data.attributes) {
        // A blocklisted attribute is dropped by Braze on write: it cannot be synced.
        schema.set(a.name, { type: a.data_type ?? "String", writable: (a.status ?? "Active").toLowerCase() === "active", matchable: false });
      }
      const next = nextLink(answer.headers.get("link"));
      path = next === undefined ? undefined : pathOf(next, this.#http.endpoint);
    }
    return schema;
  }

  async checkMapping(kinds?: Record<string, ValueKind>, clearing?: string): Promise<string[]> {
    const problems: string[] = [];
    const target = this.#target;
    if (target.object !== "users") problems.push(`destination.object ${target.object}: Braze syncs user profiles, so the object must be users`);
    if (!(BRAZE_MATCH_FIELDS as readonly string[]).includes(target.matchField)) {
      problems.push(`destination.match.field ${target.matchField}: Braze matches users by ${BRAZE_MATCH_FIELDS.join(", ")}`);
    }
    if (target.matchField === "user_alias" && !target.aliasLabel) problems.push("destination.match.alias_label: match field user_alias needs the alias label");
    for (const field of target.fields) {
      // Braze's export has no last-modified time per user: an edit by a person since our write cannot be seen.
      if (field.overwrite === "unless_edited") problems.push(`fields: ${field.to} overwrite unless_edited needs the destination's last-modified time, which Braze does not report; use always or if_empty`);
    }
    const described = await describeForCheck(() => this.describe(), "list the custom attributes of the Braze workspace", toRequestError);
    if ("problem" in described) return [...problems, described.problem];
    const { schema } = described;
    const known = target.createAttributes ? target.fields.filter((f) => schema.has(f.to)) : target.fields;
    problems.push(...checkMapping(schema, { label: "Braze users", matchField: target.matchField, fields: known, accepts, clearing }, kinds));
    return problems;
  }


  /**
   * `/users/track` with one attribute object per record. A 400 whose errors name objects by index refused those; when
   * it names every object, each gets its reason here; otherwise the engine splits the batch to isolate them.
   */
  async #track(objects: Record<string, unknown>[], what: string): Promise<Map<number, string>> {
    const answer = await this.#call(what, "POST", "/users/track", { attributes: objects }, [400]);
    const parsed = trackResponseSchema.safeParse(answer.body);
    const body: TrackResponse = parsed.success ? parsed.data : {};
    const refused = new Map<number, string>();
    for (const error of body.errors ?? []) {
      if (typeof error === "string" || error.index === undefined || (error.input_array ?? "attributes") !== "attributes") continue;
      if (error.index >= 0 && error.index < objects.length) refused.set(error.index, error.type ?? "refused by Braze");
    }
    if (answer.status === 400 && refused.size < objects.length) throw answerError(what, answer);
    return refused;
  }

  #refusal(key: string, type: string): FailedOutcome {
    return { key, status: "failed", code: "INVALID_OBJECT", message: `Braze refused the attributes: ${type}` };
  }

  async write(records: DestinationRecord[]): Promise<RecordOutcome[]> {
    const objects = records.map((record) => ({
      ...this.#identifier(record.key),
      // user_alias defaults to update-only: say it, so upsert creates an alias-only user and update never does.
      _update_existing_only: this.#target.updateOnly ?? false,
      ...Object.fromEntries(Object.entries(record.fields).map(([name, value]) => [name, toBrazeValue(value)])),
    }));
    const refused = await this.#track(objects, "POST /users/track");
    return records.map((record, index): RecordOutcome => {
      const type = refused.get(index);
      if (type !== undefined) return this.#refusal(record.key, type);
      // Braze does not say whether a profile was created: a row new to the ledger (the plan's `create`) counts as created.
      const planned = (record as { change?: unknown }).change;
      return { key: record.key, status: planned === "create" ? "created" : "updated", recordId: record.key };
    });
  }

  /** The export request for some keys: 50 external ids or aliases at once, one email address per request. */
  #exportBodies(keys: string[]): { keys: string[]; body: Record<string, unknown> }[] {
    const bodies: { keys: string[]; body: Record<string, unknown> }[] = [];
    if (this.#target.matchField === "email") {
      for (const key of keys) bodies.push({ keys: [key], body: { email_address: key } });
      return bodies;
    }
    for (let start = 0; start < keys.length; start += ID_CHUNK) {
      const chunk = keys.slice(start, start + ID_CHUNK);
      bodies.push({
        keys: chunk,
        body:
          this.#target.matchField === "user_alias"
            ? { user_aliases: chunk.map((alias_name) => ({ alias_name, alias_label: this.#target.aliasLabel })) }
            : { external_ids: chunk },
      });
    }
    return bodies;
  }

  /** Which of the requested keys an exported user answers for. */
  #keysOf(user: ExportedUser, requested: string[]): string[] {
    switch (this.#target.matchField) {
      case "email":
        // One address per request: every user of the answer carries it (Braze may hold several profiles per address).
        return requested;
      case "user_alias": {
        const names = new Set((user.user_aliases ?? []).filter((a) => a.alias_label === this.#target.aliasLabel).map((a) => a.alias_name));
        return requested.filter((k) => names.has(k));
      }
      default:
        return user.external_id ? requested.filter((k) => k === user.external_id) : [];
    }
  }

  async readBack(keys: string[], fields: string[]): Promise<Map<string, CurrentRecord>> {
    const found = new Map<string, CurrentRecord>();
    const byNormalized = new Map<string, string[]>();
    for (const key of keys) byNormalized.set(this.normalizeKey(key), [...(byNormalized.get(this.normalizeKey(key)) ?? []), key]);
    const profile = fields.filter((f) => f in PROFILE_FIELDS);
    const exportFields = [...new Set(["braze_id", "external_id", "email", "user_aliases", "custom_attributes", ...profile])];
    for (const { keys: chunk, body } of this.#exportBodies([...byNormalized.keys()])) {
      const answer = await this.#call("POST /users/export/ids", "POST", "/users/export/ids", { ...body, fields_to_export: exportFields });
      const parsed = exportResponseSchema.safeParse(answer.body);
      if (!parsed.success) throw new DestinationRequestError("Braze answered a /users/export/ids request in an unexpected shape", { code: "UNEXPECTED_RESPONSE" });
      const usersOf = new Map<string, ExportedUser[]>();
      for (const user of parsed.data.users) for (const key of this.#keysOf(user, chunk)) usersOf.set(key, [...(usersOf.get(key) ?? []), user]);
      for (const [normalized, users] of usersOf) {
        const user = users[0]!;
        const values = Object.fromEntries(
          fields.map((f) => [f, fromBrazeValue(f in PROFILE_FIELDS ? (user as Record<string, unknown>)[f] : user.custom_attributes?.[f])]),
        );
        const ids = users.map((u) => u.braze_id ?? "?");
        for (const key of byNormalized.get(normalized) ?? []) {
          // Braze reports no last-modified time per user (see checkMapping: unless_edited is refused).
          found.set(key, { key, recordId: ids[0]!, modifiedAt: "", values, ...(users.length > 1 ? { duplicates: ids } : {}) });
        }
      }
    }
    return found;
  }

  async remove(keys: string[], how: "clear" | "delete", fields: string[]): Promise<RemoveOutcome[]> {
    const current = await this.readBack(keys, []);
    const outcomes = new Map<string, RemoveOutcome>();
    const present: { key: string; id: string }[] = [];
    for (const key of keys) {
      const record = current.get(key);
      if (!record) outcomes.set(key, { key, status: "absent" });
      else if (record.duplicates) outcomes.set(key, duplicate(key, record.duplicates));
      else present.push({ key, id: record.recordId });
    }
    const size = how === "delete" ? ID_CHUNK : BRAZE_MAX_BATCH;
    for (let start = 0; start < present.length; start += size) {
      const chunk = present.slice(start, start + size);
      try {
        if (how === "delete") {
          const answer = await this.#call("POST /users/delete", "POST", "/users/delete", { braze_ids: chunk.map((c) => c.id) });
          if (!deleteResponseSchema.safeParse(answer.body).success) throw new DestinationRequestError("Braze answered /users/delete in an unexpected shape", { code: "UNEXPECTED_RESPONSE" });
          for (const { key, id } of chunk) outcomes.set(key, { key, status: "deleted", recordId: id });
          continue;
        }
        // Addressed by braze_id and update-only, so a user deleted meanwhile is not created again; null removes.
        const objects = chunk.map(({ id }) => ({ braze_id: id, _update_existing_only: true, ...Object.fromEntries(fields.map((f) => [f, null])) }));
        const refused = await this.#track(objects, "POST /users/track (clear)");
        chunk.forEach(({ key, id }, i) => {
          const type = refused.get(i);
          outcomes.set(key, type === undefined ? { key, status: "cleared", recordId: id } : this.#refusal(key, type));
        });
      } catch (error) {
        const failure = toRequestError(error);
        if (failure.retryable || failure.exhausted) throw failure;
        for (const { key } of chunk) outcomes.set(key, { key, status: "failed", code: failure.code, message: failure.message });
      }
    }
    return keys.map((key) => outcomes.get(key)!);
  }

  async audience(add: string[], remove: string[]): Promise<MembershipOutcome[]> {
    const groupId = this.#target.listId;
    const fail = (key: string, code: string, message: string): MembershipOutcome => ({ key, status: "failed", code, message });
    if (groupId === undefined) return [...add, ...remove].map((key) => fail(key, "NO_LIST", "the contract has no destination.list_id (the Braze subscription group id)"));
    // Membership is set on existing users only: a key with no Braze user fails rather than creating one.
    const current = await this.readBack([...add, ...remove], []);
    const outcomes: MembershipOutcome[] = [];
    const changes: { key: string; id: string; state: "subscribed" | "unsubscribed" }[] = [];
    for (const [keys, state] of [
      [add, "subscribed"],
      [remove, "unsubscribed"],
    ] as const) {
      for (const key of keys) {
        const record = current.get(key);
        if (!record) outcomes.push(fail(key, "NOT_FOUND", `no Braze user has ${this.#target.matchField} ${key}`));
        else if (record.duplicates) outcomes.push(duplicate(key, record.duplicates));
        else changes.push({ key, id: record.recordId, state });
      }
    }
    for (let start = 0; start < changes.length; start += BRAZE_MAX_BATCH) {
      const chunk = changes.slice(start, start + BRAZE_MAX_BATCH);
      const objects = chunk.map(({ id, state }) => ({
        braze_id: id,
        _update_existing_only: true,
        subscription_groups: [{ subscription_group_id: groupId, subscription_state: state }],
      }));
      const refused = await this.#track(objects, "POST /users/track (subscription group)");
      chunk.forEach(({ key, id, state }, i) => {
        const type = refused.get(i);
        outcomes.push(type === undefined ? { key, status: state === "subscribed" ? "added" : "removed", recordId: id } : this.#refusal(key, type));
      });
    }
    return outcomes;
  }
}

function duplicate(key: string, ids: string[]): FailedOutcome {
  return { key, status: "failed", code: "DUPLICATE_USERS", message: `${ids.length} Braze users match ${key} (${ids.join(", ")}): never changed by guessing` };
}

/** A `Link` target (absolute, or relative to the endpoint) as a path with its query. */
function pathOf(link: string, endpoint: string): string {
  const url = new URL(link, `${endpoint}/`);
  return `${url.pathname}${url.search}`;
}
