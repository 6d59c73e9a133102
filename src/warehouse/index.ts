import { BadInputError } from "../errors.ts";
import type { ProfileTarget } from "../dbt/profiles.ts";
import { join } from "node:path";
import { DUCKDB_DEFAULT_SCHEMA, duckdbDatabase, sideFilesOf } from "./duckdb/path.ts";
import { stringField } from "./fields.ts";
import type { ConnectOptions, Warehouse } from "./types.ts";

export type { SqlParam, Warehouse, WarehouseRow, WarehouseValue } from "./types.ts";

export const SUPPORTED_WAREHOUSES = ["duckdb", "postgres", "snowflake", "bigquery"] as const;

/**
 * Loads one engine's modules, and with them its driver package, only when a profile names that engine: a DuckDB run
 * never loads snowflake-sdk (seconds of start-up) or the BigQuery client. A driver package that is not installed is
 * a clear error naming the package, not a stack trace.
 */
export async function loadEngine<T>(load: () => Promise<T>, driverPackage: string, type: string): Promise<T> {
  try {
    return await load();
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code !== "ERR_MODULE_NOT_FOUND" && code !== "MODULE_NOT_FOUND") throw error;
    throw new BadInputError(`the profile's warehouse type ${type} needs the npm package ${driverPackage}, which is not installed: npm install ${driverPackage}`);
  }
}

/** Connects to the warehouse a dbt profile target describes. */
export async function connectWarehouse(target: ProfileTarget, options: ConnectOptions = {}): Promise<Warehouse> {
  const config = target.config;
  switch (config.type) {
    case "duckdb": {
      const [{ DuckDBWarehouse }, { openDuckDB }] = await loadEngine(() => Promise.all([import("./duckdb/adapter.ts"), import("./duckdb/driver.ts")]), "@duckdb/node-api", "duckdb");
      const instance = await openDuckDB(config, options);
      return new DuckDBWarehouse(instance, await instance.connect(), stringField(config, "schema") ?? DUCKDB_DEFAULT_SCHEMA);
    }
    case "postgres": {
      const [{ PostgresWarehouse }, { openPostgres }] = await loadEngine(() => Promise.all([import("./postgres/adapter.ts"), import("./postgres/driver.ts")]), "pg", "postgres");
      return new PostgresWarehouse(await openPostgres(config, options), stringField(config, "schema") ?? "public");
    }
    case "snowflake": {
      const [{ SnowflakeWarehouse }, { openSnowflake }] = await loadEngine(() => Promise.all([import("./snowflake/adapter.ts"), import("./snowflake/driver.ts")]), "snowflake-sdk", "snowflake");
      return new SnowflakeWarehouse(await openSnowflake(config, options), stringField(config, "schema") ?? "public");
    }
    case "bigquery": {
      const [{ BigQueryWarehouse }, { bigqueryTarget }] = await loadEngine(() => Promise.all([import("./bigquery/adapter.ts"), import("./bigquery/driver.ts")]), "@google-cloud/bigquery", "bigquery");
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
