/**
 * dbt Cloud as an artifact source: the `manifest.json` and `run_results.json` of one job run, read from the dbt Cloud
 * Administrative API v2 (`/api/v2/accounts/{account}/runs/{run}/`, `…/runs/?job_definition_id=`, and
 * `…/runs/{run}/artifacts/{path}?step={index}`), so the gate reads the build step's own results even when the job
 * runs more steps after it (`dbt docs generate` would otherwise have written the last run_results.json).
 * Requests are retried on 429, 5xx and network errors (with Retry-After); a refused token, a run still in progress,
 * a run whose build never ran and a missing artifact are bad input with a message that says which.
 */
import { setTimeout as delay } from "node:timers/promises";
import { z } from "zod";
import type { DbtCloudConfig } from "../config/env.ts";
import { BadInputError, errorMessage } from "../errors.ts";
import { parseManifest, parseRunResults, type ArtifactSource, type Artifacts } from "./artifacts.ts";

/** Run and step statuses of the v2 API. */
export const RUN_STATUS = { queued: 1, starting: 2, running: 3, success: 10, error: 20, cancelled: 30 } as const;
const FINISHED: number[] = [RUN_STATUS.success, RUN_STATUS.error, RUN_STATUS.cancelled];

const stepSchema = z.looseObject({
  index: z.number().int(),
  name: z.string(),
  status: z.number().int(),
  status_humanized: z.string().nullish(),
});
export type RunStep = z.infer<typeof stepSchema>;

const runSchema = z.looseObject({
  id: z.number().int(),
  job_definition_id: z.number().int().nullish(),
  status: z.number().int(),
  status_humanized: z.string().nullish(),
  finished_at: z.string().nullish(),
  run_steps: z.array(stepSchema).nullish(),
});
export type CloudRun = z.infer<typeof runSchema>;

const envelopeSchema = z.looseObject({
  status: z.looseObject({ code: z.number().optional(), user_message: z.string().nullish(), developer_message: z.string().nullish() }).optional(),
  data: z.unknown(),
  extra: z.looseObject({ pagination: z.looseObject({ count: z.number(), total_count: z.number() }).optional() }).nullish(),
});

export interface ClientOptions {
  maxAttempts?: number;
  baseDelayMs?: number;
  timeoutMs?: number;
}

/** A request that may succeed if sent again (429, 5xx, network). */
class Retryable extends Error {
  readonly retryAfterMs: number | undefined;
  constructor(message: string, retryAfterMs?: number) {
    super(message);
    this.retryAfterMs = retryAfterMs;
  }
}

export class DbtCloudClient {
  readonly #config: DbtCloudConfig;
  readonly #options: Required<ClientOptions>;
  /** Requests sent, retries included (for the report). */
  requests = 0;

  constructor(config: DbtCloudConfig, options: ClientOptions = {}) {
    this.#config = config;
    this.#options = { maxAttempts: options.maxAttempts ?? 5, baseDelayMs: options.baseDelayMs ?? 500, timeoutMs: options.timeoutMs ?? 60_000 };
  }

  get accountId(): number {
    return this.#config.accountId;
  }

  #url(path: string, query: Record<string, string | number> = {}): string {
    const url = new URL(`/api/v2/accounts/${this.#config.accountId}/${path}`, this.#config.baseUrl);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, String(v));
    return url.toString();
  }

  /** One GET with the retry policy; `what` names the resource in errors. Returns the response body as text. */
  async #get(url: string, what: string): Promise<string> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.#once(url, what);
      } catch (error) {
        if (!(error instanceof Retryable) || attempt >= this.#options.maxAttempts) {
          if (error instanceof Retryable) throw new BadInputError(`dbt Cloud did not answer ${what} after ${attempt} attempts: ${error.message}`);
          throw error;
        }
        const backoff = Math.min(10_000, this.#options.baseDelayMs * 2 ** (attempt - 1));
        await delay(Math.min(60_000, error.retryAfterMs ?? backoff));
      }
    }
  }

  async #once(url: string, what: string): Promise<string> {
    this.requests += 1;
    let response: Response;
    try {
      response = await fetch(url, {
        headers: { Authorization: `Token ${this.#config.token}`, Accept: "application/json" },
        signal: AbortSignal.timeout(this.#options.timeoutMs),
      });
    } catch (error) {
      throw new Retryable(`network error: ${errorMessage(error)}`);
    }
    const body = await response.text();
    if (response.ok) return body;
    const message = userMessage(body) ?? response.statusText;
    if (response.status === 429 || response.status >= 500) {
      const retryAfter = Number(response.headers.get("retry-after"));
      throw new Retryable(`${response.status} ${message}`, Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter * 1000 : undefined);
    }
    if (response.status === 401) throw new BadInputError(`dbt Cloud refused the API token (401 ${message}): check DBT_CLOUD_API_TOKEN (a service token with read access to the account's runs)`);
    if (response.status === 403) throw new BadInputError(`dbt Cloud refused ${what} (403 ${message}): the token has no access to account ${this.#config.accountId}, or DBT_CLOUD_ACCOUNT_ID/DBT_CLOUD_HOST name another account or region`);
    if (response.status === 404) throw new BadInputError(`dbt Cloud has no ${what} (404 ${message}) in account ${this.#config.accountId} at ${this.#config.baseUrl}`);
    throw new BadInputError(`dbt Cloud answered ${response.status} to ${what}: ${message}`);
  }

  async #json(url: string, what: string): Promise<z.infer<typeof envelopeSchema>> {
    const text = await this.#get(url, what);
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      throw new BadInputError(`dbt Cloud's answer to ${what} is not JSON`);
    }
    const parsed = envelopeSchema.safeParse(raw);
    if (!parsed.success) throw new BadInputError(`dbt Cloud's answer to ${what} is not an API v2 response`);
    return parsed.data;
  }

  /** A run with its steps. */
  async run(runId: number): Promise<CloudRun> {
    const what = `run ${runId}`;
    const body = await this.#json(this.#url(`runs/${runId}/`, { include_related: '["run_steps"]' }), what);
    const run = runSchema.safeParse(body.data);
    if (!run.success) throw new BadInputError(`dbt Cloud's ${what} has an unexpected shape: ${run.error.issues[0]?.path.join(".")}: ${run.error.issues[0]?.message}`);
    return run.data;
  }

  /** The newest finished run of a job (newest first, page by page: runs still going are passed over). */
  async latestFinishedRun(jobId: number, pageSize = 100): Promise<CloudRun> {
    let inProgress: CloudRun | undefined;
    for (let offset = 0; ; offset += pageSize) {
      const body = await this.#json(this.#url("runs/", { job_definition_id: jobId, order_by: "-id", limit: pageSize, offset }), `runs of job ${jobId}`);
      const runs = z.array(runSchema).safeParse(body.data);
      if (!runs.success) throw new BadInputError(`dbt Cloud's runs of job ${jobId} have an unexpected shape`);
      const finished = runs.data.find((r) => FINISHED.includes(r.status));
      if (finished) return this.run(finished.id);
      inProgress ??= runs.data[0];
      const total = body.extra?.pagination?.total_count ?? 0;
      if (runs.data.length === 0 || offset + runs.data.length >= total) break;
    }
    if (inProgress) throw new BadInputError(`job ${jobId} has no finished run yet: run ${inProgress.id} is still ${humanized(inProgress)}`);
    throw new BadInputError(`job ${jobId} has no runs in account ${this.accountId}`);
  }

  /** One artifact of one step, as text. */
  artifact(runId: number, step: number, path: string): Promise<string> {
    return this.#get(this.#url(`runs/${runId}/artifacts/${path}`, { step }), `${path} of run ${runId}, step ${step}`);
  }
}

function userMessage(body: string): string | undefined {
  try {
    const parsed = envelopeSchema.safeParse(JSON.parse(body));
    return parsed.success ? (parsed.data.status?.user_message ?? undefined) : undefined;
  } catch {
    return undefined;
  }
}

function humanized(run: { status: number; status_humanized?: string | null | undefined }): string {
  return run.status_humanized ?? Object.entries(RUN_STATUS).find(([, v]) => v === run.status)?.[0] ?? `status ${run.status}`;
}

/** dbt Cloud names a command step "Invoke dbt with `dbt build …`": the gate reads a build (or test) step's results. */
const PROVING_STEP = /`dbt\s+(?:--\S+\s+)*(build|test)\b/;

/** The step whose artifacts prove the run: the last build (or test) step. Errors say why a run proves nothing. */
export function provingStep(run: CloudRun): RunStep {
  if (!FINISHED.includes(run.status)) {
    throw new BadInputError(`dbt Cloud run ${run.id} is still ${humanized(run)}: sync it once it has finished (serve does, on its job.run.completed webhook)`);
  }
  const steps = run.run_steps ?? [];
  const candidates = steps.filter((s) => PROVING_STEP.test(s.name));
  const step = candidates.at(-1);
  const list = steps.map((s) => `${s.index}. ${s.name} (${humanized(s)})`).join("; ") || "none";
  if (!step) {
    const failed = run.status !== RUN_STATUS.success ? ` and ended ${humanized(run)}` : "";
    throw new BadInputError(`dbt Cloud run ${run.id} has no dbt build or dbt test step${failed}: nothing in it proves a contract (steps: ${list})`);
  }
  if (step.status !== RUN_STATUS.success && step.status !== RUN_STATUS.error) {
    throw new BadInputError(`dbt Cloud run ${run.id} ended ${humanized(run)} before its step ${step.index} (${step.name}) ran to the end (${humanized(step)}): nothing is proven (steps: ${list})`);
  }
  return step;
}

/** The artifacts of one dbt Cloud run (or of a job's newest finished run), as a sync's artifact source. */
export function dbtCloudArtifacts(client: DbtCloudClient, which: { runId: number } | { jobId: number }): ArtifactSource & { run(): Promise<CloudRun | undefined> } {
  let seen: CloudRun | undefined;
  const label = "runId" in which ? `dbt Cloud run ${which.runId}` : `the newest finished run of dbt Cloud job ${which.jobId}`;
  return {
    description: label,
    run: () => Promise.resolve(seen),
    async read(): Promise<Artifacts> {
      const run = "runId" in which ? await client.run(which.runId) : await client.latestFinishedRun(which.jobId);
      seen = run;
      const step = provingStep(run);
      const where = (file: string): string => `dbt Cloud run ${run.id}, step ${step.index} (${step.name}): ${file}`;
      const fetchJson = async (file: string): Promise<unknown> => {
        const text = await client.artifact(run.id, step.index, file);
        try {
          return JSON.parse(text) as unknown;
        } catch {
          throw new BadInputError(`${where(file)} is not valid JSON`, { where: where(file) });
        }
      };
      const [manifest, runResults] = await Promise.all([fetchJson("manifest.json"), fetchJson("run_results.json")]);
      return { manifest: parseManifest(manifest, where("manifest.json")), runResults: parseRunResults(runResults, where("run_results.json")), manifestPath: where("manifest.json"), runResultsPath: where("run_results.json") };
    },
  };
}
