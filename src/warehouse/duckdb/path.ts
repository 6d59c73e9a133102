/** Where the DuckDB database a dbt-duckdb profile target names is, without opening it (no driver loaded). */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { BadInputError } from "../../errors.ts";
import { redactUrlSecrets } from "../redact.ts";

/** The schema dbt-duckdb builds into when the target names none (and where the ledger goes by default). */
export const DUCKDB_DEFAULT_SCHEMA = "main";

/** A MotherDuck database (`md:name?motherduck_token=…`) is a service, not a file: no file lock, no side files. */
export function isMotherDuck(path: string): boolean {
  return /^(md|motherduck):/i.test(path);
}

/**
 * The database the target names: a local file, resolved as dbt-duckdb does (relative to the working directory dbt
 * ran in) and required to exist, or a MotherDuck path as written. Messages never carry the path's token.
 */
export function duckdbDatabase(config: Record<string, unknown>, cwd: string): { path: string; shown: string; file: boolean } {
  const raw = config.path ?? config.database;
  if (typeof raw !== "string" || raw === "" || raw === ":memory:") {
    throw new BadInputError("the duckdb profile target needs a `path` to a database file (an in-memory database holds nothing dbt built)");
  }
  if (isMotherDuck(raw)) return { path: raw, shown: redactUrlSecrets(raw), file: false };
  const path = resolve(cwd, raw);
  if (!existsSync(path)) {
    throw new BadInputError(`DuckDB database ${path} does not exist: run \`dbt build\` with this profile target first`, { where: path });
  }
  return { path, shown: path, file: true };
}

/** The directory of the side files (src/ledger/side-files.ts) of a local database file. */
export function sideFilesOf(databaseFile: string): string {
  return `${databaseFile}.activation`;
}
