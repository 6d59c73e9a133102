/** Exit codes, documented in docs/operations.md; an orchestrator branches on them. */
export const EXIT = {
  /** Every gated contract synced and every row was written. */
  ok: 0,
  /** A bug or an unexpected failure (a stack trace is printed). */
  internal: 1,
  /** Bad input: flags, artifacts, profiles, a contract, or a contract that does not fit its destination. */
  badInput: 2,
  /** At least one contract was held back by its gate (nothing else went wrong). */
  gated: 3,
  /** At least one row failed, was rejected before sending, or was not sent. */
  rowsFailed: 4,
  /** `generate --check`: generated files are missing, stale or left over. */
  drift: 5,
  /** A check on the plan stopped at least one contract before it sent anything (blast radius, minimum rows). */
  stopped: 6,
  /** Another runner holds a contract's lease or the warehouse file: this run did nothing there. */
  busy: 7,
  /** `run`: dbt build failed (a node no contract needs), or did not complete (then nothing was synced). */
  dbtFailed: 8,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];
