/**
 * The syncer's environment, in one place: every variable it reads is declared in ENVIRONMENT (what it means, its
 * default), read through `readEnv` (the one place that indexes the environment, so a name not declared here does not
 * typecheck), and the help text and the table in docs/operations.md are generated from it. The newer variables are
 * parsed here with zod (a wrong value is bad input, exit 2, naming the variable); the older ones keep their parsing,
 * and their messages, where they are used (credentials in `src/destinations/`, tuning in the pipeline and ledger).
 */
import { z } from "zod";
import { BadInputError } from "../errors.ts";

const text = z.string().trim().min(1);
const positiveInt = z.coerce.number().int().positive();

export interface EnvVariable {
  /** Who reads it: the help text and the docs group the variables by this. */
  group: "dbt" | "dbt Cloud" | "Warehouse" | "HubSpot" | "Salesforce" | "Braze" | "Zendesk" | "Sync" | "Alerts";
  about: string;
  default?: string;
}

/** Every variable the syncer reads by a fixed name (printed by `--help`, tabled in docs/operations.md). */
export const ENVIRONMENT = {
  DBT_PROFILES_DIR: { group: "dbt", about: "where profiles.yml is, as in dbt (after --profiles-dir)" },
  DBT_TARGET: { group: "dbt", about: "the profile target, as in dbt (after --target; default: the profile's own)" },
  DBT_TARGET_PATH: { group: "dbt", about: "where dbt writes its artifacts, as in dbt (after --target-path; then target-path in dbt_project.yml)", default: "target" },
  DBT_ACTIVATION_DBT: { group: "dbt", about: "the dbt executable `run` starts", default: "dbt on the PATH" },
  DBT_CLOUD_ACCOUNT_ID: { group: "dbt Cloud", about: "dbt Cloud account id (for --dbt-cloud-run, --dbt-cloud-job and serve)" },
  DBT_CLOUD_API_TOKEN: { group: "dbt Cloud", about: "dbt Cloud service token or personal access token (read-only is enough)" },
  DBT_CLOUD_HOST: { group: "dbt Cloud", about: "dbt Cloud access URL or host: emea.dbt.com, au.dbt.com, ACCOUNT_PREFIX.us1.dbt.com, …", default: "cloud.getdbt.com" },
  DBT_CLOUD_WEBHOOK_SECRET: { group: "dbt Cloud", about: "serve: the secret dbt Cloud shows when the webhook is created (HMAC-SHA256 key)" },
  DBT_ACTIVATION_WEBHOOK_MAX_AGE_S: { group: "dbt Cloud", about: "serve: deliveries whose timestamp is older than this are refused as stale", default: "900" },
  DBT_ACTIVATION_TARGET_TYPE: { group: "Warehouse", about: "without profiles.yml: duckdb, postgres, snowflake or bigquery; DBT_ACTIVATION_TARGET_<FIELD> gives each other field of the dbt profile target (_<FIELD>_JSON a nested one)" },
  HUBSPOT_ACCESS_TOKEN: { group: "HubSpot", about: "private app access token" },
  HUBSPOT_CLIENT_ID: { group: "HubSpot", about: "OAuth, with HUBSPOT_CLIENT_SECRET and HUBSPOT_REFRESH_TOKEN (refreshed on 401)" },
  HUBSPOT_CLIENT_SECRET: { group: "HubSpot", about: "OAuth client secret" },
  HUBSPOT_REFRESH_TOKEN: { group: "HubSpot", about: "OAuth refresh token" },
  HUBSPOT_BASE_PATH: { group: "HubSpot", about: "another base URL (an emulator or proxy)", default: "https://api.hubapi.com" },
  HUBSPOT_REQUEST_TIMEOUT_MS: { group: "HubSpot", about: "a call with no byte of answer for this long is abandoned and retried", default: "60000" },
  SALESFORCE_ACCESS_TOKEN: { group: "Salesforce", about: "a static access token, with SALESFORCE_INSTANCE_URL" },
  SALESFORCE_INSTANCE_URL: { group: "Salesforce", about: "the org's instance URL" },
  SALESFORCE_CLIENT_ID: { group: "Salesforce", about: "connected app: with SALESFORCE_CLIENT_SECRET (client credentials) or with SALESFORCE_USERNAME + SALESFORCE_JWT_PRIVATE_KEY (JWT bearer)" },
  SALESFORCE_CLIENT_SECRET: { group: "Salesforce", about: "client credentials flow" },
  SALESFORCE_USERNAME: { group: "Salesforce", about: "JWT bearer flow: the user" },
  SALESFORCE_JWT_PRIVATE_KEY: { group: "Salesforce", about: "JWT bearer flow: the key, PEM or a file path" },
  SALESFORCE_LOGIN_URL: { group: "Salesforce", about: "where tokens are fetched; client credentials need the org's My Domain URL", default: "the instance URL, else https://login.salesforce.com (JWT only)" },
  SALESFORCE_BULK_THRESHOLD: { group: "Salesforce", about: "rows from which a run uses Bulk API 2.0", default: "10000" },
  BRAZE_API_KEY: { group: "Braze", about: "REST API key with users.track, users.delete, users.export.ids, custom_attributes.get" },
  BRAZE_REST_ENDPOINT: { group: "Braze", about: "the instance's REST endpoint, e.g. https://rest.iad-01.braze.com" },
  BRAZE_REQUEST_TIMEOUT_MS: { group: "Braze", about: "per request", default: "60000" },
  ZENDESK_URL: { group: "Zendesk", about: "https://<subdomain>.zendesk.com (plain http only to 127.0.0.1/localhost)" },
  ZENDESK_EMAIL: { group: "Zendesk", about: "with ZENDESK_API_TOKEN: basic auth email/token" },
  ZENDESK_API_TOKEN: { group: "Zendesk", about: "API token" },
  ZENDESK_OAUTH_TOKEN: { group: "Zendesk", about: "bearer token (instead of email and API token)" },
  ZENDESK_REQUESTS_PER_MINUTE: { group: "Zendesk", about: "this syncer's share of the account's per-minute limit", default: "all of it" },
  ZENDESK_REQUEST_TIMEOUT_MS: { group: "Zendesk", about: "per request", default: "60000" },
  DBT_ACTIVATION_PAUSE: { group: "Sync", about: "contracts to hold back (comma separated; * or 1 for all)" },
  DBT_ACTIVATION_LEASE_TTL_MS: { group: "Sync", about: "how long a dead runner's lease blocks its contract", default: "180000" },
  DBT_ACTIVATION_PLAN_PARTITION_ROWS: { group: "Sync", about: "keys per plan query", default: "1000000 on DuckDB; one query elsewhere" },
  DBT_ACTIVATION_DEAD_LETTER_BACKOFF_MS: { group: "Sync", about: "first wait before a transient dead letter is retried (doubles with each failure, up to a day)", default: "900000" },
  DBT_ACTIVATION_THROTTLE_TIMEOUT_MS: { group: "Sync", about: "how long a request may stay throttled (429) while the destination accepts no request at all, before its rows become transient dead letters", default: "60000" },
  DBT_ACTIVATION_CHANGE_LOG_DAYS: { group: "Sync", about: "days of history the change log (activation_change_log) keeps; older rows are deleted as a sync starts; 0 keeps every row", default: "90" },
  DBT_ACTIVATION_PROGRESS_INTERVAL_MS: { group: "Sync", about: "how often a progress line is logged when stderr is no terminal", default: "5000" },
  DBT_ACTIVATION_LOG_FORMAT: { group: "Sync", about: "text or json: the default of --log-format", default: "text" },
  USER: { group: "Sync", about: "who ran sync, run, replay, pause or resume: the actor in the run log and controls (else LOGNAME)" },
  LOGNAME: { group: "Sync", about: "the actor when USER is not set" },
  DBT_ACTIVATION_ALERT_TIMEOUT_MS: { group: "Alerts", about: "per attempt (3 attempts per channel)", default: "10000" },
  DBT_ACTIVATION_PAGERDUTY_URL: { group: "Alerts", about: "where PagerDuty events go (a proxy)", default: "https://events.pagerduty.com/v2/enqueue" },
} as const satisfies Record<string, EnvVariable>;

export type EnvName = keyof typeof ENVIRONMENT;

/** The one read of a declared variable: its raw value (each caller trims and parses as it always has). */
export function readEnv(env: NodeJS.ProcessEnv, name: EnvName): string | undefined {
  return env[name];
}

/** Who runs this command, as recorded in the run log and the controls: `$USER`, else `$LOGNAME`. */
export function actorFromEnv(env: NodeJS.ProcessEnv): string | undefined {
  return readEnv(env, "USER") ?? readEnv(env, "LOGNAME");
}

/**
 * A variable a contract or a profile names (`monitoring.alert.*_env`, dbt's `env_var('…')`): not declared here, since the project chooses it; read here
 * all the same, so every read of the environment stays in this module.
 */
export function readNamedEnv(env: NodeJS.ProcessEnv, name: string): string | undefined {
  return env[name];
}

export const GROUPS: readonly EnvVariable["group"][] = ["dbt", "dbt Cloud", "Warehouse", "HubSpot", "Salesforce", "Braze", "Zendesk", "Sync", "Alerts"];

/** The help text for a set of groups (all of them by default), generated from ENVIRONMENT. */
export function environmentHelp(groups: readonly EnvVariable["group"][] = GROUPS): string {
  const names = (Object.keys(ENVIRONMENT) as EnvName[]).filter((n) => groups.includes(ENVIRONMENT[n].group));
  const width = Math.max(...names.map((n) => n.length)) + 2;
  const lines: string[] = [];
  for (const group of groups) {
    lines.push(`  ${group}:`);
    for (const name of names.filter((n) => ENVIRONMENT[n].group === group)) {
      const v: EnvVariable = ENVIRONMENT[name];
      lines.push(`    ${name.padEnd(width)}${v.about}${v.default ? `; default ${v.default}` : ""}`);
    }
  }
  return lines.join("\n");
}

function read<T>(env: NodeJS.ProcessEnv, name: EnvName, schema: z.ZodType<T>): T | undefined {
  const raw = readEnv(env, name);
  if (raw === undefined || raw.trim() === "") return undefined;
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new BadInputError(`${name}: ${parsed.error.issues[0]?.message ?? "invalid value"} (${ENVIRONMENT[name].about})`);
  return parsed.data;
}

function required<T>(env: NodeJS.ProcessEnv, name: EnvName, schema: z.ZodType<T>, why: string): T {
  const value = read(env, name, schema);
  if (value === undefined) throw new BadInputError(`${name} is not set: ${why} needs it (${ENVIRONMENT[name].about})`);
  return value;
}

/** How long a throttled request waits while the destination accepts nothing, before its rows are dead-lettered. */
export function throttleTimeoutMs(env: NodeJS.ProcessEnv): number | undefined {
  return read(env, "DBT_ACTIVATION_THROTTLE_TIMEOUT_MS", positiveInt);
}

/** Days of change-log history a sync keeps (0: all); bad values are bad input before any run starts. */
export function changeLogRetentionDays(env: NodeJS.ProcessEnv): number {
  return read(env, "DBT_ACTIVATION_CHANGE_LOG_DAYS", z.coerce.number().int().min(0)) ?? 90;
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
  const type = readEnv(env, "DBT_ACTIVATION_TARGET_TYPE")?.trim();
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

/**
 * A credential from the environment (a token, key, secret or client id), exactly as given; unset or empty is
 * undefined. White space around it is bad input naming the variable, never trimmed and never sent: a token read from a
 * file with `echo` or `cat` carries a newline, which the destination would answer with a 401 far from the cause.
 */
export function credential(env: NodeJS.ProcessEnv, name: string, context?: string): string | undefined {
  const value = env[name];
  if (value === undefined || value === "") return undefined;
  if (value.trim() !== value) {
    const what = /\n|\r/.test(value) ? "a line break" : "white space";
    throw new BadInputError(
      `${context ? `${context}: ` : ""}${name} begins or ends with ${what} (a value read from a file with echo or cat carries one): set it without, e.g. ${name}="$(tr -d '\\n' < file)"`,
    );
  }
  return value;
}
