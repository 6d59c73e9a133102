/** Opens the DuckDB file a dbt-duckdb profile target names. */
import { realpathSync } from "node:fs";
import { DuckDBInstance, type DuckDBConnection } from "@duckdb/node-api";
import { BadInputError, BusyError, errorMessage } from "../../errors.ts";
import { redact, secretValues } from "../../config/secrets.ts";
import type { ConnectOptions } from "../types.ts";
import { DUCKDB_SCRATCH_DATABASE } from "./dialect.ts";
import { duckdbDatabase } from "./path.ts";

/**
 * DuckDB's memory_limit for the syncer's own connection when the profile's `settings:` name none. DuckDB's default
 * (80 % of the machine) lets its cache of table blocks grow with the tables; the plan runs in partitions of about
 * a million rows (src/plan/partitions.ts), which fit in this and spill to disk beyond it (bench/planner.ts measures
 * peak RSS at 1M and 10M rows under it).
 */
export const SYNCER_MEMORY_LIMIT = "256MB";

/**
 * The database files open in this process. DuckDB's file lock keeps other processes out, not this one: a second
 * instance of an open file in the same process would not see the first one's writes, and whichever shuts down last
 * writes its state over the other's (a corrupt file, or a native crash).
 */
const openInThisProcess = new Set<string>();

export interface OpenedDuckDB {
  instance: DuckDBInstance;
  /** To call once the instance is closed: the file may be opened again in this process. */
  release: () => void;
}

/**
 * Attaches the in-memory database the plan's staging table lives in (Dialect.scratchSchema) to a connection's
 * instance: every connection of the instance sees the table, and a killed plan leaves nothing behind in the file.
 */
export async function attachPlanScratch(connection: DuckDBConnection): Promise<void> {
  await connection.run(`attach if not exists ':memory:' as ${DUCKDB_SCRATCH_DATABASE}`);
}

export async function openDuckDB(config: Record<string, unknown>, options: ConnectOptions): Promise<OpenedDuckDB> {
  // dbt-duckdb hands `path` to DuckDB as is, so a relative path is relative to the working directory dbt ran in.
  const path = duckdbDatabase(config, options.cwd ?? process.cwd());
  const file = realpathSync(path);
  if (openInThisProcess.has(file)) {
    throw new BusyError(`DuckDB database ${path} is already open in this process (another sync or command of this process is running on it); nothing was done`);
  }
  openInThisProcess.add(file);
  const release = (): void => void openInThisProcess.delete(file);
  let instance: DuckDBInstance | undefined;
  try {
    // dbt-duckdb's `settings:` (memory_limit, threads, …) apply here too: the planner's join runs in this process.
    const settings = Object.fromEntries(Object.entries((config.settings as Record<string, unknown> | undefined) ?? {}).map(([k, v]) => [k, String(v)]));
    const memory: Record<string, string> = Object.keys(settings).some((k) => ["memory_limit", "max_memory"].includes(k.toLowerCase())) ? {} : { memory_limit: SYNCER_MEMORY_LIMIT };
    instance = await DuckDBInstance.create(path, { ...memory, ...settings, ...(options.readOnly ? { access_mode: "READ_ONLY" } : {}) });
    // Keys and hashed values are cast to text in SQL: with the ICU extension, timestamps with a time zone render in
    // the session's zone, which DuckDB takes from the process (TZ). UTC always, so a key's text never depends on where
    // the syncer runs. Without ICU (it cannot be loaded) DuckDB renders them in UTC already.
    const connection = await instance.connect();
    try {
      await connection.run("set global TimeZone = 'UTC'");
    } catch {
      // No ICU: UTC is what DuckDB does anyway.
    }
    try {
      // A read-only instance writes no plan, and DuckDB refuses an in-memory database in read-only mode.
      if (!options.readOnly) await attachPlanScratch(connection);
    } finally {
      connection.closeSync();
    }
    return { instance, release };
  } catch (error) {
    instance?.closeSync();
    release();
    // DuckDB lets one process at a time open a file for writing: another sync (or dbt) has it open now.
    if (/Could not set lock on file/i.test(errorMessage(error))) {
      throw new BusyError(`DuckDB database ${path} is open in another process (another sync, or dbt, is running); nothing was done`);
    }
    // The driver's message may quote a setting holding a credential (a token in `settings:`).
    throw new BadInputError(`cannot open DuckDB database ${path}: ${redact(errorMessage(error), secretValues({}, (config.settings as Record<string, unknown> | undefined) ?? {}))}`, { where: path });
  }
}
