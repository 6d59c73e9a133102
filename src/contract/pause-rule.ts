/**
 * The contract's pause rule (`monitoring.pause_if`): a run that fails this many rows stops sending and pauses the
 * contract (the kill switch in the warehouse), so the next scheduled run does not repeat the damage before someone
 * looks. Checked between batches and once at the end of the run.
 *
 * The population is the rows attempted in this run (written or failed). Rows held back by an open dead letter
 * (failed permanently and unchanged, or waiting for their backoff) are not attempted, so an old failure cannot trip
 * the rule again. The percentage applies only once `min_attempted` rows (default 20) were attempted: 1 failure of 1
 * row is not 100 % of anything worth pausing for; `failed_rows` (an absolute count) applies at any size.
 */
import { PAUSE_RULE_MIN_ATTEMPTED, type ContractSpec } from "./schema.ts";

export interface RowTally {
  /** Rows the destination answered for in this run: written or failed. */
  attempted: number;
  failed: number;
}

/** Why the rule trips for this tally, or undefined. */
export function pauseRuleTripped(spec: ContractSpec, tally: RowTally): string | undefined {
  const rule = spec.monitoring?.pause_if;
  if (!rule || tally.failed === 0) return undefined;
  if (rule.failed_rows !== undefined && tally.failed >= rule.failed_rows) {
    return `monitoring.pause_if: ${tally.failed} rows failed (the rule pauses at ${rule.failed_rows})`;
  }
  const minAttempted = rule.min_attempted ?? PAUSE_RULE_MIN_ATTEMPTED;
  if (rule.failed_rows_percent !== undefined && tally.attempted >= minAttempted) {
    const percent = (100 * tally.failed) / tally.attempted;
    if (percent >= rule.failed_rows_percent) {
      return `monitoring.pause_if: ${tally.failed} of ${tally.attempted} attempted rows failed (${percent.toFixed(1)} %; the rule pauses at ${rule.failed_rows_percent} % from ${minAttempted} attempted rows)`;
    }
  }
  return undefined;
}
