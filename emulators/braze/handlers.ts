// Endpoint handlers of the Braze emulator. Each takes the parsed JSON body and returns a Reply; the server adds auth,
// limits, faults and the call log around them.
//
// Verified against Braze's public docs (braze.com/docs/api, braze-inc/braze-docs): /users/track takes `attributes`,
// `events`, `purchases`, 75 objects each per request (the reference's "75 in total" for newer workspaces is kept as an
// option); a user is addressed by external_id, user_alias, braze_id or email; `_update_existing_only` defaults to
// true for user_alias; null removes an attribute; several users may share an email (the most recently updated one
// with an external_id is updated, else the most recently updated); subscription_groups inside an attribute object;
// a 201 `{message: "success", attributes_processed}` with `errors: [{type, input_array, index}]` for refused objects;
// a request whose every object is refused is a 400 "Valid data must be provided in the 'attributes', 'events', or
// 'purchases' fields." with the same errors. /users/delete takes up to 50 external_ids, user_aliases or braze_ids
// (one kind per request) and answers `{deleted}`. /users/export/ids takes up to 50 external_ids or user_aliases, or
// one email_address, and answers `{message, users, invalid_user_ids}`. GET /custom_attributes pages by 50 in
// alphabetical order with a `Link` header and a `cursor` parameter (`c2tpcDow` is base64 of `skip:0`).
//
// [unverified]: the exact wording of every error `type` and fatal message below other than the one quoted above, the
// 400 for more than 75 objects (docs only state the limit), the status codes of /users/delete and /users/export/ids
// (201 here), that an object for a missing user under `_update_existing_only` is dropped without an error, how a
// value of the wrong type for a declared attribute is answered (a per-object error here), and the `Link` header's
// exact syntax. Refusing unknown custom attributes is an emulator setting (Braze creates them on first write unless
// the workspace blocks it) to exercise the syncer's drift check.
import { z } from "zod";
import type { FaultInjector } from "../hubspot/faults.ts";
import { type AttributeValue, type BrazeAlias, type BrazeAttributeType, type BrazeUser, type UserStore } from "./store.ts";

export interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface HandlerContext {
  store: UserStore;
  faults: FaultInjector;
  /** Custom attributes Braze does not list yet: created on first write (Braze's default) or refused per object. */
  unknownAttributes: "create" | "refuse";
  /** Subscription groups of the workspace; undefined: any id is accepted. */
  subscriptionGroups: Set<string> | undefined;
  /** Objects per request: per array (75 each, Braze's documented batch) or in total across the three arrays. */
  batchLimit: { max: number; per: "array" | "total" };
  /** Custom attributes per GET /custom_attributes page (Braze: 50). */
  pageSize: number;
}

export const MAX_IDS = 50;
export const ALL_INVALID = "Valid data must be provided in the 'attributes', 'events', or 'purchases' fields.";

const PROFILE_FIELDS = new Set(["first_name", "last_name", "phone", "country", "home_city", "language", "gender", "dob", "time_zone", "email_subscribe", "push_subscribe"]);
const RESERVED = new Set(["external_id", "user_alias", "braze_id", "email", "_update_existing_only", "subscription_groups", "push_token_import"]);

function fatal(status: number, message: string, errors?: unknown[]): Reply {
  return { status, body: errors ? { message, errors } : { message } };
}

const aliasSchema = z.object({ alias_name: z.string().min(1), alias_label: z.string().min(1) });
const trackBody = z.looseObject({
  attributes: z.array(z.unknown()).optional(),
  events: z.array(z.unknown()).optional(),
  purchases: z.array(z.unknown()).optional(),
});

interface TrackError {
  type: string;
  input_array: "attributes" | "events" | "purchases";
  index: number;
}

function typeOf(value: unknown): BrazeAttributeType | undefined {
  if (typeof value === "string") return "String";
  if (typeof value === "number") return Number.isFinite(value) ? "Number" : undefined;
  if (typeof value === "boolean") return "Boolean";
  if (Array.isArray(value) && value.every((v) => typeof v === "string" || typeof v === "number" || typeof v === "boolean")) return "Array";
  return undefined;
}

/** Whether `value` may be stored in an attribute of `type` (Time: a string Date.parse reads). */
function fits(type: BrazeAttributeType, value: unknown): boolean {
  if (type === "Time") return typeof value === "string" && Number.isFinite(Date.parse(value));
  return typeOf(value) === type;
}

type Target = { user: BrazeUser | undefined; create?: Partial<BrazeUser>; problem?: string };

/** The user an attribute object addresses, or what to create, per Braze's identifier rules. */
function resolve(store: UserStore, object: Record<string, unknown>): Target {
  const explicit = object._update_existing_only;
  if (explicit !== undefined && typeof explicit !== "boolean") return { user: undefined, problem: "'_update_existing_only' is not valid" };
  if (object.external_id !== undefined) {
    if (typeof object.external_id !== "string" || object.external_id === "") return { user: undefined, problem: "'external_id' is not valid" };
    const user = store.byExternalId(object.external_id);
    return user || explicit === true ? { user } : { user, create: { external_id: object.external_id } };
  }
  if (object.user_alias !== undefined) {
    const alias = aliasSchema.safeParse(object.user_alias);
    if (!alias.success) return { user: undefined, problem: "'user_alias' is not valid" };
    const user = store.byAlias(alias.data);
    // Update-only is the default for an alias: only an explicit false creates an alias-only user.
    return user || explicit !== false ? { user } : { user, create: { user_aliases: [alias.data as BrazeAlias] } };
  }
  if (object.braze_id !== undefined) {
    if (typeof object.braze_id !== "string") return { user: undefined, problem: "'braze_id' is not valid" };
    return { user: store.byBrazeId(object.braze_id) };
  }
  if (object.email !== undefined) {
    if (typeof object.email !== "string" || !object.email.includes("@")) return { user: undefined, problem: "'email' is not a valid email address" };
    const users = store.byEmail(object.email).sort((a, b) => Number(Boolean(b.external_id)) - Number(Boolean(a.external_id)) || b.updated_at.localeCompare(a.updated_at));
    return users[0] || explicit === true ? { user: users[0] } : { user: undefined, create: { email: object.email } };
  }
  return { user: undefined, problem: "an attributes object needs one of external_id, user_alias, braze_id or email" };
}

/** Email is an attribute when another identifier addresses the user; otherwise it is the identifier. */
function emailIsAttribute(object: Record<string, unknown>): boolean {
  return object.external_id !== undefined || object.user_alias !== undefined || object.braze_id !== undefined;
}

/** Validates an attribute object's values; the first problem found, as Braze's error `type`. */
function validate(ctx: HandlerContext, object: Record<string, unknown>): string | undefined {
  for (const [name, value] of Object.entries(object)) {
    if (name === "email" && emailIsAttribute(object)) {
      if (value !== null && (typeof value !== "string" || !value.includes("@"))) return "'email' is not a valid email address";
      continue;
    }
    if (name === "subscription_groups") {
      const groups = z.array(z.object({ subscription_group_id: z.string().min(1), subscription_state: z.enum(["subscribed", "unsubscribed"]) })).safeParse(value);
      if (!groups.success) return "'subscription_groups' is not valid";
      const unknown = groups.data.find((g) => ctx.subscriptionGroups && !ctx.subscriptionGroups.has(g.subscription_group_id));
      if (unknown) return `subscription group ${unknown.subscription_group_id} does not exist`;
      continue;
    }
    if (RESERVED.has(name) || value === null) continue;
    if (PROFILE_FIELDS.has(name)) {
      if (typeof value !== "string") return `'${name}' is not valid`;
      continue;
    }
    const declared = ctx.store.attributes.get(name);
    if (!declared) {
      if (ctx.unknownAttributes === "refuse") return `'${name}' is not a known custom attribute`;
      if (!typeOf(value)) return `'${name}' is not valid`;
      continue;
    }
    if (declared.status === "Blocklisted") continue;
    if (!fits(declared.type, value)) return `'${name}' is not valid: custom attribute ${name} is a ${declared.type}`;
  }
  return undefined;
}

function apply(ctx: HandlerContext, user: BrazeUser, object: Record<string, unknown>): void {
  for (const [name, value] of Object.entries(object)) {
    if (name === "email" && emailIsAttribute(object)) {
      if (value === null) delete user.email;
      else user.email = value as string;
    } else if (name === "subscription_groups") {
      for (const g of value as { subscription_group_id: string; subscription_state: "subscribed" | "unsubscribed" }[]) user.subscription_groups[g.subscription_group_id] = g.subscription_state;
    } else if (RESERVED.has(name)) {
      continue;
    } else if (PROFILE_FIELDS.has(name)) {
      if (value === null) delete user.profile[name];
      else user.profile[name] = value as string;
    } else {
      const declared = ctx.store.attributes.get(name);
      if (declared?.status === "Blocklisted") continue;
      if (value === null) {
        delete user.custom_attributes[name];
        continue;
      }
      if (!declared) ctx.store.attributes.set(name, { name, type: typeOf(value)!, status: "Active" });
      user.custom_attributes[name] = value as AttributeValue;
    }
  }
  ctx.store.touch(user);
}

export function track(ctx: HandlerContext, body: unknown): Reply {
  const parsed = trackBody.safeParse(body);
  if (!parsed.success) return fatal(400, "Invalid request: attributes, events and purchases must be arrays");
  const { attributes = [], events = [], purchases = [] } = parsed.data;
  const counts = [attributes.length, events.length, purchases.length];
  const { max, per } = ctx.batchLimit;
  const over = per === "total" ? counts.reduce((a, b) => a + b, 0) > max : counts.some((n) => n > max);
  if (over) return fatal(400, `Too many objects in one request: at most ${max} ${per === "total" ? "attributes, events and purchases in total" : "per array"}`);
  if (counts.every((n) => n === 0)) return fatal(400, ALL_INVALID);

  const errors: TrackError[] = [];
  let processed = 0;
  attributes.forEach((raw, index) => {
    if (!raw || typeof raw !== "object" || Array.isArray(raw)) {
      errors.push({ type: "attributes object is not valid", input_array: "attributes", index });
      return;
    }
    const object = raw as Record<string, unknown>;
    const target = resolve(ctx.store, object);
    const problem = target.problem ?? validate(ctx, object);
    if (problem) {
      errors.push({ type: problem, input_array: "attributes", index });
      return;
    }
    if (ctx.faults.rejectRecord()) {
      errors.push({ type: "Injected rejection", input_array: "attributes", index });
      return;
    }
    const user = target.user ?? (target.create ? ctx.store.create(target.create) : undefined);
    // Update-only for a user that does not exist: nothing to do (and, as far as documented, no error).
    if (!user) return;
    apply(ctx, user, object);
    processed += 1;
  });
  // Events and purchases are accepted and counted only: the syncer writes attributes.
  const refused = errors.length;
  if (refused > 0 && refused === attributes.length && events.length + purchases.length === 0) return fatal(400, ALL_INVALID, errors);
  const reply: Record<string, unknown> = { message: "success" };
  if (attributes.length > 0) reply.attributes_processed = processed;
  if (events.length > 0) reply.events_processed = events.length;
  if (purchases.length > 0) reply.purchases_processed = purchases.length;
  if (errors.length > 0) reply.errors = errors;
  return { status: 201, body: reply };
}

const deleteBody = z.looseObject({
  external_ids: z.array(z.string()).optional(),
  user_aliases: z.array(aliasSchema).optional(),
  braze_ids: z.array(z.string()).optional(),
});

export function deleteUsers(ctx: HandlerContext, body: unknown): Reply {
  const parsed = deleteBody.safeParse(body);
  if (!parsed.success) return fatal(400, "Invalid request: external_ids, user_aliases or braze_ids must be arrays");
  const { external_ids, user_aliases, braze_ids } = parsed.data;
  const kinds = [external_ids, user_aliases, braze_ids].filter((k) => k !== undefined);
  if (kinds.length !== 1) return fatal(400, "Exactly one of external_ids, user_aliases or braze_ids must be given");
  if (kinds[0]!.length > MAX_IDS) return fatal(400, `At most ${MAX_IDS} identifiers may be deleted per request`);
  const users = external_ids
    ? external_ids.map((id) => ctx.store.byExternalId(id))
    : user_aliases
      ? user_aliases.map((a) => ctx.store.byAlias(a))
      : braze_ids!.map((id) => ctx.store.byBrazeId(id));
  let deleted = 0;
  for (const user of users) if (user && ctx.store.delete(user.braze_id)) deleted += 1;
  return { status: 201, body: { message: "success", deleted } };
}

const exportBody = z.looseObject({
  external_ids: z.array(z.string()).optional(),
  user_aliases: z.array(aliasSchema).optional(),
  email_address: z.string().optional(),
  braze_id: z.string().optional(),
  fields_to_export: z.array(z.string()).optional(),
});

function exported(user: BrazeUser, fields: string[] | undefined): Record<string, unknown> {
  const all: Record<string, unknown> = {
    braze_id: user.braze_id,
    ...(user.external_id === undefined ? {} : { external_id: user.external_id }),
    ...(user.email === undefined ? {} : { email: user.email }),
    ...(user.user_aliases.length > 0 ? { user_aliases: user.user_aliases.map((a) => ({ ...a })) } : {}),
    ...user.profile,
    ...(Object.keys(user.custom_attributes).length > 0 ? { custom_attributes: structuredClone(user.custom_attributes) } : {}),
    created_at: user.created_at,
  };
  // Braze leaves out what is unset ("assume null, false or empty"), and what was not asked for.
  return fields ? Object.fromEntries(Object.entries(all).filter(([k]) => fields.includes(k))) : all;
}

export function exportIds(ctx: HandlerContext, body: unknown): Reply {
  const parsed = exportBody.safeParse(body);
  if (!parsed.success) return fatal(400, "Invalid request: check external_ids, user_aliases, email_address and fields_to_export");
  const { external_ids = [], user_aliases = [], email_address, braze_id, fields_to_export } = parsed.data;
  if (external_ids.length > MAX_IDS || user_aliases.length > MAX_IDS) return fatal(400, `At most ${MAX_IDS} external_ids or user_aliases may be exported per request`);
  const users = new Map<string, BrazeUser>();
  const invalid: string[] = [];
  for (const id of external_ids) {
    const user = ctx.store.byExternalId(id);
    if (user) users.set(user.braze_id, user);
    else invalid.push(id);
  }
  for (const alias of user_aliases) {
    const user = ctx.store.byAlias(alias);
    if (user) users.set(user.braze_id, user);
    else invalid.push(alias.alias_name);
  }
  if (email_address !== undefined) {
    const found = ctx.store.byEmail(email_address);
    for (const user of found) users.set(user.braze_id, user);
    if (found.length === 0) invalid.push(email_address);
  }
  if (braze_id !== undefined) {
    const user = ctx.store.byBrazeId(braze_id);
    if (user) users.set(user.braze_id, user);
    else invalid.push(braze_id);
  }
  const reply: Record<string, unknown> = { message: "success", users: [...users.values()].map((u) => exported(u, fields_to_export)) };
  if (invalid.length > 0) reply.invalid_user_ids = invalid;
  return { status: 201, body: reply };
}

const SKIP = /^skip:(\d+)$/;

export function customAttributes(ctx: HandlerContext, query: URLSearchParams): Reply {
  const cursor = query.get("cursor");
  let skip = 0;
  if (cursor !== null) {
    const m = SKIP.exec(Buffer.from(cursor, "base64").toString("utf8"));
    if (!m) return fatal(400, "Invalid cursor");
    skip = Number(m[1]);
  }
  const sorted = [...ctx.store.attributes.values()].sort((a, b) => a.name.localeCompare(b.name));
  const page = sorted.slice(skip, skip + ctx.pageSize);
  const link = (n: number): string => `</custom_attributes/?cursor=${Buffer.from(`skip:${n}`).toString("base64")}>`;
  const links: string[] = [];
  if (skip > 0) links.push(`${link(Math.max(0, skip - ctx.pageSize))}; rel="prev"`);
  if (skip + ctx.pageSize < sorted.length) links.push(`${link(skip + ctx.pageSize)}; rel="next"`);
  return {
    status: 200,
    body: {
      message: "success",
      attributes: page.map((a) => ({ array_length: a.type === "Array" ? 25 : null, data_type: a.type, description: null, name: a.name, status: a.status ?? "Active", tag_names: [] })),
    },
    ...(links.length > 0 ? { headers: { Link: links.join(",") } } : {}),
  };
}
