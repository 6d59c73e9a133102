import { BadInputError } from "../errors.ts";
import type { ProfileTarget } from "../dbt/profiles.ts";
import { join } from "node:path";
import { DUCKDB_DEFAULT_SCHEMA, duckdbDatabase, sideFilesOf } from "./duckdb/path.ts";
import { stringField } from "./fields.ts";
import type { ConnectOptions, Warehouse } from "./types.ts";

export type { SqlParam, Warehouse, WarehouseRow, WarehouseValue } from "./types.ts";

export const SUPPORTED_WAREHOUSES = ["duckdb", "postgres", "snowflake", "bigquery"] as const;

/**
 * Loads one engine's modules, and with them its driver packages, only when a profile names that engine: a DuckDB run
 * never loads snowflake-sdk (seconds of start-up) or the BigQuery client. The drivers of PostgreSQL, Snowflake and
 * BigQuery are optional dependencies (package.json): one that is not installed is a clear error naming the package to
 * install (the one Node could not find, else all of the engine's), not a stack trace.
 */
export async function loadEngine<T>(load: () => Promise<T>, driverPackages: readonly string[], type: string): Promise<T> {
  try {
    return await load();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code !== "ERR_MODULE_NOT_FOUND" && code !== "MODULE_NOT_FOUND") throw error;
    // Node says "Cannot find package 'pg-cursor' imported from …" (ESM) or "Cannot find module 'pg-cursor'" (CommonJS).
    const named = /Cannot find (?:package|module) '([^']+)'/.exec(error instanceof Error ? error.message : "")?.[1];
    const missing = driverPackages.filter((p) => named === p || named?.startsWith(`${p}/`));
    const install = missing.length > 0 ? missing : driverPackages;
    throw new BadInputError(
      `the profile's warehouse type ${type} needs the npm package${install.length > 1 ? "s" : ""} ${install.join(", ")}, which ${install.length > 1 ? "are" : "is"} not installed: npm install ${install.join(" ")}`,
    );
  }
}

/** The npm packages each engine's driver needs (all optional but DuckDB's). */
export const DRIVER_PACKAGES = {
  duckdb: ["@duckdb/node-api"],
  postgres: ["pg", "pg-cursor"],
  snowflake: ["snowflake-sdk"],
  bigquery: ["@google-cloud/bigquery", "google-auth-library"],
} as const satisfies Record<(typeof SUPPORTED_WAREHOUSES)[number], readonly string[]>;

/** Connects to the warehouse a dbt profile target describes. */
export async function connectWarehouse(target: ProfileTarget, options: ConnectOptions = {}): Promise<Warehouse> {
  const config = target.config;
  switch (config.type) {
    case "duckdb": {
      const [{ DuckDBWarehouse }, { openDuckDB }] = await loadEngine(() => Promise.all([import("./duckdb/adapter.ts"), import("./duckdb/driver.ts")]), DRIVER_PACKAGES.duckdb, "duckdb");
      const { instance, release } = await openDuckDB(config, options);
      try {
        return new DuckDBWarehouse(instance, await instance.connect(), stringField(config, "schema") ?? DUCKDB_DEFAULT_SCHEMA, release);
      } catch (error) {
        instance.closeSync();
        release();
        throw error;
      }
    }
    case "postgres": {
      const [{ PostgresWarehouse }, { openPostgres }] = await loadEngine(() => Promise.all([import("./postgres/adapter.ts"), import("./postgres/driver.ts")]), DRIVER_PACKAGES.postgres, "postgres");
      return new PostgresWarehouse(await openPostgres(config, options), stringField(config, "schema") ?? "public");
    }
    case "snowflake": {
      const [{ SnowflakeWarehouse }, { openSnowflake }] = await loadEngine(() => Promise.all([import("./snowflake/adapter.ts"), import("./snowflake/driver.ts")]), DRIVER_PACKAGES.snowflake, "snowflake");
      return new SnowflakeWarehouse(await openSnowflake(config, options), stringField(config, "schema") ?? "public");
    }
    case "bigquery": {
      const [{ BigQueryWarehouse }, { bigqueryTarget }] = await loadEngine(() => Promise.all([import("./bigquery/adapter.ts"), import("./bigquery/driver.ts")]), DRIVER_PACKAGES.bigquery, "bigquery");
      const { client, dataset, location } = bigqueryTarget(config, options);
      return new BigQueryWarehouse(client, dataset, location);
    }
    default:
      throw new BadInputError(
        `profile ${target.profile}, target ${target.target}: warehouse type "${config.type}" is not supported (supported: ${SUPPORTED_WAREHOUSES.join(", ")})`,
        { where: target.profilesPath },
      );
  }
}

/**
 * The directory where the ledger keeps what other processes must reach while one holds the warehouse (the kill switch,
 * the running sync's status: src/ledger/side-files.ts), for engines that admit one process at a time: a local DuckDB
 * file. Undefined for every other engine (their ledger tables serve every process). Opens nothing.
 */
export function sideFilesDir(target: ProfileTarget, ledgerSchema: string | undefined, options: ConnectOptions = {}): string | undefined {
  if (target.config.type !== "duckdb") return undefined;
  const database = duckdbDatabase(target.config, options.cwd ?? process.cwd());
  return join(sideFilesOf(database), encodeURIComponent(ledgerSchema ?? stringField(target.config, "schema") ?? DUCKDB_DEFAULT_SCHEMA));
}
