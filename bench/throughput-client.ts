/**
 * One client run of the throughput benchmark, in its own process (the SDK's decorators are a process-wide singleton,
 * so our client and the hand-written baselines must not share a process): N rows to the HubSpot emulator, either
 * through our engine (destination + pacer + send) or the way users write it by hand with the official SDK.
 */
import http from "node:http";
import { Client } from "@hubspot/api-client";
import * as retryModule from "@hubspot/api-client/lib/src/services/decorators/RetryDecorator.js";
import type { Contract } from "../src/contract/load.ts";
import type { DestinationRecord } from "../src/destinations/types.ts";
import { retrying } from "../src/engine/retry.ts";
import { openDestination } from "../src/pipeline/destination.ts";
import { sendRecords } from "../src/engine/send.ts";
import { runAsChild } from "./lib.ts";
import { HUBSPOT_PEOPLE, contractOn } from "../test/support/contracts.ts";

export type Variant = "ours" | "sdk-default-limiter" | "sdk-mintime-limiter" | "sdk-reservoir-limiter" | "floor" | "wire";

export interface ClientInput {
  variant: Variant;
  url: string;
  token: string;
  rows: number;
  perWindow: number;
  windowMs: number;
  /** One of `share` shards of the account (bench/shards.ts): paced at 1/share of the limit, rows from `offset`. */
  share?: number;
  offset?: number;
  /** Epoch ms to start sending at (after the mapping check): workers side by side start together. */
  startAt?: number;
}

export interface ClientResult {
  elapsedMs: number;
  written: number;
  /** Rows not written: failed at the destination, or (baseline) in a batch the SDK gave up on after its retries. */
  lost: number;
  /** Requests the client made for the writes (ours: the pacer's count; baseline: calls to upsert, retries included by the SDK). */
  clientRequests?: number;
  /** The SDK's own retry messages printed while it slept (baseline only). */
  sdkRetries?: number;
  /** CPU time the client process spent (user + system), ms: ours and the floor count their timed part alone. */
  cpuMs?: number;
  /** Of which the kernel's (system time): on loopback it includes delivering the requests to the emulator. */
  systemCpuMs?: number;
  /** When the timed part began and ended (epoch ms), so workers side by side add up to one span. */
  startedAt?: number;
  endedAt?: number;
}

function cpuSpent(cpu: NodeJS.CpuUsage): { cpuMs: number; systemCpuMs: number } {
  return { cpuMs: (cpu.user + cpu.system) / 1000, systemCpuMs: cpu.system / 1000 };
}

const contract: Contract = contractOn({ name: "people" }, HUBSPOT_PEOPLE, { name: "bench_contacts", fields: { first_name: "firstname", last_name: "lastname" } });

function record(i: number): DestinationRecord {
  return { key: `p${String(i).padStart(8, "0")}@example.com`, fields: { firstname: `First${i}`, lastname: `Last${i % 997}` } };
}

async function* people(count: number, chunk = 2000, offset = 0): AsyncIterable<DestinationRecord[]> {
  for (let start = offset; start < offset + count; start += chunk) {
    const rows: DestinationRecord[] = [];
    for (let i = start; i < Math.min(offset + count, start + chunk); i += 1) rows.push(record(i));
    yield rows;
  }
}

async function ours(input: ClientInput): Promise<ClientResult> {
  // As `sync` does: the destination comes with its pacer (the mapping check counts against the same limit), and the
  // mapping is checked once before the first write (one GET, not timed).
  const destination = openDestination(contract, { HUBSPOT_ACCESS_TOKEN: input.token, HUBSPOT_BASE_PATH: input.url }, input.share ? { share: input.share } : {});
  const problems = await retrying(() => destination.checkMapping(), {}, { requests: 0, retries: 0 });
  if (problems.length > 0) throw new Error(problems.join("; "));
  if (input.startAt !== undefined) await new Promise((resolve) => setTimeout(resolve, Math.max(0, input.startAt! - Date.now())));
  const startedAt = Date.now();
  const started = performance.now();
  // CPU from here: the send alone (the client's modules and the mapping check are start-up, not cost per record).
  const cpuBefore = process.cpuUsage();
  const summary = await sendRecords(destination, people(input.rows, 2000, input.offset ?? 0));
  const elapsedMs = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  return { elapsedMs, written: summary.created + summary.updated, lost: summary.failed + summary.notSent, clientRequests: summary.requests, startedAt, endedAt: Date.now(), ...cpuSpent(cpu) };
}

/**
 * The floor of the engine's cost per record (issue 19 item 1): the same records generated as `ours` gets them, each
 * batch's request body serialized and its response body parsed once, as HubSpot's batch upsert answers it. No
 * network, no pacing, no destination code: what any client must spend on the records themselves. The response
 * texts are built before the timed part (not counted: `cpuMs` is taken around the timed part alone).
 */
async function floor(input: ClientInput): Promise<ClientResult & { cpuMs: number }> {
  const at = "2026-11-30T00:00:00.000Z";
  const responses: string[] = [];
  for await (const chunk of people(input.rows, 2000, input.offset ?? 0)) {
    for (let i = 0; i < chunk.length; i += 100) {
      const results = chunk.slice(i, i + 100).map((r, j) => ({ id: String(1000 + i + j), properties: { email: r.key, ...r.fields }, createdAt: at, updatedAt: at, archived: false, new: true, objectWriteTraceId: r.key }));
      responses.push(JSON.stringify({ status: "COMPLETE", results, startedAt: at, completedAt: at }));
    }
  }
  const before = process.cpuUsage();
  const started = performance.now();
  let written = 0;
  let bytes = 0;
  let batch = 0;
  for await (const chunk of people(input.rows, 2000, input.offset ?? 0)) {
    for (let i = 0; i < chunk.length; i += 100) {
      const records = chunk.slice(i, i + 100);
      bytes += JSON.stringify({ inputs: records.map((r) => ({ id: r.key, idProperty: "email", properties: r.fields, objectWriteTraceId: r.key })) }).length;
      written += (JSON.parse(responses[batch++]!) as { results: unknown[] }).results.length;
    }
  }
  const elapsedMs = performance.now() - started;
  const cpu = process.cpuUsage(before);
  if (bytes === 0) throw new Error("nothing serialized");
  return { elapsedMs, written, lost: input.rows - written, ...cpuSpent(cpu) };
}

/**
 * The floor with the wire (issue 19 item 1): the floor's work plus each batch's round trip to the emulator through
 * a bare `node:http` keep-alive agent, 10 requests in flight as the engine has: no pacing, no retries, no engine, no
 * destination code. What lies between it and the floor is the HTTP client's and the kernel's share of the client
 * process (on loopback the sender's system time includes the delivery); what lies between `ours` and it is ours.
 */
async function wire(input: ClientInput): Promise<ClientResult & { cpuMs: number }> {
  const target = new URL("/crm/v3/objects/contacts/batch/upsert", input.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: 10 });
  const post = (payload: string): Promise<string> =>
    new Promise((resolve, reject) => {
      const request = http.request(
        { hostname: target.hostname, port: target.port, path: target.pathname, method: "POST", agent, headers: { "Content-Type": "application/json", Accept: "application/json", Authorization: `Bearer ${input.token}`, "Content-Length": Buffer.byteLength(payload) } },
        (response) => {
          const chunks: Buffer[] = [];
          response.on("data", (chunk: Buffer) => chunks.push(chunk));
          response.on("error", reject);
          response.on("end", () => (response.statusCode === 200 ? resolve(Buffer.concat(chunks).toString("utf8")) : reject(new Error(`status ${response.statusCode}`))));
        },
      );
      request.on("error", reject);
      request.end(payload);
    });
  const before = process.cpuUsage();
  const started = performance.now();
  let written = 0;
  const inFlight = new Set<Promise<void>>();
  for await (const chunk of people(input.rows, 2000, input.offset ?? 0)) {
    for (let i = 0; i < chunk.length; i += 100) {
      const records = chunk.slice(i, i + 100);
      const payload = JSON.stringify({ inputs: records.map((r) => ({ id: r.key, idProperty: "email", properties: r.fields, objectWriteTraceId: r.key })) });
      const sent: Promise<void> = post(payload).then((text) => {
        written += (JSON.parse(text) as { results: unknown[] }).results.length;
        inFlight.delete(sent);
      });
      inFlight.add(sent);
      if (inFlight.size >= 10) await Promise.race(inFlight);
    }
  }
  await Promise.all(inFlight);
  const elapsedMs = performance.now() - started;
  const cpu = process.cpuUsage(before);
  agent.destroy();
  return { elapsedMs, written, lost: input.rows - written, ...cpuSpent(cpu) };
}

/** The SDK's retry sleeps a fixed 10 s × attempt after a TEN_SECONDLY_ROLLING 429: time-scaled like the window. */
function scaleSdkRetry(windowMs: number, onRetry: () => void): void {
  const mod = retryModule as unknown as { default: { default?: unknown } | undefined };
  const RetryDecorator = (mod.default?.default ?? mod.default) as { prototype: { _waitAfterRequestFailure: (s: number, n: number, t: number) => Promise<unknown> } };
  RetryDecorator.prototype._waitAfterRequestFailure = (_status: number, retryNumber: number, retryTimeout: number) => {
    onRetry();
    return new Promise((resolve) => setTimeout(resolve, (retryTimeout * retryNumber * windowMs) / 10_000));
  };
}

async function baseline(input: ClientInput): Promise<ClientResult> {
  let sdkRetries = 0;
  scaleSdkRetry(input.windowMs, () => (sdkRetries += 1));
  const scale = input.windowMs / 10_000;
  // What a user writes: the SDK's documented options. The default limiter (9 requests/s, 6 concurrent) is the
  // SDK's DEFAULT_LIMITER_OPTIONS; "mintime" spaces requests at the portal's limit; "reservoir" is Bottleneck's
  // documented fixed-window recipe (refill the whole allowance every window).
  const limiterOptions =
    input.variant === "sdk-default-limiter"
      ? { minTime: (1000 / 9) * scale, maxConcurrent: 6 }
      : input.variant === "sdk-mintime-limiter"
        ? { minTime: input.windowMs / input.perWindow, maxConcurrent: 6 }
        : { reservoir: input.perWindow, reservoirRefreshAmount: input.perWindow, reservoirRefreshInterval: input.windowMs, maxConcurrent: 6 };
  const client = new Client({ accessToken: input.token, basePath: input.url, numberOfApiCallRetries: 3, limiterOptions });
  let written = 0;
  let lost = 0;
  let clientRequests = 0;
  const started = performance.now();
  for await (const chunk of people(input.rows)) {
    for (let i = 0; i < chunk.length; i += 100) {
      const batch = chunk.slice(i, i + 100);
      clientRequests += 1;
      try {
        const answer = await client.crm.contacts.batchApi.upsert({
          inputs: batch.map((r) => ({ id: r.key, idProperty: "email", properties: r.fields as Record<string, string> })),
        });
        written += answer.results.length;
        lost += batch.length - answer.results.length;
      } catch {
        // The SDK gave up after its retries: a plain loop loses the batch (or crashes); we count it and go on.
        lost += batch.length;
      }
    }
  }
  const elapsedMs = performance.now() - started;
  return { elapsedMs, written, lost, clientRequests, sdkRetries };
}

runAsChild<ClientInput, ClientResult>(async (input) => {
  // The SDK prints a line per retry; the count is what matters here.
  console.error = () => undefined;
  if (input.variant === "floor") return floor(input);
  if (input.variant === "wire") return wire(input);
  const before = process.cpuUsage();
  const result = await (input.variant === "ours" ? ours(input) : baseline(input));
  const cpu = process.cpuUsage(before);
  return { ...result, cpuMs: result.cpuMs ?? (cpu.user + cpu.system) / 1000 };
});
