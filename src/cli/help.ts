/** Exit codes, as printed by --help (and documented in the README). */
export const EXIT_CODES_HELP = `
Exit codes:
  0  every gated contract synced and every row was written
  1  internal error
  2  bad input (flags, artifacts, profiles, a contract, or a contract that does not fit its destination)
  3  at least one contract was held back by its gate (or is paused)
  4  at least one row failed, was rejected before sending, or was not sent
  5  generate --check: generated files are missing, stale or left over
  6  a contract was stopped before sending (blast radius, minimum rows)
  7  another runner holds a contract (or the DuckDB file): nothing was done for it`;
