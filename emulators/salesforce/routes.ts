// Route table: templates double as the call log's endpoint names ("PATCH /services/data/{v}/...").
import type { IncomingHttpHeaders } from "node:http";
import { json, NOT_FOUND, type Reply } from "./http.ts";
import type { Org } from "./org.ts";

export interface RouteContext {
  org: Org;
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** Parsed JSON for "json" routes, raw bytes for "raw" routes. */
  body: unknown;
  raw: Buffer;
  baseUrl: string;
}

export interface Route {
  method: string;
  template: string;
  segments: string[];
  body: "none" | "json" | "raw";
  handle: (c: RouteContext) => Reply;
}

const D = "/services/data/{v}";

function route(method: string, template: string, body: Route["body"], handle: Route["handle"]): Route {
  return { method, template, segments: template.split("/").filter((s) => s !== ""), body, handle };
}

const p = (c: RouteContext, name: string): string => c.params[name] ?? "";

function versions(c: RouteContext): Reply {
  const current = Number(c.org.apiVersion);
  const list = [];
  for (let v = 31; v <= Math.max(current, 31); v++) list.push({ label: `v${v}.0`, url: `/services/data/v${v}.0`, version: `${v}.0` });
  return json(200, list);
}

function limits(c: RouteContext): Reply {
  const l = c.org.limits;
  return json(200, {
    DailyApiRequests: { Max: l.dailyMax, Remaining: Math.max(0, l.dailyMax - l.used) },
    DailyBulkV2QueryJobs: { Max: 10000, Remaining: 10000 },
    DailyBulkApiBatches: { Max: 15000, Remaining: 15000 },
  });
}

function resources(c: RouteContext): Reply {
  const base = `/services/data/${p(c, "v")}`;
  return json(200, { sobjects: `${base}/sobjects`, query: `${base}/query`, limits: `${base}/limits`, composite: `${base}/composite`, jobs: `${base}/jobs` });
}

const query = (c: RouteContext) => {
  const q = c.query.get("q");
  if (q === null) return NOT_FOUND();
  const opts = c.headers["sforce-query-options"];
  return c.org.queries.run(q, p(c, "v"), Array.isArray(opts) ? opts[0] : opts);
};
const more = (c: RouteContext) => c.org.queries.more(p(c, "locator"), p(c, "v"));
const ims = (c: RouteContext) => c.headers["if-modified-since"];

export const ROUTES: Route[] = [
  route("GET", "/services/data", "none", versions),
  route("GET", D, "none", resources),
  route("GET", `${D}/limits`, "none", limits),
  route("GET", `${D}/sobjects`, "none", (c) => c.org.rest.describeGlobal(p(c, "v"))),
  route("GET", `${D}/sobjects/{sobject}/describe`, "none", (c) => c.org.rest.describe(p(c, "sobject"), p(c, "v"), ims(c))),
  route("GET", `${D}/sobjects/{sobject}/{id}`, "none", (c) => c.org.rest.retrieve(p(c, "sobject"), p(c, "id"), c.query.get("fields"), p(c, "v"))),
  route("PATCH", `${D}/sobjects/{sobject}/{field}/{value}`, "json", (c) => c.org.rest.upsertSingle(p(c, "sobject"), p(c, "field"), p(c, "value"), c.body, p(c, "v"))),
  route("PATCH", `${D}/composite/sobjects/{sobject}/{field}`, "json", (c) => c.org.rest.upsertCollection(p(c, "sobject"), p(c, "field"), c.body)),
  route("POST", `${D}/composite/sobjects`, "json", (c) => c.org.rest.createCollection(c.body)),
  route("PATCH", `${D}/composite/sobjects`, "json", (c) => c.org.rest.updateCollection(c.body)),
  route("DELETE", `${D}/composite/sobjects`, "none", (c) => c.org.rest.deleteCollection(c.query.get("ids"), c.query.get("allOrNone"))),
  route("GET", `${D}/query`, "none", query),
  route("GET", `${D}/query/{locator}`, "none", more),
  route("GET", `${D}/queryAll`, "none", query),
  route("GET", `${D}/queryAll/{locator}`, "none", more),
  route("POST", `${D}/jobs/ingest`, "json", (c) => c.org.bulk.create(c.body, p(c, "v"))),
  route("GET", `${D}/jobs/ingest`, "none", (c) => c.org.bulk.list(p(c, "v"))),
  route("GET", `${D}/jobs/ingest/{id}`, "none", (c) => c.org.bulk.get(p(c, "id"), p(c, "v"))),
  route("PATCH", `${D}/jobs/ingest/{id}`, "json", (c) => c.org.bulk.patch(p(c, "id"), c.body, p(c, "v"))),
  route("DELETE", `${D}/jobs/ingest/{id}`, "none", (c) => c.org.bulk.delete(p(c, "id"))),
  route("PUT", `${D}/jobs/ingest/{id}/batches`, "raw", (c) => c.org.bulk.upload(p(c, "id"), c.raw)),
  route("GET", `${D}/jobs/ingest/{id}/successfulResults`, "none", (c) => c.org.bulk.results(p(c, "id"), "successfulResults")),
  route("GET", `${D}/jobs/ingest/{id}/failedResults`, "none", (c) => c.org.bulk.results(p(c, "id"), "failedResults")),
  route("GET", `${D}/jobs/ingest/{id}/unprocessedrecords`, "none", (c) => c.org.bulk.results(p(c, "id"), "unprocessedrecords")),
];

export interface Match {
  route: Route;
  params: Record<string, string>;
}

/** First route whose template matches (fixed routes are listed before placeholders); `methodMismatch` -> 405. */
export function matchRoute(method: string, pathname: string): Match | { methodMismatch: true } | undefined {
  const parts = pathname.split("/").filter((s) => s !== "");
  let pathMatched = false;
  for (const r of ROUTES) {
    if (r.segments.length !== parts.length) continue;
    const params: Record<string, string> = {};
    const ok = r.segments.every((seg, i) => {
      const part = parts[i] ?? "";
      if (!seg.startsWith("{")) return seg === part;
      let value: string;
      try {
        value = decodeURIComponent(part);
      } catch {
        return false;
      }
      if (seg === "{v}" && !/^v\d+\.\d+$/.test(value)) return false;
      params[seg.slice(1, -1)] = value;
      return true;
    });
    if (!ok) continue;
    pathMatched = true;
    if (r.method === method) return { route: r, params };
  }
  return pathMatched ? { methodMismatch: true } : undefined;
}
