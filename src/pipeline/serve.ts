/**
 * `serve`: listens for dbt Cloud job webhooks and syncs each completed run from its artifacts.
 * - A delivery is acknowledged at once (dbt Cloud gives an endpoint 10 s) after its signature, account and age are
 *   checked; the run goes to an in-process queue worked one run at a time, so the warehouse (a DuckDB file takes one
 *   writer) and each contract see one sync at a time from this server; other syncers are kept out per contract by
 *   the lease, and a contract another runner holds is tried again later.
 * - Each run is claimed in activation_cloud_runs before it syncs: a duplicate delivery (dbt Cloud retries) finds the
 *   claim and syncs nothing.
 * - Stopping (SIGTERM) refuses new deliveries, lets the running sync finish its batch in flight (the kill switch is
 *   thrown in this process only), and records what was queued, so the next start resumes it.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { dbtCloudConfig, webhookConfig } from "../config/env.ts";
import { dbtCloudArtifacts, DbtCloudClient } from "../dbt/cloud.ts";
import { verifyDelivery, WEBHOOK_PATH } from "../dbt/cloud-webhook.ts";
import { BadInputError, errorMessage } from "../errors.ts";
import { CloudRuns } from "../ledger/cloud-runs.ts";
import { PAUSE_ENV } from "../ledger/controls.ts";
import type { SyncReport } from "../report/types.ts";
import { openLedgerSession, type SessionOptions } from "./session.ts";
import { runSync } from "./sync.ts";

export interface ServeOptions extends SessionOptions {
  host: string;
  port: number;
  /** Only runs of these jobs are synced (default: every job of the account). */
  jobs: number[];
  log: (line: string) => void;
  /** How long to wait before trying again contracts another runner held (default 30 s). */
  busyRetryMs?: number;
  /** How many times to try such contracts again (default 10). */
  busyRetries?: number;
}

export interface ServeHandle {
  url: string;
  /** Graceful stop: no new deliveries, the running sync ends after its batch in flight, the queue is recorded. */
  stop(): Promise<void>;
}

interface QueueItem {
  runId: string;
  jobId: string;
  eventId: string;
  /** Already claimed (resumed after a restart, or a retry of busy contracts). */
  claimed: boolean;
  select?: string[];
  attempt: number;
}

const MAX_BODY = 1024 * 1024;

export async function startServe(options: ServeOptions): Promise<ServeHandle> {
  const env = options.env ?? process.env;
  const cloud = dbtCloudConfig(env, "serve");
  const hook = webhookConfig(env);
  const account = String(cloud.accountId);
  const client = new DbtCloudClient(cloud);
  // The syncs' own environment: stopping throws this process's kill switch in it, no one else's.
  const runEnv: NodeJS.ProcessEnv = { ...env };
  const sessionOptions: SessionOptions = { ...options, env, cwd: options.cwd ?? process.cwd() };
  const withRuns = async <T>(work: (runs: CloudRuns) => Promise<T>): Promise<T> => {
    const session = await openLedgerSession(sessionOptions);
    try {
      return await work(new CloudRuns(session.warehouse, session.tables));
    } finally {
      await session.close();
    }
  };

  const queue: QueueItem[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const stats = { received: 0, rejected: 0, duplicates: 0, synced: 0, failed: 0 };
  let processing: string | null = null;
  let stopping = false;
  let worker: Promise<void> = Promise.resolve();

  // Runs a previous server accepted and did not finish; also proves the warehouse is reachable before listening.
  for (const row of await withRuns((runs) => runs.unfinished(account))) {
    queue.push({ runId: row.runId, jobId: row.jobId ?? "", eventId: "", claimed: true, attempt: 0 });
    options.log(`resuming dbt Cloud run ${row.runId} (${row.status} when the last server stopped)`);
  }

  const process_ = async (item: QueueItem): Promise<void> => {
    if (!item.claimed && !(await withRuns((runs) => runs.claim(account, item.runId, item.jobId, item.eventId)))) {
      stats.duplicates += 1;
      options.log(`run ${item.runId}: already handled (a duplicate delivery): nothing synced`);
      return;
    }
    processing = item.runId;
    try {
      await syncClaimed(item);
    } finally {
      // Only once its status is recorded: /healthz then shows the run finished in the warehouse too.
      processing = null;
    }
  };

  const syncClaimed = async (item: QueueItem): Promise<void> => {
    await withRuns((runs) => runs.setStatus(account, item.runId, "syncing"));
    let report: SyncReport;
    try {
      report = await runSync({ ...sessionOptions, env: runEnv, artifacts: dbtCloudArtifacts(client, { runId: Number(item.runId) }), select: item.select ?? [], actor: `dbt Cloud webhook (run ${item.runId})` });
    } catch (error) {
      const known = error instanceof BadInputError;
      const detail = known ? error.message : `internal error: ${errorMessage(error)}`;
      options.log(`run ${item.runId}: ${detail}`);
      if (!known && error instanceof Error && error.stack) options.log(error.stack);
      await withRuns((runs) => runs.setStatus(account, item.runId, stopping ? "interrupted" : "failed", { exitCode: known ? 2 : 1, detail }));
      stats.failed += 1;
      return;
    }
    const busy = report.contracts.filter((c) => c.status === "busy").map((c) => c.contract);
    const summary = report.contracts.map((c) => `${c.contract}: ${c.status}`).join("; ");
    options.log(`run ${item.runId}: exit code ${report.exitCode} (${summary || "no contracts"})`);
    const again = busy.length > 0 && item.attempt < (options.busyRetries ?? 10);
    await withRuns((runs) => runs.setStatus(account, item.runId, stopping || again ? "interrupted" : "done", { exitCode: report.exitCode, detail: summary }));
    stats.synced += 1;
    if (again && !stopping) {
      const timer = setTimeout(() => {
        timers.delete(timer);
        enqueue({ ...item, claimed: true, select: busy, attempt: item.attempt + 1 });
      }, options.busyRetryMs ?? 30_000);
      timers.add(timer);
    }
  };

  const drain = async (): Promise<void> => {
    while (queue.length > 0 && !stopping) {
      const item = queue.shift()!;
      try {
        await process_(item);
      } catch (error) {
        // The warehouse itself failed (claim or status): the run stays as it was recorded, resumed on restart.
        options.log(`run ${item.runId}: ${errorMessage(error)}`);
      }
    }
  };
  const enqueue = (item: QueueItem): void => {
    queue.push(item);
    worker = worker.then(drain);
  };
  if (queue.length > 0) worker = worker.then(drain);

  const reply = (res: ServerResponse, status: number, body: unknown): void => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };

  const onDelivery = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    stats.received += 1;
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_BODY) {
        stats.rejected += 1;
        return reply(res, 413, { error: "body too large" });
      }
      chunks.push(chunk);
    }
    const verdict = verifyDelivery(Buffer.concat(chunks), req.headers.authorization, { secret: hook.secret, maxAgeMs: hook.maxAgeMs, accountId: cloud.accountId });
    if (!verdict.ok) {
      stats.rejected += 1;
      options.log(`delivery refused (${verdict.status}): ${verdict.reason}`);
      return reply(res, verdict.status, { error: verdict.reason });
    }
    const { delivery } = verdict;
    if (delivery.eventType !== "job.run.completed") return reply(res, 200, { ignored: `event ${delivery.eventType}` });
    if (options.jobs.length > 0 && !options.jobs.map(String).includes(delivery.data.jobId)) return reply(res, 200, { ignored: `job ${delivery.data.jobId} is not served` });
    if (stopping) return reply(res, 503, { error: "shutting down" });
    if (queue.some((q) => q.runId === delivery.data.runId) || processing === delivery.data.runId) {
      stats.duplicates += 1;
      return reply(res, 200, { duplicate: true, runId: delivery.data.runId });
    }
    enqueue({ runId: delivery.data.runId, jobId: delivery.data.jobId, eventId: delivery.eventId, claimed: false, attempt: 0 });
    options.log(`run ${delivery.data.runId} of job ${delivery.data.jobId} (${delivery.data.runStatus ?? "?"}): queued`);
    return reply(res, 202, { queued: true, runId: delivery.data.runId });
  };

  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    if (req.method === "GET" && (path === "/healthz" || path === "/health")) {
      return reply(res, stopping ? 503 : 200, { status: stopping ? "stopping" : "ok", queued: queue.length, processing, ...stats });
    }
    if (req.method === "POST" && path === WEBHOOK_PATH) {
      onDelivery(req, res).catch((error: unknown) => {
        options.log(`delivery failed: ${errorMessage(error)}`);
        if (!res.headersSent) reply(res, 500, { error: "internal error" });
      });
      return;
    }
    reply(res, 404, { error: `POST ${WEBHOOK_PATH} or GET /healthz` });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (error) => reject(new BadInputError(`cannot listen on ${options.host}:${options.port}: ${errorMessage(error)}`)));
    server.listen(options.port, options.host, resolve);
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;

  return {
    url: `http://${host}:${port}`,
    async stop() {
      stopping = true;
      runEnv[PAUSE_ENV] = "*";
      for (const timer of timers) clearTimeout(timer);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      await worker;
      // What was queued and not started is recorded, so the next start syncs it.
      for (const item of queue.splice(0)) {
        await withRuns(async (runs) => {
          if (!item.claimed) await runs.claim(account, item.runId, item.jobId, item.eventId);
          else await runs.setStatus(account, item.runId, "interrupted");
        });
      }
      await closed;
    },
  };
}
