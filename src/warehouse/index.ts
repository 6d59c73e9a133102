import { BadInputError } from "../errors.ts";
import type { ProfileTarget } from "../dbt/profiles.ts";
import { BigQueryWarehouse } from "./bigquery/adapter.ts";
import { bigqueryTarget } from "./bigquery/driver.ts";
import { DuckDBWarehouse } from "./duckdb/adapter.ts";
import { openDuckDB } from "./duckdb/driver.ts";
import { PostgresWarehouse } from "./postgres/adapter.ts";
import { openPostgres } from "./postgres/driver.ts";
import { stringField } from "./redact.ts";
import { SnowflakeWarehouse } from "./snowflake/adapter.ts";
import { openSnowflake } from "./snowflake/driver.ts";
import type { ConnectOptions, Warehouse } from "./types.ts";

export type { SqlParam, Warehouse, WarehouseRow, WarehouseValue } from "./types.ts";

export const SUPPORTED_WAREHOUSES = ["duckdb", "postgres", "snowflake", "bigquery"] as const;

/** Connects to the warehouse a dbt profile target describes. */
export async function connectWarehouse(target: ProfileTarget, options: ConnectOptions = {}): Promise<Warehouse> {
  const config = target.config;
  switch (config.type) {
    case "duckdb": {
      const instance = await openDuckDB(config, options);
      return new DuckDBWarehouse(instance, await instance.connect(), stringField(config, "schema") ?? "main");
    }
    case "postgres":
      return new PostgresWarehouse(await openPostgres(config, options), stringField(config, "schema") ?? "public");
    case "snowflake":
      return new SnowflakeWarehouse(await openSnowflake(config, options), stringField(config, "schema") ?? "public");
    case "bigquery": {
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
