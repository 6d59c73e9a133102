// REST data resources: describe, retrieve, single-record upsert and sObject Collections writes.
import { z } from "zod";
import { describeGlobalEntry, describeSObject, type FieldDef, type SObjectDef } from "./describe.ts";
import { createOne, deleteOne, duplicateKeyError, duplicateKeyPositions, extField, runBatch, updateOne, upsertOne, type DmlContext } from "./dml.ts";
import type { Faults } from "./faults.ts";
import { json, NOT_FOUND, sfError, type Reply } from "./http.ts";
import { normalizeId } from "./ids.ts";
import type { Clock, Store, Table } from "./store.ts";
import type { SaveResult } from "./types.ts";

export const MAX_COLLECTION = 200;

const CollectionBody = z.object({
  allOrNone: z.boolean().optional(),
  records: z.array(z.record(z.string(), z.unknown())),
});

export interface RestDeps {
  store: Store;
  faults: Faults;
  clock: Clock;
  /** Answer describes with Last-Modified and honour If-Modified-Since (not confirmed by Salesforce's docs). */
  describeLastModified: boolean;
}

/** Values keyed case-insensitively, as Salesforce reads JSON field names. */
function pick(record: Record<string, unknown>, name: string): unknown {
  const key = Object.keys(record).find((k) => k.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : record[key];
}

function recordType(record: Record<string, unknown>): string | undefined {
  const attrs = record.attributes;
  if (typeof attrs !== "object" || attrs === null) return undefined;
  const type = (attrs as Record<string, unknown>).type;
  return typeof type === "string" && type !== "" ? type : undefined;
}

export class Rest {
  private readonly deps: RestDeps;

  constructor(deps: RestDeps) {
    this.deps = deps;
  }

  private ctx(table: Table): DmlContext {
    return { table, faults: this.deps.faults, clock: this.deps.clock };
  }

  private parseCollection(body: unknown): { allOrNone: boolean; records: Record<string, unknown>[] } | Reply {
    const parsed = CollectionBody.safeParse(body);
    if (!parsed.success) return sfError(400, "JSON_PARSER_ERROR", `Malformed request body: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
    if (parsed.data.records.length > MAX_COLLECTION) {
      return sfError(400, "EXCEEDED_ID_LIMIT", `record limit reached. cannot submit more than ${MAX_COLLECTION} records into this call`);
    }
    if (parsed.data.records.some((r) => recordType(r) === undefined)) {
      return sfError(400, "INVALID_INPUT", "Each record must specify its sObject type in attributes.type");
    }
    return { allOrNone: parsed.data.allOrNone ?? false, records: parsed.data.records };
  }

  describeGlobal(version: string): Reply {
    return json(200, { encoding: "UTF-8", maxBatchSize: MAX_COLLECTION, sobjects: this.deps.store.sobjects().map((o) => describeGlobalEntry(o, version)) });
  }

  /** Honours If-Modified-Since with 304, as Salesforce does for describes (second resolution). */
  describe(sobject: string, version: string, ifModifiedSince: string | undefined): Reply {
    const o = this.deps.store.sobject(sobject);
    if (!o) return NOT_FOUND();
    if (!this.deps.describeLastModified) return json(200, describeSObject(o, version));
    const since = ifModifiedSince ? Date.parse(ifModifiedSince) : NaN;
    if (!Number.isNaN(since) && o.describeModifiedMs <= since) return { status: 304 };
    return json(200, describeSObject(o, version), { headers: { "Last-Modified": new Date(o.describeModifiedMs).toUTCString() } });
  }

  retrieve(sobject: string, rawId: string, fieldsParam: string | null, version: string): Reply {
    const o = this.deps.store.sobject(sobject);
    const id = normalizeId(rawId);
    const record = o && id ? this.deps.store.table(o).get(id) : undefined;
    if (!o || !record) return NOT_FOUND();
    const names = fieldsParam ? fieldsParam.split(",").map((f) => f.trim()) : o.fields.map((f) => f.name);
    const unknown = names.find((n) => !o.byLower.has(n.toLowerCase()));
    if (unknown) return sfError(400, "INVALID_FIELD", `No such column '${unknown}' on entity '${o.name}'.`);
    const out: Record<string, unknown> = { attributes: { type: o.name, url: `/services/data/${version}/sobjects/${o.name}/${record.Id}` } };
    for (const n of names) {
      const f = o.byLower.get(n.toLowerCase());
      if (f) out[f.name] = record[f.name] ?? null;
    }
    return json(200, out);
  }

  private extOrError(o: SObjectDef, field: string): FieldDef | Reply {
    const ext = extField(o, field);
    if (ext) return ext;
    if (!o.byLower.has(field.toLowerCase())) return sfError(404, "NOT_FOUND", `Provided external ID field does not exist or is not accessible: ${field}`);
    return sfError(400, "INVALID_FIELD", `Field name provided, ${field} is not an External ID or indexed field for ${o.name}`);
  }

  /** PATCH /sobjects/{SObject}/{Field}/{value}: 201 created, 200 updated, 300 when several records match. */
  upsertSingle(sobject: string, field: string, value: string, body: unknown, version: string): Reply {
    const o = this.deps.store.sobject(sobject);
    if (!o) return NOT_FOUND();
    const ext = this.extOrError(o, field);
    if ("status" in ext) return ext;
    if (typeof body !== "object" || body === null || Array.isArray(body)) return sfError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object");
    const table = this.deps.store.table(o);
    const ids = table.find(ext.name, value);
    if (ids.length > 1) {
      return json(300, ids.map((id) => `/services/data/${version}/sobjects/${o.name}/${id}`), { records: 0 });
    }
    const input = Object.fromEntries(Object.entries(body as Record<string, unknown>).filter(([k]) => k.toLowerCase() !== ext.name.toLowerCase()));
    const [result] = runBatch([table], [input], true, (rec) => upsertOne(this.ctx(table), ext, value, rec, "json"));
    if (!result?.success) {
      return json(400, (result?.errors ?? []).map((e) => ({ message: e.message, errorCode: e.statusCode, fields: e.fields })), { records: 1 });
    }
    return json(result.created ? 201 : 200, { id: result.id, success: true, errors: [], created: result.created }, { records: 1 });
  }

  /** PATCH /composite/sobjects/{SObject}/{ExternalIdField}: up to 200 records, answered in order. */
  upsertCollection(sobject: string, field: string, body: unknown): Reply {
    const o = this.deps.store.sobject(sobject);
    if (!o) return NOT_FOUND();
    const ext = this.extOrError(o, field);
    if ("status" in ext) return ext;
    const parsed = this.parseCollection(body);
    if ("status" in parsed) return parsed;
    if (parsed.records.some((r) => recordType(r)?.toLowerCase() !== o.name.toLowerCase())) {
      return sfError(400, "INVALID_INPUT", `All records must be of type ${o.name}`);
    }
    const table = this.deps.store.table(o);
    const ctx = this.ctx(table);
    const keys = parsed.records.map((r) => pick(r, ext.name));
    const dupes = duplicateKeyPositions(ext, keys);
    const results = runBatch([table], parsed.records, parsed.allOrNone, (rec, i) => {
      if (!dupes.has(i)) return upsertOne(ctx, ext, keys[i], rec, "json");
      ctx.faults.record(undefined); // keep the fault sequence aligned with record positions
      return { id: null, success: false, errors: [duplicateKeyError(ext, keys[i])] };
    });
    return json(200, results, { records: parsed.records.length });
  }

  /** POST /composite/sobjects: creates, possibly of several types. */
  createCollection(body: unknown): Reply {
    const parsed = this.parseCollection(body);
    if ("status" in parsed) return parsed;
    const tables = this.tablesFor(parsed.records);
    if ("status" in tables) return tables;
    const results = runBatch([...new Set(tables)], parsed.records, parsed.allOrNone, (rec, i) => {
      const table = tables[i];
      if (!table) return { id: null, success: false, errors: [] };
      if (pick(rec, "Id") !== undefined) return { id: null, success: false, errors: [{ statusCode: "INVALID_FIELD_FOR_INSERT_UPDATE", message: "cannot specify Id in an insert call", fields: ["Id"] }] };
      return createOne(this.ctx(table), rec, "json");
    });
    return json(200, results, { records: parsed.records.length });
  }

  /** PATCH /composite/sobjects: updates by Id. */
  updateCollection(body: unknown): Reply {
    const parsed = this.parseCollection(body);
    if ("status" in parsed) return parsed;
    const tables = this.tablesFor(parsed.records);
    if ("status" in tables) return tables;
    const results = runBatch([...new Set(tables)], parsed.records, parsed.allOrNone, (rec, i) => {
      const table = tables[i];
      if (!table) return { id: null, success: false, errors: [] };
      return updateOne(this.ctx(table), pick(rec, "Id"), rec, "json");
    });
    return json(200, results, { records: parsed.records.length });
  }

  /** DELETE /composite/sobjects?ids=...&allOrNone=: the object is found from each id's key prefix. */
  deleteCollection(idsParam: string | null, allOrNoneParam: string | null): Reply {
    const ids = (idsParam ?? "").split(",").filter((s) => s !== "");
    if (ids.length === 0) return sfError(400, "MISSING_ARGUMENT", "ids parameter is required");
    if (ids.length > MAX_COLLECTION) return sfError(400, "EXCEEDED_ID_LIMIT", `record limit reached. cannot submit more than ${MAX_COLLECTION} records into this call`);
    const tableOf = (id: string) => {
      const o = this.deps.store.sobjects().find((s) => s.keyPrefix === id.slice(0, 3));
      return o ? this.deps.store.table(o) : undefined;
    };
    const tables = ids.map(tableOf);
    const results = runBatch([...new Set(tables.filter((t) => t !== undefined))], ids, allOrNoneParam === "true", (id, i): SaveResult => {
      const table = tables[i];
      if (!table) return { id: null, success: false, errors: [{ statusCode: "MALFORMED_ID", message: `malformed id ${id}`, fields: [] }] };
      return deleteOne(this.ctx(table), id);
    });
    return json(200, results, { records: ids.length });
  }

  private tablesFor(records: Record<string, unknown>[]): Table[] | Reply {
    const out: Table[] = [];
    for (const r of records) {
      const o = this.deps.store.sobject(recordType(r) ?? "");
      if (!o) return sfError(400, "INVALID_TYPE", `sObject type '${recordType(r) ?? ""}' is not supported.`);
      out.push(this.deps.store.table(o));
    }
    return out;
  }
}
