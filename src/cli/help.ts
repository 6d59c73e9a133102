import { environmentHelp } from "../config/env.ts";

/** Exit codes, as printed by --help (and documented in docs/operations.md). */
export const EXIT_CODES_HELP = `
Exit codes:
  0  every gated contract synced and every row was written
  1  internal error
  2  bad input (flags, artifacts, profiles, a contract, or a contract that does not fit its destination)
  3  at least one contract was held back by its gate (or is paused)
  4  at least one row failed, was rejected before sending, or was not sent (or the destination failed a contract)
  5  generate --check: generated files are missing, stale or left over
  6  a contract was stopped before sending (blast radius, minimum rows)
  7  another runner holds a contract (or the DuckDB file): nothing was done for it
  8  run: dbt build failed and no contract was held back by it, or dbt did not complete (nothing synced)`;

/** The environment a sync reads (every variable: the sync reads them all), generated from src/config/env.ts. */
export const SYNC_ENVIRONMENT_HELP = `
Environment (credentials are read from it only, never from a contract or a flag):
${environmentHelp()}
  and the variables a contract's monitoring.alert names (Slack URL, webhook URL and signing secret, PagerDuty routing key)`;

/** dbt Cloud's variables (--dbt-cloud-run, --dbt-cloud-job, serve) and the warehouse without profiles.yml, from src/config/env.ts. */
export const DBT_CLOUD_ENVIRONMENT_HELP = `Environment:
${environmentHelp(["dbt Cloud", "Warehouse"])}`;
