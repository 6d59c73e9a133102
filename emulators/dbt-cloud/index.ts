/**
 * A loopback emulator of the parts of the dbt Cloud Administrative API v2 the syncer reads, and of dbt Cloud's job
 * webhooks, after dbt's public documentation (docs.getdbt.com: "dbt Administrative API", API v2 reference, "Webhooks
 * for your jobs"). What the documentation shows and this follows:
 * - every answer is an envelope `{status: {code, is_success, user_message, developer_message}, data, extra}`, list
 *   answers page with `limit`/`offset` and report `extra.pagination.{count,total_count}` and `extra.filters.limit`;
 * - `Authorization: Token <token>` (Bearer also accepted); a bad token is a 401 envelope;
 * - `GET /api/v2/accounts/{account}/runs/{run}/` with `include_related` listing `run_steps`; run and step statuses
 *   1 queued, 2 starting, 3 running, 10 success, 20 error, 30 cancelled;
 * - `GET /api/v2/accounts/{account}/runs/?job_definition_id=&order_by=-id&limit=&offset=`;
 * - `GET /api/v2/accounts/{account}/runs/{run}/artifacts/{path}?step={index}`: the file itself; "the first step in the
 *   run has the index 1", without `step` the last step's artifacts;
 * - webhooks: a JSON body `{accountId, eventId, timestamp, eventType, webhookName, data: {jobId, runId, runStatus, …}}`
 *   (ids as strings) with an `Authorization` header holding the hex HMAC-SHA256 of the raw body keyed by the secret.
 * Not verified against the live service (no network here): the exact text of error messages, whether
 * `include_related` is sent as a JSON list or repeated (both are accepted here), whether artifacts are served
 * directly or through a redirect (served directly here), rate-limit headers (Retry-After assumed).
 */
import { createHmac, randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface EmulatedStep {
  index: number;
  name: string;
  status: number;
  /** Artifacts this step wrote, by path (`manifest.json`, `run_results.json`), as text. */
  artifacts?: Record<string, string>;
}

export interface EmulatedRun {
  id: number;
  jobId: number;
  status: number;
  steps: EmulatedStep[];
  finishedAt?: string;
}

export interface DbtCloudCall {
  method: string;
  path: string;
  query: Record<string, string>;
  status: number;
}

export interface DbtCloudEmulator {
  url: string;
  accountId: number;
  token: string;
  addRun(run: EmulatedRun): void;
  setRunStatus(runId: number, status: number): void;
  /** The next `count` requests fail with `status` (429 with Retry-After: 0, or 5xx). */
  failNext(count: number, status: number): void;
  calls(): DbtCloudCall[];
  close(): Promise<void>;
}

const HUMANIZED: Record<number, string> = { 1: "Queued", 2: "Starting", 3: "Running", 10: "Success", 20: "Error", 30: "Cancelled" };

export interface DbtCloudEmulatorOptions {
  accountId?: number;
  token?: string;
  port?: number;
}

function envelope(code: number, data: unknown, extra?: unknown, message?: string): string {
  return JSON.stringify({ status: { code, is_success: code < 400, user_message: message ?? (code < 400 ? "Success!" : "Error"), developer_message: "" }, data, ...(extra ? { extra } : {}) });
}

export async function startDbtCloudEmulator(options: DbtCloudEmulatorOptions = {}): Promise<DbtCloudEmulator> {
  const accountId = options.accountId ?? 43;
  const token = options.token ?? "dbtc_emulator_token";
  const runs = new Map<number, EmulatedRun>();
  const calls: DbtCloudCall[] = [];
  let failures: { count: number; status: number } = { count: 0, status: 503 };

  const runJson = (run: EmulatedRun, withSteps: boolean): Record<string, unknown> => ({
    id: run.id,
    account_id: accountId,
    job_definition_id: run.jobId,
    status: run.status,
    status_humanized: HUMANIZED[run.status] ?? "Unknown",
    in_progress: run.status < 10,
    is_complete: run.status >= 10,
    is_success: run.status === 10,
    is_error: run.status === 20,
    is_cancelled: run.status === 30,
    finished_at: run.status >= 10 ? (run.finishedAt ?? new Date().toISOString()) : null,
    ...(withSteps
      ? { run_steps: run.steps.map((s) => ({ id: run.id * 100 + s.index, run_id: run.id, account_id: accountId, index: s.index, name: s.name, status: s.status, status_humanized: HUMANIZED[s.status] ?? "Unknown" })) }
      : {}),
  });

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const query = Object.fromEntries(url.searchParams);
    const send = (status: number, body: string, headers: Record<string, string> = {}): void => {
      calls.push({ method: req.method ?? "GET", path: url.pathname, query, status });
      res.writeHead(status, { "content-type": "application/json", ...headers });
      res.end(body);
    };
    if (failures.count > 0) {
      failures.count -= 1;
      send(failures.status, envelope(failures.status, null, undefined, failures.status === 429 ? "Too many requests" : "Service unavailable"), failures.status === 429 ? { "retry-after": "0" } : {});
      return;
    }
    const auth = req.headers.authorization ?? "";
    const given = /^(?:Token|Bearer)\s+(.+)$/.exec(auth)?.[1];
    if (given !== token) {
      send(401, envelope(401, null, undefined, "Invalid token."));
      return;
    }
    const match = /^\/api\/v2\/accounts\/(\d+)\/runs\/(?:(\d+)\/(?:artifacts\/(.+))?)?$/.exec(url.pathname.endsWith("/") || url.pathname.includes("/artifacts/") ? url.pathname : `${url.pathname}/`);
    if (req.method !== "GET" || !match) {
      send(404, envelope(404, null, undefined, "Not found."));
      return;
    }
    if (Number(match[1]) !== accountId) {
      send(403, envelope(403, null, undefined, "You do not have permission to perform this action."));
      return;
    }
    if (match[2] === undefined) {
      const jobId = query.job_definition_id === undefined ? undefined : Number(query.job_definition_id);
      const limit = Math.min(100, Number(query.limit ?? 100));
      const offset = Number(query.offset ?? 0);
      const all = [...runs.values()].filter((r) => jobId === undefined || r.jobId === jobId).sort((a, b) => (query.order_by === "-id" ? b.id - a.id : a.id - b.id));
      const page = all.slice(offset, offset + limit);
      send(200, envelope(200, page.map((r) => runJson(r, false)), { filters: { limit, offset, job_definition_id: jobId }, order_by: query.order_by ?? "id", pagination: { count: page.length, total_count: all.length } }));
      return;
    }
    const run = runs.get(Number(match[2]));
    if (!run) {
      send(404, envelope(404, null, undefined, "The requested resource was not found."));
      return;
    }
    if (match[3] === undefined) {
      const related = url.searchParams.getAll("include_related").join(",");
      send(200, envelope(200, runJson(run, related.includes("run_steps"))));
      return;
    }
    const stepIndex = query.step === undefined ? run.steps.at(-1)?.index : Number(query.step);
    const step = run.steps.find((s) => s.index === stepIndex);
    const body = step?.artifacts?.[match[3]];
    if (run.status < 10 || body === undefined) {
      send(404, envelope(404, null, undefined, `No artifact ${match[3]} for step ${String(stepIndex)} of run ${run.id}.`));
      return;
    }
    send(200, body);
  };

  const server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    accountId,
    token,
    addRun: (run) => void runs.set(run.id, run),
    setRunStatus: (runId, status) => {
      const run = runs.get(runId);
      if (run) run.status = status;
    },
    failNext: (count, status) => void (failures = { count, status }),
    calls: () => calls.map((c) => ({ ...c })),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The step names dbt Cloud gives a job's commands, and the steps every run has first. */
export function cloudSteps(commands: { command: string; status: number; artifacts?: Record<string, string> }[]): EmulatedStep[] {
  const setup = ["Clone git repository", "Create profile from connection Analytics", "Invoke dbt with `dbt deps`"].map((name, i) => ({ index: i + 1, name, status: 10 }));
  return [...setup, ...commands.map((c, i) => ({ index: setup.length + i + 1, name: `Invoke dbt with \`${c.command}\``, status: c.status, ...(c.artifacts ? { artifacts: c.artifacts } : {}) }))];
}

export interface WebhookDelivery {
  body: string;
  headers: Record<string, string>;
}

/** A `job.run.completed` delivery as dbt Cloud sends it, signed with `secret` (unsigned when secret is undefined). */
export function webhookDelivery(run: { id: number; jobId: number; status: number }, options: { accountId: number; secret?: string | undefined; timestamp?: Date; eventType?: string; eventId?: string }): WebhookDelivery {
  const body = JSON.stringify({
    accountId: options.accountId,
    eventId: options.eventId ?? `wev_${randomBytes(12).toString("hex")}`,
    timestamp: (options.timestamp ?? new Date()).toISOString(),
    eventType: options.eventType ?? "job.run.completed",
    webhookName: "dbt-activation",
    data: {
      jobId: String(run.jobId),
      jobName: "Daily Job (dbt build)",
      runId: String(run.id),
      environmentId: "1234",
      environmentName: "Production",
      dbtVersion: "1.11.0",
      projectName: "Analytics",
      runReason: "Kicked off by schedule",
      runStartedAt: new Date(Date.now() - 60_000).toISOString(),
      runFinishedAt: new Date().toISOString(),
      runStatus: HUMANIZED[run.status] ?? "Unknown",
      runStatusMessage: "None",
    },
  });
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (options.secret !== undefined) headers.authorization = createHmac("sha256", options.secret).update(body).digest("hex");
  return { body, headers };
}
