// The query resource: runs the SOQL subset against the store and pages with nextRecordsUrl cursors.
import { sfError, json, type Reply } from "./http.ts";
import { makeId, normalizeId } from "./ids.ts";
import { matches, parseSoql, SoqlError } from "./soql.ts";
import type { Store } from "./store.ts";

const DEFAULT_BATCH = 2000;
const MAX_CURSORS = 200;

interface Cursor {
  records: Record<string, unknown>[];
}

export class Queries {
  private readonly store: Store;
  private cursors = new Map<string, Cursor>();
  private counter = 0;

  constructor(store: Store) {
    this.store = store;
  }

  /** `batchSize` comes from the Sforce-Query-Options header (200..2000), as in Salesforce. */
  run(soql: string, version: string, queryOptions: string | undefined): Reply {
    let parsed;
    try {
      parsed = parseSoql(soql);
    } catch (e) {
      if (e instanceof SoqlError) return sfError(400, "MALFORMED_QUERY", e.message);
      throw e;
    }
    const o = this.store.sobject(parsed.sobject);
    if (!o) return sfError(400, "INVALID_TYPE", `sObject type '${parsed.sobject}' is not supported.`);
    const resolve = (name: string) => o.byLower.get(name.toLowerCase())?.name;
    const unknown = [...parsed.fields, ...parsed.where.map((w) => w.field)].find((f) => !resolve(f));
    if (unknown) return sfError(400, "INVALID_FIELD", `No such column '${unknown}' on entity '${o.name}'.`);
    const fields = parsed.fields.map((f) => resolve(f) ?? f);
    const where = parsed.where.map((w) => {
      const f = o.byLower.get(w.field.toLowerCase());
      // Ids compare in their 18-char form, so 15-char literals match too.
      const isId = f?.type === "id" || f?.type === "reference";
      return { field: f?.name ?? w.field, values: w.values.map((v) => (isId && typeof v === "string" ? (normalizeId(v) ?? v) : v)) };
    });
    let rows = this.store
      .table(o)
      .all()
      .filter((r) => where.every((w) => matches(r[w.field], w.values)));
    if (parsed.limit !== undefined) rows = rows.slice(0, parsed.limit);
    const records = rows.map((r) => {
      const out: Record<string, unknown> = { attributes: { type: o.name, url: `/services/data/${version}/sobjects/${o.name}/${r.Id}` } };
      for (const f of fields) out[f] = r[f] ?? null;
      return out;
    });
    const m = /batchSize=(\d+)/i.exec(queryOptions ?? "");
    const batch = Math.min(DEFAULT_BATCH, Math.max(200, m?.[1] ? Number(m[1]) : DEFAULT_BATCH));
    this.counter += 1;
    const cursorId = makeId("01g", this.counter);
    if (records.length > batch) {
      this.cursors.set(cursorId, { records });
      // Old cursors expire, as Salesforce's do after inactivity.
      if (this.cursors.size > MAX_CURSORS) this.cursors.delete(this.cursors.keys().next().value ?? "");
    }
    return this.page(cursorId, records, 0, batch, version);
  }

  more(locator: string, version: string): Reply {
    const m = /^([A-Za-z0-9]{18})-(\d+)(?:-(\d+))?$/.exec(locator);
    const cursor = m?.[1] === undefined ? undefined : this.cursors.get(m[1]);
    if (!m?.[1] || !cursor) return sfError(400, "INVALID_QUERY_LOCATOR", "invalid query locator");
    return this.page(m[1], cursor.records, Number(m[2]), Number(m[3] ?? DEFAULT_BATCH), version);
  }

  private page(cursorId: string, records: Record<string, unknown>[], offset: number, batch: number, version: string): Reply {
    const slice = records.slice(offset, offset + batch);
    const next = offset + batch;
    const done = next >= records.length;
    if (done) this.cursors.delete(cursorId);
    const body: Record<string, unknown> = { totalSize: records.length, done, records: slice };
    // The locator carries the batch size so later pages keep the first page's size.
    if (!done) body.nextRecordsUrl = `/services/data/${version}/query/${cursorId}-${next}${batch === DEFAULT_BATCH ? "" : `-${batch}`}`;
    return json(200, body, { records: slice.length });
  }

  clear(): void {
    this.cursors.clear();
    this.counter = 0;
  }
}
