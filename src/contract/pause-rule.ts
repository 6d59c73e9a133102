/**
 * The contract's pause rule (`monitoring.pause_if`): a run that fails this many rows stops sending and pauses the
 * contract (the kill switch in the warehouse), so the next scheduled run does not repeat the damage before someone
 * looks. Checked between batches and once at the end of the run.
 */
import type { ContractSpec } from "./schema.ts";

/** Below this many attempted rows a failure share is noise, so mid-run only the absolute rule applies. */
export const PAUSE_RULE_MIN_SAMPLE = 1_000;

export interface RowTally {
  /** Rows the destination answered for: written or failed. */
  attempted: number;
  failed: number;
}

/** Why the rule trips for this tally, or undefined. `final`: the run has ended, so any sample counts. */
export function pauseRuleTripped(spec: ContractSpec, tally: RowTally, final: boolean): string | undefined {
  const rule = spec.monitoring?.pause_if;
  if (!rule || tally.failed === 0) return undefined;
  if (rule.failed_rows !== undefined && tally.failed >= rule.failed_rows) {
    return `monitoring.pause_if: ${tally.failed} rows failed (the rule pauses at ${rule.failed_rows})`;
  }
  if (rule.failed_rows_percent !== undefined && (final || tally.attempted >= PAUSE_RULE_MIN_SAMPLE)) {
    const percent = (100 * tally.failed) / Math.max(1, tally.attempted);
    if (percent >= rule.failed_rows_percent) {
      return `monitoring.pause_if: ${tally.failed} of ${tally.attempted} rows failed (${percent.toFixed(1)} %; the rule pauses at ${rule.failed_rows_percent} %)`;
    }
  }
  return undefined;
}
