/**
 * Waiting for Zendesk's background jobs without spending the account's requests on it. Every bulk write answers
 * with a job that must be polled until it ends; one `GET /api/v2/job_statuses/{id}` per job and wait would cost
 * at least one request per write request, half the per-minute limit. Instead every job in flight is watched here
 * and polled together with `GET /api/v2/job_statuses/show_many?ids=…` (one request for up to 100 jobs):
 *
 * - each job keeps its own schedule (first wait, then doubling up to a ceiling), and a poll takes every job in
 *   flight, due or not, since the request costs the same;
 * - polls spend at most a small share of the account's requests (`pollShare` of the window's limit, the latest
 *   `X-Rate-Limit` the destination saw) from a bucket of `pollBurst` polls, so a short run is answered at once and a
 *   long run's writes keep nearly the whole limit;
 * - a failed or throttled poll is polled again later (the job runs regardless); a job still running at its deadline,
 *   or that Zendesk no longer knows, fails its own request as retryable (its writes are idempotent).
 */
import { DestinationRequestError } from "../types.ts";
import { jobStatusesBodySchema, type JobStatus } from "./responses.ts";

const TERMINAL = new Set(["completed", "failed", "killed"]);
/** Ids per show_many request (Zendesk's show_many endpoints take up to 100). */
const IDS_PER_POLL = 100;
/** A job absent from this many answers in a row is one Zendesk no longer knows. */
const MISSING_LIMIT = 3;

export interface JobWatchOptions {
  /** First wait before a job is due (ms); each further wait doubles up to `maxWaitMs`. */
  firstWaitMs: number;
  maxWaitMs: number;
  /** A job not ended this long after it started fails as retryable. */
  timeoutMs: number;
  /** The share of the window's requests polls may take (default 0.05), and the polls that may go back to back (3). */
  pollShare?: number;
  pollBurst?: number;
}

interface Watched {
  id: string;
  due: number;
  wait: number;
  deadline: number;
  missing: number;
  resolve: (job: JobStatus) => void;
  reject: (error: unknown) => void;
}

export class JobWatcher {
  readonly #poll: (path: string) => Promise<unknown>;
  readonly #limit: () => { requestsPerWindow: number; windowMs: number };
  readonly #options: JobWatchOptions;
  readonly #watched = new Map<string, Watched>();
  #timer: NodeJS.Timeout | undefined;
  #polling = false;
  /** Polls left in the bucket, and when it was last refilled. */
  #tokens: number;
  #refilledAt = Date.now();
  /** Requests this watcher made (tests, benchmarks). */
  polls = 0;

  constructor(poll: (path: string) => Promise<unknown>, limit: () => { requestsPerWindow: number; windowMs: number }, options: JobWatchOptions) {
    this.#poll = poll;
    this.#limit = limit;
    this.#options = options;
    this.#tokens = options.pollBurst ?? 3;
  }

  /** Resolves with the job's final status (completed, failed or killed). */
  wait(job: JobStatus): Promise<JobStatus> {
    if (TERMINAL.has(job.status)) return Promise.resolve(job);
    return new Promise<JobStatus>((resolve, reject) => {
      const now = Date.now();
      this.#watched.set(job.id, { id: job.id, due: now + this.#options.firstWaitMs, wait: this.#options.firstWaitMs, deadline: now + this.#options.timeoutMs, missing: 0, resolve, reject });
      this.#schedule();
    });
  }

  /** Milliseconds between polls the share allows: a window's length over the polls it may hold. */
  get #gapMs(): number {
    const { requestsPerWindow, windowMs } = this.#limit();
    const polls = Math.max(1, requestsPerWindow * (this.#options.pollShare ?? 0.05));
    return windowMs / polls;
  }

  #refill(now: number): void {
    const burst = this.#options.pollBurst ?? 3;
    const earned = (now - this.#refilledAt) / this.#gapMs;
    this.#tokens = Math.min(burst, this.#tokens + earned);
    this.#refilledAt = now;
  }

  #schedule(): void {
    if (this.#polling || this.#watched.size === 0) return;
    const now = Date.now();
    this.#refill(now);
    const due = Math.min(...[...this.#watched.values()].map((w) => Math.min(w.due, w.deadline)));
    const tokenAt = this.#tokens >= 1 ? now : now + (1 - this.#tokens) * this.#gapMs;
    const at = Math.max(due, tokenAt);
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.#tick(), Math.max(0, at - now));
  }

  async #tick(): Promise<void> {
    this.#timer = undefined;
    this.#polling = true;
    try {
      this.#expire(Date.now());
      const ids = [...this.#watched.keys()];
      for (let at = 0; at < ids.length; at += IDS_PER_POLL) {
        this.#refill(Date.now());
        this.#tokens -= 1;
        await this.#pollChunk(ids.slice(at, at + IDS_PER_POLL));
      }
    } finally {
      this.#polling = false;
      this.#schedule();
    }
  }

  /** Jobs past their deadline fail their request as retryable; their writes are idempotent, so resending is safe. */
  #expire(now: number): void {
    for (const w of this.#watched.values()) {
      if (now < w.deadline) continue;
      this.#watched.delete(w.id);
      w.reject(new DestinationRequestError(`Zendesk job ${w.id} had not ended after ${Math.round(this.#options.timeoutMs / 1000)} s`, { code: "JOB_TIMEOUT", retryable: true }));
    }
  }

  async #pollChunk(ids: string[]): Promise<void> {
    this.polls += 1;
    let statuses: JobStatus[];
    try {
      const parsed = jobStatusesBodySchema.safeParse(await this.#poll(`/api/v2/job_statuses/show_many?ids=${ids.map(encodeURIComponent).join(",")}`));
      if (!parsed.success) throw new DestinationRequestError("Zendesk answered GET /api/v2/job_statuses/show_many in an unexpected shape", { code: "UNEXPECTED_RESPONSE" });
      statuses = parsed.data.job_statuses;
    } catch (error) {
      const retryable = error instanceof DestinationRequestError && error.retryable;
      for (const id of ids) {
        const w = this.#watched.get(id);
        if (!w) continue;
        if (!retryable) {
          this.#watched.delete(id);
          w.reject(error);
        } else {
          w.wait = Math.min(this.#options.maxWaitMs, w.wait * 2);
          w.due = Date.now() + Math.max(w.wait, error.retryAfterMs ?? 0);
        }
      }
      return;
    }
    const now = Date.now();
    const byId = new Map(statuses.map((s) => [s.id, s]));
    for (const id of ids) {
      const w = this.#watched.get(id);
      if (!w) continue;
      const status = byId.get(id);
      if (status && TERMINAL.has(status.status)) {
        this.#watched.delete(id);
        w.resolve(status);
        continue;
      }
      w.missing = status ? 0 : w.missing + 1;
      if (w.missing >= MISSING_LIMIT) {
        this.#watched.delete(id);
        w.reject(new DestinationRequestError(`Zendesk no longer knows job ${id} (absent from ${MISSING_LIMIT} status answers in a row)`, { code: "JOB_UNKNOWN", retryable: true }));
        continue;
      }
      w.wait = Math.min(this.#options.maxWaitMs, w.wait * 2);
      w.due = now + w.wait;
    }
  }
}
