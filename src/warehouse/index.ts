import { BadInputError } from "../errors.ts";
import type { ProfileTarget } from "../dbt/profiles.ts";
import { DuckDBWarehouse } from "./duckdb/adapter.ts";
import { openDuckDB } from "./duckdb/driver.ts";
import type { ConnectOptions, Warehouse } from "./types.ts";

export type { SqlParam, Warehouse, WarehouseRow, WarehouseValue } from "./types.ts";

/** Connects to the warehouse a dbt profile target describes. */
export async function connectWarehouse(target: ProfileTarget, options: ConnectOptions = {}): Promise<Warehouse> {
  switch (target.config.type) {
    case "duckdb": {
      const instance = await openDuckDB(target.config, options);
      const schema = typeof target.config.schema === "string" && target.config.schema ? target.config.schema : "main";
      return new DuckDBWarehouse(instance, await instance.connect(), schema);
    }
    default:
      throw new BadInputError(
        `profile ${target.profile}, target ${target.target}: warehouse type "${target.config.type}" is not supported yet (supported: duckdb)`,
        { where: target.profilesPath },
      );
  }
}
