// Zendesk's background jobs: a bulk request answers at once with a `job_status` (queued); the job then runs
// (working) and completes with one result per object, or fails. Only a limited number of jobs may be queued or
// running per account at once (30 per Zendesk's rate-limit docs as summarized by third parties [unverified]); beyond
// it the request is refused with 429.
import { randomBytes } from "node:crypto";

export type JobState = "queued" | "working" | "completed" | "failed" | "killed";

export interface Job {
  id: string;
  job_type: string;
  status: JobState;
  total: number;
  progress: number;
  message: string | null;
  results: Record<string, unknown>[];
}

export interface JobOptions {
  /** How long a job stays queued, then working, before it runs (ms); default 10 each. */
  queuedMs: number;
  workingMs: number;
  maxQueued: number;
}

export class JobQueue {
  readonly #jobs = new Map<string, Job>();
  readonly #timers = new Set<NodeJS.Timeout>();
  options: JobOptions;
  /** Jobs ever accepted (tests). */
  accepted = 0;

  constructor(options: JobOptions) {
    this.options = options;
  }

  /** Jobs queued or working now. */
  get active(): number {
    return [...this.#jobs.values()].filter((j) => j.status === "queued" || j.status === "working").length;
  }

  full(): boolean {
    return this.active >= this.options.maxQueued;
  }

  /**
   * Accepts a job whose work runs later: `run` returns the results (in the order of the request's objects), or
   * `{failed}` / `{killed}` with the worker's message when the job dies without applying anything.
   */
  enqueue(jobType: string, total: number, run: () => Record<string, unknown>[] | { failed: string } | { killed: string }): Job {
    const job: Job = { id: randomBytes(16).toString("hex"), job_type: jobType, status: "queued", total, progress: 0, message: null, results: [] };
    this.#jobs.set(job.id, job);
    this.accepted += 1;
    this.#later(this.options.queuedMs, () => {
      job.status = "working";
      job.progress = Math.floor(total / 2);
      this.#later(this.options.workingMs, () => {
        const outcome = run();
        if (Array.isArray(outcome)) {
          job.results = outcome;
          job.progress = total;
          job.status = "completed";
          job.message = `Completed at ${new Date().toISOString()}`;
        } else {
          job.status = "failed" in outcome ? "failed" : "killed";
          job.message = "failed" in outcome ? outcome.failed : outcome.killed;
        }
      });
    });
    return job;
  }

  get(id: string): Job | undefined {
    return this.#jobs.get(id);
  }

  #later(ms: number, fn: () => void): void {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      fn();
    }, ms);
    this.#timers.add(timer);
  }

  clear(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    this.#jobs.clear();
  }
}

/** The wire shape: `{job_status: {...}}` with the URL to poll. */
export function jobStatusBody(job: Job, baseUrl: string): Record<string, unknown> {
  const done = job.status === "completed" || job.status === "failed" || job.status === "killed";
  return {
    job_status: {
      id: job.id,
      url: `${baseUrl}/api/v2/job_statuses/${job.id}.json`,
      job_type: job.job_type,
      total: job.total,
      progress: job.progress,
      status: job.status,
      message: job.message,
      results: done ? job.results : null,
    },
  };
}
