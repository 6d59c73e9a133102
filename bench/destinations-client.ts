/**
 * One client run of the Braze / Zendesk benchmarks, in its own process: N new users written to the destination's
 * emulator either through our engine (destination + pacer + send, as `sync` wires them) or by a hand-written loop
 * over plain fetch, the way a user writes it against the documented API (sequential requests, wait as the 429 says,
 * three attempts, then the batch is lost).
 */
import type { Contract } from "../src/contract/load.ts";
import type { DestinationRecord } from "../src/destinations/types.ts";
import { retrying } from "../src/engine/retry.ts";
import { sendRecords } from "../src/engine/send.ts";
import { openDestination } from "../src/pipeline/destination.ts";
import { contractOn } from "../test/support/contracts.ts";
import { runAsChild } from "./lib.ts";

export type DestinationName = "braze" | "zendesk";

export interface DestinationClientInput {
  destination: DestinationName;
  variant: "ours" | "loop";
  url: string;
  /** Braze: the REST API key; Zendesk: `email` and the API token. */
  apiKey: string;
  email?: string;
  rows: number;
}

export interface DestinationClientResult {
  elapsedMs: number;
  written: number;
  lost: number;
  cpuMs?: number;
}

const contracts: Record<DestinationName, Contract> = {
  braze: contractOn({ name: "people" }, { name: "bench_braze", key: "external_id", destination: { type: "braze", object: "users", match: { field: "external_id" } }, fields: { first_name: "first_name", plan_tier: "plan_tier" } }),
  zendesk: contractOn({ name: "people" }, { name: "bench_zendesk", key: "external_id", destination: { type: "zendesk", object: "users", match: { field: "external_id" } }, fields: { name: "name" } }),
};

function record(destination: DestinationName, i: number): DestinationRecord {
  const key = `u${String(i).padStart(8, "0")}`;
  return destination === "braze" ? { key, fields: { first_name: `First${i}`, plan_tier: i % 2 ? "growth" : "starter" } } : { key, fields: { name: `User ${i}` } };
}

async function* people(destination: DestinationName, count: number, chunk = 2000): AsyncIterable<DestinationRecord[]> {
  for (let start = 0; start < count; start += chunk) yield Array.from({ length: Math.min(chunk, count - start) }, (_, j) => record(destination, start + j));
}

function env(input: DestinationClientInput): Record<string, string> {
  return input.destination === "braze"
    ? { BRAZE_API_KEY: input.apiKey, BRAZE_REST_ENDPOINT: input.url }
    : { ZENDESK_URL: input.url, ZENDESK_EMAIL: input.email ?? "", ZENDESK_API_TOKEN: input.apiKey };
}

async function ours(input: DestinationClientInput): Promise<DestinationClientResult> {
  const destination = openDestination(contracts[input.destination], env(input));
  const problems = await retrying(() => destination.checkMapping(), {}, { requests: 0, retries: 0 });
  if (problems.length > 0) throw new Error(problems.join("; "));
  const started = performance.now();
  const summary = await sendRecords(destination, people(input.destination, input.rows));
  return { elapsedMs: performance.now() - started, written: summary.created + summary.updated, lost: summary.failed + summary.notSent };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The wait a 429 asks for: Retry-After (seconds), else Braze's X-RateLimit-Reset (epoch seconds), else 1 s. */
function waitMs(answer: Response): number {
  const retryAfter = Number(answer.headers.get("retry-after"));
  if (answer.headers.get("retry-after") && Number.isFinite(retryAfter)) return retryAfter * 1000;
  const reset = Number(answer.headers.get("x-ratelimit-reset"));
  return answer.headers.get("x-ratelimit-reset") && Number.isFinite(reset) ? Math.max(0, reset * 1000 - Date.now()) : 1000;
}

/** POST with up to three attempts, waiting as each 429 says; undefined when the batch is given up. */
async function post(url: string, headers: Record<string, string>, body: unknown): Promise<Response | undefined> {
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const answer = await fetch(url, { method: "POST", headers: { ...headers, "Content-Type": "application/json" }, body: JSON.stringify(body) });
    if (answer.status !== 429 && answer.status < 500) return answer;
    await answer.arrayBuffer();
    await sleep(answer.status === 429 ? waitMs(answer) : 1000);
  }
  return undefined;
}

async function brazeLoop(input: DestinationClientInput): Promise<DestinationClientResult> {
  const headers = { Authorization: `Bearer ${input.apiKey}` };
  let written = 0;
  let lost = 0;
  const started = performance.now();
  for await (const chunk of people("braze", input.rows)) {
    for (let i = 0; i < chunk.length; i += 75) {
      const batch = chunk.slice(i, i + 75);
      const answer = await post(`${input.url}/users/track`, headers, { attributes: batch.map((r) => ({ external_id: r.key, ...r.fields })) });
      if (!answer?.ok) {
        lost += batch.length;
        continue;
      }
      const body = (await answer.json()) as { errors?: unknown[] };
      written += batch.length - (body.errors?.length ?? 0);
      lost += body.errors?.length ?? 0;
    }
  }
  return { elapsedMs: performance.now() - started, written, lost };
}

interface JobStatus {
  url: string;
  status: string;
  results: { error?: string; status?: string }[] | null;
}

async function zendeskLoop(input: DestinationClientInput): Promise<DestinationClientResult> {
  const headers = { Authorization: `Basic ${Buffer.from(`${input.email}/token:${input.apiKey}`).toString("base64")}` };
  let written = 0;
  let lost = 0;
  const started = performance.now();
  for await (const chunk of people("zendesk", input.rows)) {
    for (let i = 0; i < chunk.length; i += 100) {
      const batch = chunk.slice(i, i + 100);
      const answer = await post(`${input.url}/api/v2/users/create_or_update_many.json`, headers, { users: batch.map((r) => ({ external_id: r.key, ...r.fields })) });
      if (!answer?.ok) {
        lost += batch.length;
        continue;
      }
      let job = ((await answer.json()) as { job_status: JobStatus }).job_status;
      // Poll the job until it ends (Zendesk's own examples poll; 429s wait as told).
      while (job.status === "queued" || job.status === "working") {
        await sleep(50);
        const polled = await fetch(job.url, { headers });
        if (polled.status === 429) {
          await polled.arrayBuffer();
          await sleep(waitMs(polled));
          continue;
        }
        job = ((await polled.json()) as { job_status: JobStatus }).job_status;
      }
      const failed = job.status === "completed" ? (job.results ?? []).filter((r) => r.error !== undefined).length : batch.length;
      written += batch.length - failed;
      lost += failed;
    }
  }
  return { elapsedMs: performance.now() - started, written, lost };
}

runAsChild<DestinationClientInput, DestinationClientResult>(async (input) => {
  const before = process.cpuUsage();
  const result = await (input.variant === "ours" ? ours(input) : input.destination === "braze" ? brazeLoop(input) : zendeskLoop(input));
  const cpu = process.cpuUsage(before);
  return { ...result, cpuMs: (cpu.user + cpu.system) / 1000 };
});
