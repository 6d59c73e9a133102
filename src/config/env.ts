/**
 * The syncer's own environment variables, parsed in one place with zod: a wrong value is bad input (exit 2) naming the
 * variable, never a stack trace. Variables added before this module still parse where they are used (credentials in
 * `src/destinations/`, `DBT_ACTIVATION_LEASE_TTL_MS` in the pipeline): move them here when you touch them.
 */
import { z } from "zod";
import { BadInputError } from "../errors.ts";

const text = z.string().trim().min(1);
const positiveInt = z.coerce.number().int().positive();

/** Every variable this module knows, with what it means (printed by `--help` and checked by the tests against the README). */
export const ENVIRONMENT = {
  DBT_ACTIVATION_DBT: "the dbt executable `run` starts (default: dbt on the PATH)",
  DBT_CLOUD_ACCOUNT_ID: "dbt Cloud account id (for --dbt-cloud-run, --dbt-cloud-job and serve)",
  DBT_CLOUD_API_TOKEN: "dbt Cloud service token or personal access token (read-only is enough)",
  DBT_CLOUD_HOST: "dbt Cloud access URL or host: cloud.getdbt.com (default), emea.dbt.com, au.dbt.com, ACCOUNT_PREFIX.us1.dbt.com, …",
  DBT_CLOUD_WEBHOOK_SECRET: "serve: the secret dbt Cloud shows when the webhook is created (HMAC-SHA256 key)",
  DBT_ACTIVATION_WEBHOOK_MAX_AGE_S: "serve: deliveries whose timestamp is older than this are refused as stale (default 900)",
  DBT_ACTIVATION_THROTTLE_TIMEOUT_MS: "how long a request may stay throttled (429) while the destination accepts no request at all (default 60000)",
} as const;

export type EnvName = keyof typeof ENVIRONMENT;

function read<T>(env: NodeJS.ProcessEnv, name: EnvName, schema: z.ZodType<T>): T | undefined {
  const raw = env[name];
  if (raw === undefined || raw.trim() === "") return undefined;
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new BadInputError(`${name}: ${parsed.error.issues[0]?.message ?? "invalid value"} (${ENVIRONMENT[name]})`);
  return parsed.data;
}

function required<T>(env: NodeJS.ProcessEnv, name: EnvName, schema: z.ZodType<T>, why: string): T {
  const value = read(env, name, schema);
  if (value === undefined) throw new BadInputError(`${name} is not set: ${why} needs it (${ENVIRONMENT[name]})`);
  return value;
}

/** How long a throttled request waits while the destination accepts nothing, before its rows are dead-lettered. */
export function throttleTimeoutMs(env: NodeJS.ProcessEnv): number | undefined {
  return read(env, "DBT_ACTIVATION_THROTTLE_TIMEOUT_MS", positiveInt);
}

/** The dbt executable for `run`. */
export function dbtExecutable(env: NodeJS.ProcessEnv): string {
  return read(env, "DBT_ACTIVATION_DBT", text) ?? "dbt";
}

export interface DbtCloudConfig {
  accountId: number;
  token: string;
  /** Base URL of the account's access URL, e.g. `https://cloud.getdbt.com` (a loopback emulator: `http://127.0.0.1:PORT`). */
  baseUrl: string;
}

/**
 * dbt Cloud's access URL: a bare host gets https; a URL keeps its scheme (http only for loopback, so a token never
 * crosses a network in clear).
 */
export function dbtCloudBaseUrl(host: string): string {
  const withScheme = /^[a-z]+:\/\//i.test(host) ? host : `https://${host}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new BadInputError(`DBT_CLOUD_HOST: "${host}" is not a host or URL`);
  }
  const loopback = ["127.0.0.1", "localhost", "[::1]"].includes(url.hostname);
  if (url.protocol !== "https:" && !(url.protocol === "http:" && loopback)) {
    throw new BadInputError(`DBT_CLOUD_HOST: ${url.protocol} is refused; dbt Cloud is reached over https (http only on loopback, for an emulator)`);
  }
  if (url.pathname !== "/" && url.pathname !== "") throw new BadInputError(`DBT_CLOUD_HOST: give the access URL only (e.g. https://cloud.getdbt.com), not a path (${url.pathname})`);
  return url.origin;
}

export function dbtCloudConfig(env: NodeJS.ProcessEnv, why: string): DbtCloudConfig {
  const accountId = required(env, "DBT_CLOUD_ACCOUNT_ID", positiveInt, why);
  const token = required(env, "DBT_CLOUD_API_TOKEN", text, why);
  return { accountId, token, baseUrl: dbtCloudBaseUrl(read(env, "DBT_CLOUD_HOST", text) ?? "cloud.getdbt.com") };
}

export interface WebhookConfig {
  secret: string;
  maxAgeMs: number;
}

export function webhookConfig(env: NodeJS.ProcessEnv): WebhookConfig {
  const secret = required(env, "DBT_CLOUD_WEBHOOK_SECRET", text, "serve (every delivery's signature is checked)");
  return { secret, maxAgeMs: (read(env, "DBT_ACTIVATION_WEBHOOK_MAX_AGE_S", positiveInt) ?? 900) * 1000 };
}

/** `DBT_ACTIVATION_TARGET_<FIELD>`: one field of a dbt profile target each (`TYPE`, `HOST`, `PORT`, `USER`, …). */
export const TARGET_PREFIX = "DBT_ACTIVATION_TARGET_";

/** Fields dbt's adapters take as numbers: given as text in the environment, they are numbers in the target. */
const NUMERIC_FIELDS = new Set(["port", "threads", "connect_timeout", "keepalives_idle", "retries", "job_execution_timeout_seconds", "job_retries", "maximum_bytes_billed", "login_timeout", "query_timeout"]);

/**
 * The warehouse connection from the environment, for users without a profiles.yml (dbt Cloud keeps the connection
 * itself): `DBT_ACTIVATION_TARGET_TYPE=postgres`, `DBT_ACTIVATION_TARGET_HOST=…`, and so on, one variable per field of
 * the dbt profile target, named as in the profile (upper case). `…_<FIELD>_JSON` gives a nested field as JSON
 * (DuckDB `settings`, BigQuery `keyfile_json`); `true`/`false` are booleans; the numeric fields above are numbers.
 * Undefined unless `DBT_ACTIVATION_TARGET_TYPE` is set.
 */
export function connectionFromEnv(env: NodeJS.ProcessEnv): { config: Record<string, unknown> & { type: string }; source: string } | undefined {
  const type = env[`${TARGET_PREFIX}TYPE`]?.trim();
  const fields = Object.keys(env).filter((k) => k.startsWith(TARGET_PREFIX) && env[k] !== undefined);
  if (!type) {
    if (fields.length > 0) throw new BadInputError(`${fields.sort().join(", ")} set without ${TARGET_PREFIX}TYPE (duckdb, postgres, snowflake or bigquery): set it, or unset them to use profiles.yml`);
    return undefined;
  }
  const config: Record<string, unknown> = {};
  for (const key of fields) {
    const raw = env[key]!;
    let field = key.slice(TARGET_PREFIX.length).toLowerCase();
    if (!/^[a-z][a-z0-9_]*$/.test(field)) throw new BadInputError(`${key}: not a profile field name`);
    let value: unknown = raw;
    if (field.endsWith("_json")) {
      field = field.slice(0, -"_json".length);
      try {
        value = JSON.parse(raw) as unknown;
      } catch {
        // The value may be a secret (a key file): name the variable only.
        throw new BadInputError(`${key} is not valid JSON`);
      }
    } else if (raw === "true" || raw === "false") value = raw === "true";
    else if (NUMERIC_FIELDS.has(field)) {
      const n = z.coerce.number().int().safeParse(raw.trim());
      if (!n.success || raw.trim() === "") throw new BadInputError(`${key} must be a whole number (got ${raw})`);
      value = n.data;
    }
    config[field] = value;
  }
  return { config: { ...config, type }, source: `the environment (${TARGET_PREFIX}*)` };
}
