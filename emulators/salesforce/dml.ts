// Record-level writes (upsert, create, update, delete) returning Salesforce SaveResults; callers add batching.
import { matchText, type FieldDef, type SObjectDef } from "./describe.ts";
import type { Faults } from "./faults.ts";
import { API_USER_ID, normalizeId } from "./ids.ts";
import type { Clock, Table } from "./store.ts";
import type { SalesforceRecord, SaveError, SaveResult } from "./types.ts";
import { coerce, missingRequired, resolveFields, type ValueSource } from "./validate.ts";

export interface DmlContext {
  table: Table;
  faults: Faults;
  clock: Clock;
}

function fail(errors: SaveError[], id: string | null = null): SaveResult {
  return { id, success: false, errors };
}

/** Salesforce's DUPLICATE_EXTERNAL_ID: the key matches several records, so nothing is written. */
export function duplicateExternalId(ext: FieldDef, ids: string[]): SaveError {
  return {
    statusCode: "DUPLICATE_EXTERNAL_ID",
    message: `${ext.label}: more than one record found for external id field: [${ids.join(", ")}]`,
    fields: [ext.name],
  };
}

function uniqueViolation(ctx: DmlContext, values: Map<FieldDef, unknown>, selfId: string | undefined): SaveError | undefined {
  for (const [f, v] of values) {
    if (!f.unique || v === null) continue;
    const other = ctx.table.find(f.name, v).find((id) => id !== selfId);
    if (other) return { statusCode: "DUPLICATE_VALUE", message: `duplicate value found: ${f.name} duplicates value on record with id: ${other}`, fields: [f.name] };
  }
  return undefined;
}

function create(ctx: DmlContext, values: Map<FieldDef, unknown>, extra: Record<string, unknown> = {}): string {
  const now = ctx.clock.stamp();
  const record: SalesforceRecord = {
    Id: ctx.table.nextId(),
    IsDeleted: false,
    CreatedDate: now,
    CreatedById: API_USER_ID,
    LastModifiedDate: now,
    LastModifiedById: API_USER_ID,
    SystemModstamp: now,
  };
  for (const f of ctx.table.def.fields) if (f.type === "boolean" && !(f.name in record)) record[f.name] = false;
  Object.assign(record, extra);
  for (const [f, v] of values) record[f.name] = v;
  ctx.table.put(record);
  return record.Id;
}

function update(ctx: DmlContext, existing: SalesforceRecord, values: Map<FieldDef, unknown>): void {
  const now = ctx.clock.stamp();
  const next: SalesforceRecord = { ...existing, LastModifiedDate: now, LastModifiedById: API_USER_ID, SystemModstamp: now };
  for (const [f, v] of values) next[f.name] = v;
  ctx.table.put(next);
}

/**
 * Upserts one record matched on `ext` (an external-id field or Id). Callers reject in-request duplicate
 * keys beforehand; several existing matches give DUPLICATE_EXTERNAL_ID and write nothing.
 */
export function upsertOne(ctx: DmlContext, ext: FieldDef, key: unknown, input: Record<string, unknown>, source: ValueSource): SaveResult {
  const o = ctx.table.def;
  const keyValue = source === "csv" && key === "#N/A" ? "" : key;
  const matches = keyValue === undefined || keyValue === null || keyValue === "" ? undefined : ctx.table.find(ext.name, ext.name === "Id" ? normalizeId(String(keyValue)) : keyValue);
  const injected = ctx.faults.record(matches?.[0]);
  if (!matches) return fail([{ statusCode: "MISSING_ARGUMENT", message: `${ext.name} not specified`, fields: [ext.name] }]);
  if (matches.length > 1) return fail([duplicateExternalId(ext, matches)]);
  const existing = matches[0] === undefined ? undefined : ctx.table.get(matches[0]);
  if (ext.name === "Id" && !existing) {
    return fail([{ statusCode: "NOT_FOUND", message: `Provided external ID field does not exist or is not accessible: ${String(keyValue)}`, fields: [] }]);
  }
  const mode = existing ? "update" : "create";
  const { values, errors, present } = resolveFields(o, input, source, mode, [ext.name]);
  let extValue: unknown = keyValue;
  if (!existing) {
    const c = coerce(ext, keyValue);
    if ("error" in c) errors.push(c.error);
    else extValue = c.value;
    const missing = missingRequired(o, [...present, ext.name]);
    if (missing) errors.push(missing);
  }
  const dup = errors.length === 0 ? uniqueViolation(ctx, values, existing?.Id) : undefined;
  if (dup) errors.push(dup);
  if (errors.length > 0) return fail(errors);
  if (injected) return fail([injected]);
  if (existing) {
    update(ctx, existing, values);
    return { id: existing.Id, success: true, errors: [], created: false };
  }
  return { id: create(ctx, values, { [ext.name]: extValue }), success: true, errors: [], created: true };
}

export function createOne(ctx: DmlContext, input: Record<string, unknown>, source: ValueSource): SaveResult {
  const o = ctx.table.def;
  const injected = ctx.faults.record(undefined);
  const { values, errors, present } = resolveFields(o, input, source, "create");
  const missing = missingRequired(o, present);
  if (missing) errors.push(missing);
  const dup = errors.length === 0 ? uniqueViolation(ctx, values, undefined) : undefined;
  if (dup) errors.push(dup);
  if (errors.length > 0) return fail(errors);
  if (injected) return fail([injected]);
  return { id: create(ctx, values), success: true, errors: [] };
}

function lookupById(ctx: DmlContext, rawId: unknown): { record: SalesforceRecord } | { error: SaveError } {
  const id = typeof rawId === "string" && rawId !== "#N/A" ? normalizeId(rawId) : undefined;
  if (rawId === undefined || rawId === null || rawId === "" || rawId === "#N/A") return { error: { statusCode: "MISSING_ARGUMENT", message: "Id not specified in an update call", fields: [] } };
  if (!id) return { error: { statusCode: "MALFORMED_ID", message: `Record ID: id value of incorrect type: ${String(rawId)}`, fields: ["Id"] } };
  const record = ctx.table.get(id);
  if (!record) return { error: { statusCode: "ENTITY_IS_DELETED", message: "entity is deleted", fields: [] } };
  return { record };
}

export function updateOne(ctx: DmlContext, rawId: unknown, input: Record<string, unknown>, source: ValueSource): SaveResult {
  const found = lookupById(ctx, rawId);
  const injected = ctx.faults.record("record" in found ? found.record.Id : undefined);
  if ("error" in found) return fail([found.error]);
  const { values, errors } = resolveFields(ctx.table.def, input, source, "update", ["Id"]);
  const dup = errors.length === 0 ? uniqueViolation(ctx, values, found.record.Id) : undefined;
  if (dup) errors.push(dup);
  if (errors.length > 0) return fail(errors);
  if (injected) return fail([injected]);
  update(ctx, found.record, values);
  return { id: found.record.Id, success: true, errors: [] };
}

export function deleteOne(ctx: DmlContext, rawId: unknown): SaveResult {
  const found = lookupById(ctx, rawId);
  const injected = ctx.faults.record("record" in found ? found.record.Id : undefined);
  if ("error" in found) return fail([found.error]);
  if (injected) return fail([injected]);
  ctx.table.remove(found.record.Id);
  return { id: found.record.Id, success: true, errors: [] };
}

/** Indexes of records whose key appears more than once in the same request (compared as the key field matches). */
export function duplicateKeyPositions(ext: FieldDef | undefined, keys: unknown[]): Set<number> {
  const seen = new Map<string, number[]>();
  keys.forEach((k, i) => {
    if (k === undefined || k === null || k === "" || k === "#N/A") return;
    const norm = ext ? matchText(ext, k) : String(k);
    seen.set(norm, [...(seen.get(norm) ?? []), i]);
  });
  return new Set([...seen.values()].filter((is) => is.length > 1).flat());
}

export function duplicateKeyError(ext: FieldDef, key: unknown): SaveError {
  return { statusCode: "DUPLICATE_VALUE", message: `Duplicate external id specified: ${String(key)}`, fields: [ext.name] };
}

export const ROLLED_BACK: SaveError = {
  statusCode: "ALL_OR_NONE_OPERATION_ROLLED_BACK",
  message: "Record rolled back because not all records were valid and the request was using AllOrNone header",
  fields: [],
};

/**
 * Runs one write per item inside a transaction over `tables`: with allOrNone, any failure undoes every
 * write and the records that did succeed report ALL_OR_NONE_OPERATION_ROLLED_BACK.
 */
export function runBatch<T>(tables: Table[], items: T[], allOrNone: boolean, write: (item: T, index: number) => SaveResult): SaveResult[] {
  tables.forEach((t) => t.begin());
  let results: SaveResult[];
  try {
    results = items.map(write);
  } catch (e) {
    tables.forEach((t) => t.rollback());
    throw e;
  }
  if (allOrNone && results.some((r) => !r.success)) {
    tables.forEach((t) => t.rollback());
    return results.map((r) => (r.success ? { id: null, success: false, errors: [ROLLED_BACK] } : r));
  }
  tables.forEach((t) => t.commit());
  return results;
}

export function extField(o: SObjectDef, name: string): FieldDef | undefined {
  const f = o.byLower.get(name.toLowerCase());
  return f && (f.externalId || f.name === "Id") ? f : undefined;
}
