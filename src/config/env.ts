/**
 * The syncer's environment, in one place: every variable it reads is declared in ENVIRONMENT (what it means, its
 * default and, for a variable with a value to parse, its zod schema and what it expects), read through `readEnv` (the
 * one place that indexes the environment, so a name not declared here does not typecheck), and the help text and the
 * table in docs/operations.md are generated from it. Each value to parse (the tuning numbers, dbt and dbt Cloud's
 * settings) is parsed by `envValue` with the zod schema declared beside it: a wrong one is bad input (exit 2) naming
 * the variable and what it expects. Left where they are used, read raw: the destinations' credentials (through
 * `credential`, white space refused, never trimmed; each destination knows which of them go together and says so),
 * and the names and URLs each reader checks in its own words (paths, base URLs, the pause list, the log format).
 */
import { z } from "zod";
import { BadInputError } from "../errors.ts";

export interface EnvVariable {
  /** Who reads it: the help text and the docs group the variables by this. */
  group: "dbt" | "dbt Cloud" | "Warehouse" | "HubSpot" | "Salesforce" | "Braze" | "Zendesk" | "Sync" | "Alerts";
  about: string;
  default?: string;
  /** How `envValue` parses it (unset or blank is undefined before the schema, which may default it). */
  value?: { schema: z.ZodType; expects: string };
}

/** Text, trimmed (blank is unset). */
const text = { value: { schema: z.string().trim().optional(), expects: "text" } };

function wholeSchema(unit: string, min: number) {
  const of = unit ? ` of ${unit}` : "";
  const expects = min === 0 ? `a whole number${of}, 0 or more` : min === 1 ? `a positive whole number${of}` : `a whole number${of}, at least ${min}`;
  return { schema: z.coerce.number().int().min(min), expects };
}

/** A whole number of `unit`, at least `min`, defaulting to `fallback` (also the default the help text shows). */
function whole(unit: string, min: number, fallback: number) {
  const { schema, expects } = wholeSchema(unit, min);
  return { default: String(fallback), value: { schema: schema.default(fallback), expects } };
}

/**
 * A whole number of `unit`, at least `min`; unset, its reader applies its own default (declared in `default` for the
 * help). `expects` keeps an older wording of the refusal.
 */
function optionalWhole(unit: string, min: number, expects?: string) {
  const parsed = wholeSchema(unit, min);
  return { value: { schema: parsed.schema.optional(), expects: expects ?? parsed.expects } };
}

/** Every variable the syncer reads by a fixed name (printed by `--help`, tabled in docs/operations.md). */
export const ENVIRONMENT = {
  DBT_PROFILES_DIR: { group: "dbt", about: "where profiles.yml is, as in dbt (after --profiles-dir)" },
  DBT_TARGET: { group: "dbt", about: "the profile target, as in dbt (after --target; default: the profile's own)" },
  DBT_TARGET_PATH: { group: "dbt", about: "where dbt writes its artifacts, as in dbt (after --target-path; then target-path in dbt_project.yml)", default: "target" },
  DBT_ACTIVATION_DBT: { group: "dbt", about: "the dbt executable `run` starts", default: "dbt on the PATH", ...text },
  DBT_CLOUD_ACCOUNT_ID: { group: "dbt Cloud", about: "dbt Cloud account id (for --dbt-cloud-run, --dbt-cloud-job and serve)", ...optionalWhole("", 1) },
  DBT_CLOUD_API_TOKEN: { group: "dbt Cloud", about: "dbt Cloud service token or personal access token (read-only is enough)", ...text },
  DBT_CLOUD_HOST: { group: "dbt Cloud", about: "dbt Cloud access URL or host: emea.dbt.com, au.dbt.com, ACCOUNT_PREFIX.us1.dbt.com, …", default: "cloud.getdbt.com", ...text },
  DBT_CLOUD_WEBHOOK_SECRET: { group: "dbt Cloud", about: "serve: the secret dbt Cloud shows when the webhook is created (HMAC-SHA256 key)", ...text },
  DBT_ACTIVATION_WEBHOOK_MAX_AGE_S: { group: "dbt Cloud", about: "serve: deliveries whose timestamp is older than this are refused as stale", ...whole("seconds", 1, 900) },
  DBT_ACTIVATION_TARGET_TYPE: { group: "Warehouse", about: "without profiles.yml: duckdb, postgres, snowflake or bigquery; DBT_ACTIVATION_TARGET_<FIELD> gives each other field of the dbt profile target (_<FIELD>_JSON a nested one)" },
  HUBSPOT_ACCESS_TOKEN: { group: "HubSpot", about: "private app access token" },
  HUBSPOT_CLIENT_ID: { group: "HubSpot", about: "OAuth, with HUBSPOT_CLIENT_SECRET and HUBSPOT_REFRESH_TOKEN (refreshed on 401)" },
  HUBSPOT_CLIENT_SECRET: { group: "HubSpot", about: "OAuth client secret" },
  HUBSPOT_REFRESH_TOKEN: { group: "HubSpot", about: "OAuth refresh token" },
  HUBSPOT_BASE_PATH: { group: "HubSpot", about: "another base URL (an emulator or proxy)", default: "https://api.hubapi.com" },
  HUBSPOT_REQUEST_TIMEOUT_MS: { group: "HubSpot", about: "a call with no byte of answer for this long is abandoned and retried", default: "60000", ...optionalWhole("milliseconds", 1) },
  SALESFORCE_ACCESS_TOKEN: { group: "Salesforce", about: "a static access token, with SALESFORCE_INSTANCE_URL" },
  SALESFORCE_INSTANCE_URL: { group: "Salesforce", about: "the org's instance URL" },
  SALESFORCE_CLIENT_ID: { group: "Salesforce", about: "connected app: with SALESFORCE_CLIENT_SECRET (client credentials) or with SALESFORCE_USERNAME + SALESFORCE_JWT_PRIVATE_KEY (JWT bearer)" },
  SALESFORCE_CLIENT_SECRET: { group: "Salesforce", about: "client credentials flow" },
  SALESFORCE_USERNAME: { group: "Salesforce", about: "JWT bearer flow: the user" },
  SALESFORCE_JWT_PRIVATE_KEY: { group: "Salesforce", about: "JWT bearer flow: the key, PEM or a file path" },
  SALESFORCE_LOGIN_URL: { group: "Salesforce", about: "where tokens are fetched; client credentials need the org's My Domain URL", default: "the instance URL, else https://login.salesforce.com (JWT only)" },
  SALESFORCE_BULK_THRESHOLD: { group: "Salesforce", about: "rows from which a run uses Bulk API 2.0", default: "10000", ...optionalWhole("rows", 1) },
  SALESFORCE_BULK_MAX_RECORDS: { group: "Salesforce", about: "records per Bulk API 2.0 job; four jobs run at once, so this bounds the records held in memory", default: "25000", ...optionalWhole("records", 1) },
  SALESFORCE_BULK_MAX_BYTES: { group: "Salesforce", about: "bytes of CSV (UTF-8) per Bulk API 2.0 job; a batch past it is cut into more jobs (Salesforce takes 150 MB base64-encoded)", default: "100000000", ...optionalWhole("bytes", 1) },
  BRAZE_API_KEY: { group: "Braze", about: "REST API key with users.track, users.delete, users.export.ids, custom_attributes.get" },
  BRAZE_REST_ENDPOINT: { group: "Braze", about: "the instance's REST endpoint, e.g. https://rest.iad-01.braze.com" },
  BRAZE_REQUEST_TIMEOUT_MS: { group: "Braze", about: "per request", default: "60000", ...optionalWhole("milliseconds", 1) },
  ZENDESK_URL: { group: "Zendesk", about: "https://<subdomain>.zendesk.com (plain http only to 127.0.0.1/localhost)" },
  ZENDESK_EMAIL: { group: "Zendesk", about: "with ZENDESK_API_TOKEN: basic auth email/token" },
  ZENDESK_API_TOKEN: { group: "Zendesk", about: "API token" },
  ZENDESK_OAUTH_TOKEN: { group: "Zendesk", about: "bearer token (instead of email and API token)" },
  ZENDESK_REQUESTS_PER_MINUTE: { group: "Zendesk", about: "this syncer's share of the account's per-minute limit", default: "all of it", ...optionalWhole("requests", 1) },
  ZENDESK_REQUEST_TIMEOUT_MS: { group: "Zendesk", about: "per request", default: "60000", ...optionalWhole("milliseconds", 1) },
  DBT_ACTIVATION_PAUSE: { group: "Sync", about: "contracts to hold back (comma separated; * or 1 for all)" },
  DBT_ACTIVATION_LEASE_TTL_MS: { group: "Sync", about: "how long a dead runner's lease blocks its contract", ...whole("milliseconds", 1_000, 180_000) },
  DBT_ACTIVATION_PLAN_PARTITION_ROWS: { group: "Sync", about: "keys per plan query", default: "1000000 on DuckDB; one query elsewhere", ...optionalWhole("rows", 1, "a whole number of rows, at least 1") },
  DBT_ACTIVATION_DEAD_LETTER_BACKOFF_MS: { group: "Sync", about: "first wait before a transient dead letter is retried (doubles with each failure, up to a day)", ...whole("milliseconds", 0, 900_000) },
  DBT_ACTIVATION_THROTTLE_TIMEOUT_MS: { group: "Sync", about: "how long a request may stay throttled (429) while the destination accepts no request at all, before its rows become transient dead letters", default: "60000", ...optionalWhole("milliseconds", 1) },
  DBT_ACTIVATION_CHANGE_LOG_DAYS: { group: "Sync", about: "days of history the change log (activation_change_log) keeps; older rows are deleted as a sync starts; 0 keeps every row", ...whole("days", 0, 90) },
  DBT_ACTIVATION_PROGRESS_INTERVAL_MS: { group: "Sync", about: "how often a progress line is logged when stderr is no terminal", ...whole("milliseconds", 0, 5_000) },
  DBT_ACTIVATION_LOG_FORMAT: { group: "Sync", about: "text or json: the default of --log-format", default: "text" },
  USER: { group: "Sync", about: "who ran sync, run, replay, pause or resume: the actor in the run log and controls (else LOGNAME)" },
  LOGNAME: { group: "Sync", about: "the actor when USER is not set" },
  DBT_ACTIVATION_ALERT_TIMEOUT_MS: { group: "Alerts", about: "per attempt (3 attempts per channel)", ...whole("milliseconds", 1, 10_000) },
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

type Declared = typeof ENVIRONMENT;
/** The variables with a declared schema: the names `envValue` takes. */
export type ParsedEnvName = { [N in EnvName]: Declared[N] extends { value: { schema: z.ZodType } } ? N : never }[EnvName];
/** What `envValue` answers for a variable: its schema's output (undefined when unset and not defaulted). */
export type EnvValue<N extends ParsedEnvName> = Declared[N] extends { value: { schema: infer S extends z.ZodType } } ? z.output<S> : never;

/**
 * The one parse of a variable: its value through its declared schema, defaulted; unset or blank is unset. A refused
 * value is bad input naming the variable and what it expects (after `context`, e.g. the contract that needs it).
 */
export function envValue<N extends ParsedEnvName>(env: NodeJS.ProcessEnv, name: N, context?: string): EnvValue<N> {
  const raw = readEnv(env, name)?.trim();
  const { schema, expects } = (ENVIRONMENT[name] as EnvVariable).value!;
  const parsed = schema.safeParse(raw === "" ? undefined : raw);
  if (!parsed.success) throw new BadInputError(`${context ? `${context}: ` : ""}${name} must be ${expects} (got ${raw})`);
  return parsed.data as EnvValue<N>;
}

function required<N extends ParsedEnvName>(env: NodeJS.ProcessEnv, name: N, why: string): NonNullable<EnvValue<N>> {
  const value = envValue(env, name);
  if (value === undefined) throw new BadInputError(`${name} is not set: ${why} needs it (${ENVIRONMENT[name].about})`);
  return value as NonNullable<EnvValue<N>>;
}

/** The dbt executable for `run`. */
export function dbtExecutable(env: NodeJS.ProcessEnv): string {
  return envValue(env, "DBT_ACTIVATION_DBT") ?? "dbt";
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
  const accountId = required(env, "DBT_CLOUD_ACCOUNT_ID", why);
  const token = required(env, "DBT_CLOUD_API_TOKEN", why);
  return { accountId, token, baseUrl: dbtCloudBaseUrl(envValue(env, "DBT_CLOUD_HOST") ?? "cloud.getdbt.com") };
}

export interface WebhookConfig {
  secret: string;
  maxAgeMs: number;
}

export function webhookConfig(env: NodeJS.ProcessEnv): WebhookConfig {
  const secret = required(env, "DBT_CLOUD_WEBHOOK_SECRET", "serve (every delivery's signature is checked)");
  return { secret, maxAgeMs: envValue(env, "DBT_ACTIVATION_WEBHOOK_MAX_AGE_S") * 1000 };
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
