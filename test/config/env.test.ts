/**
 * The environment's values, each parsed once by the schema declared beside it in src/config/env.ts: a good value is
 * parsed, unset or blank takes the default, and each kind of bad value is bad input naming the variable and what it
 * expects, through `envValue`, through the readers that use it, and through the real CLI (exit 2, no stack trace,
 * before anything runs).
 */
import { describe, expect, it } from "vitest";
import { dbtCloudConfig, ENVIRONMENT, envValue, webhookConfig, type ParsedEnvName } from "../../src/config/env.ts";
import { backoffBaseMs } from "../../src/ledger/failures.ts";
import { BadInputError } from "../../src/errors.ts";
import { runCli } from "../support/cli.ts";

interface Tuning {
  name: ParsedEnvName;
  /** What the refusal says the variable expects. */
  expects: RegExp;
  good: [string, number];
  /** Unset: the default, or undefined where the reader applies its own. */
  unset: number | undefined;
  /** Each refused by the schema only: not a number, not whole, below the least value. */
  bad: string[];
}

const TUNING: Tuning[] = [
  { name: "DBT_ACTIVATION_LEASE_TTL_MS", expects: /a whole number of milliseconds, at least 1000/, good: ["5000", 5000], unset: 180_000, bad: ["soon", "1500.5", "999", "-1000"] },
  { name: "DBT_ACTIVATION_PLAN_PARTITION_ROWS", expects: /a whole number of rows, at least 1/, good: ["3", 3], unset: undefined, bad: ["lots", "2.5", "0", "-3"] },
  { name: "DBT_ACTIVATION_DEAD_LETTER_BACKOFF_MS", expects: /a whole number of milliseconds, 0 or more/, good: ["0", 0], unset: 900_000, bad: ["later", "0.5", "-1"] },
  { name: "DBT_ACTIVATION_THROTTLE_TIMEOUT_MS", expects: /a positive whole number of milliseconds/, good: ["2000", 2000], unset: undefined, bad: ["soon", "1.5", "0", "-5"] },
  { name: "DBT_ACTIVATION_CHANGE_LOG_DAYS", expects: /a whole number of days, 0 or more/, good: ["30", 30], unset: 90, bad: ["forever", "7.5", "-1"] },
  { name: "DBT_ACTIVATION_PROGRESS_INTERVAL_MS", expects: /a whole number of milliseconds, 0 or more/, good: ["0", 0], unset: 5_000, bad: ["often", "2.5", "-1"] },
  { name: "DBT_ACTIVATION_ALERT_TIMEOUT_MS", expects: /a positive whole number of milliseconds/, good: ["300", 300], unset: 10_000, bad: ["soon", "0.5", "0"] },
  { name: "DBT_ACTIVATION_WEBHOOK_MAX_AGE_S", expects: /a positive whole number of seconds/, good: ["60", 60], unset: 900, bad: ["stale", "1.5", "0"] },
  { name: "HUBSPOT_REQUEST_TIMEOUT_MS", expects: /a positive whole number of milliseconds/, good: ["5000", 5000], unset: undefined, bad: ["soon", "1.5", "0"] },
  { name: "BRAZE_REQUEST_TIMEOUT_MS", expects: /a positive whole number of milliseconds/, good: ["5000", 5000], unset: undefined, bad: ["soon", "1.5", "0"] },
  { name: "ZENDESK_REQUEST_TIMEOUT_MS", expects: /a positive whole number of milliseconds/, good: ["5000", 5000], unset: undefined, bad: ["soon", "1.5", "0"] },
  { name: "ZENDESK_REQUESTS_PER_MINUTE", expects: /a positive whole number of requests/, good: ["120", 120], unset: undefined, bad: ["lots", "1.5", "0"] },
  { name: "SALESFORCE_BULK_THRESHOLD", expects: /a positive whole number of rows/, good: ["300", 300], unset: undefined, bad: ["many", "1.5", "0"] },
  { name: "SALESFORCE_BULK_MAX_RECORDS", expects: /a positive whole number of records/, good: ["10000", 10_000], unset: undefined, bad: ["25k", "1.5", "0"] },
  { name: "SALESFORCE_BULK_MAX_BYTES", expects: /a positive whole number of bytes/, good: ["50000000", 50_000_000], unset: undefined, bad: ["100MB", "1.5", "0"] },
  { name: "DBT_CLOUD_ACCOUNT_ID", expects: /a positive whole number \(got/, good: ["43", 43], unset: undefined, bad: ["acme", "4.3", "0"] },
];

/** The refusal `envValue` throws for a value, or undefined when it takes it. */
function refusal(name: ParsedEnvName, value: string, context?: string): BadInputError | undefined {
  try {
    envValue({ [name]: value }, name, context);
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(BadInputError);
    return error as BadInputError;
  }
}

describe.each(TUNING)("$name", ({ name, expects, good, unset, bad }) => {
  it("parses a good value (white space around it too) and takes the default when unset or blank", () => {
    expect(envValue({ [name]: good[0] }, name)).toBe(good[1]);
    expect(envValue({ [name]: ` ${good[0]}\n` }, name)).toBe(good[1]);
    expect(envValue({}, name)).toBe(unset);
    expect(envValue({ [name]: "  " }, name)).toBe(unset);
  });

  it("refuses each bad value as bad input naming the variable, what it expects and the value", () => {
    for (const value of bad) {
      const error = refusal(name, value);
      expect(error?.message, `${name}=${value}`).toMatch(new RegExp(`^${name} must be `));
      expect(error?.message).toMatch(expects);
      expect(error?.message).toContain(`(got ${value})`);
    }
    expect(refusal(name, bad[0]!, "contract c")?.message).toMatch(new RegExp(`^contract c: ${name} must be `));
  });

  it("is declared with the schema that refuses (the help text shows its default)", () => {
    const declared = ENVIRONMENT[name] as { value?: unknown; default?: string };
    expect(declared.value).toBeDefined();
    if (unset !== undefined) expect(declared.default).toBe(String(unset));
  });
});

describe("the readers parse through the declared schemas", () => {
  it("dead-letter backoff, webhook age and dbt Cloud account refuse what the schema refuses", () => {
    expect(backoffBaseMs({})).toBe(900_000);
    expect(() => backoffBaseMs({ DBT_ACTIVATION_DEAD_LETTER_BACKOFF_MS: "-1" })).toThrow(/DBT_ACTIVATION_DEAD_LETTER_BACKOFF_MS must be a whole number of milliseconds, 0 or more \(got -1\)/);
    expect(webhookConfig({ DBT_CLOUD_WEBHOOK_SECRET: " s ", DBT_ACTIVATION_WEBHOOK_MAX_AGE_S: "60" })).toEqual({ secret: "s", maxAgeMs: 60_000 });
    expect(() => webhookConfig({ DBT_CLOUD_WEBHOOK_SECRET: "s", DBT_ACTIVATION_WEBHOOK_MAX_AGE_S: "1.5" })).toThrow(/DBT_ACTIVATION_WEBHOOK_MAX_AGE_S must be a positive whole number of seconds/);
    expect(() => webhookConfig({})).toThrow(/DBT_CLOUD_WEBHOOK_SECRET is not set: serve/);
    const cloud = { DBT_CLOUD_API_TOKEN: "t", DBT_CLOUD_HOST: "http://127.0.0.1:9" };
    expect(dbtCloudConfig({ ...cloud, DBT_CLOUD_ACCOUNT_ID: "43" }, "serve")).toEqual({ accountId: 43, token: "t", baseUrl: "http://127.0.0.1:9" });
    expect(() => dbtCloudConfig({ ...cloud, DBT_CLOUD_ACCOUNT_ID: "acme" }, "serve")).toThrow(/DBT_CLOUD_ACCOUNT_ID must be a positive whole number \(got acme\)/);
    expect(() => dbtCloudConfig({ DBT_CLOUD_API_TOKEN: "t" }, "serve")).toThrow(/DBT_CLOUD_ACCOUNT_ID is not set: serve needs it/);
  });
});

describe("the CLI", () => {
  // `sync` parses the run-wide values before it reads anything: no project is needed to be refused.
  it.each(["DBT_ACTIVATION_THROTTLE_TIMEOUT_MS", "DBT_ACTIVATION_ALERT_TIMEOUT_MS", "DBT_ACTIVATION_CHANGE_LOG_DAYS", "DBT_ACTIVATION_PROGRESS_INTERVAL_MS"])(
    "refuses a bad %s before a sync starts: exit 2, the variable named, no stack trace",
    async (name) => {
      const run = await runCli(["sync", "--project-dir", "/nonexistent-project"], { [name]: "-1.5" });
      expect(run.exitCode, run.stderr).toBe(2);
      expect(run.stderr).toContain(`${name} must be `);
      expect(run.stderr).not.toMatch(/\n\s+at /);
    },
  );
});
