/** Where the DuckDB database a dbt-duckdb profile target names is, without opening it (no driver loaded). */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { BadInputError } from "../../errors.ts";
import { redactUrlSecrets } from "../../config/secrets.ts";

/** The schema dbt-duckdb builds into when the target names none (and where the ledger goes by default). */
export const DUCKDB_DEFAULT_SCHEMA = "main";

/**
 * The database file the target names, resolved as dbt-duckdb does (relative to the working directory dbt ran in) and
 * required to exist. A MotherDuck database (`md:name?motherduck_token=…`) is refused by name, its token masked: the
 * syncer keeps its ledger in a local file (and would otherwise fetch DuckDB's motherduck extension at run time).
 */
export function duckdbDatabase(config: Record<string, unknown>, cwd: string): string {
  const raw = config.path ?? config.database;
  if (typeof raw !== "string" || raw === "" || raw === ":memory:") {
    throw new BadInputError("the duckdb profile target needs a `path` to a database file (an in-memory database holds nothing dbt built)");
  }
  if (/^(md|motherduck):/i.test(raw)) {
    throw new BadInputError(`the duckdb profile target's path ${redactUrlSecrets(raw)} is a MotherDuck database: the syncer works on a local DuckDB file only (MotherDuck is not supported)`);
  }
  // A path with a query string (?motherduck_token=…, ?access_mode=…) is shown without its secrets.
  const path = resolve(cwd, raw);
  if (!existsSync(path)) {
    const shown = redactUrlSecrets(path);
    throw new BadInputError(`DuckDB database ${shown} does not exist: run \`dbt build\` with this profile target first`, { where: shown });
  }
  return path;
}

/** The directory of the side files (src/ledger/side-files.ts) of a local database file. */
export function sideFilesOf(databaseFile: string): string {
  return `${databaseFile}.activation`;
}
