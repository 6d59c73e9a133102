/**
 * Stops before anything is sent: checks on the plan that, when they fail, end the contract's run with zero writes
 * and a run-log entry. Blast radius (`gates.max_change`) may be overridden, but only with a stated reason.
 */
import type { ContractSpec } from "../contract/schema.ts";
import { actsOnRemoved } from "../contract/rules.ts";
import type { PlanCounts } from "./diff.ts";

export interface Overrides {
  allowLargeChange?: { reason: string } | undefined;
}

export interface StopCheck {
  stops: string[];
  /** Checks that would have stopped the run but were overridden, with the reason given. */
  overridden: string[];
}

export function stopChecks(spec: ContractSpec, plan: Pick<PlanCounts, "eligible" | "create" | "update" | "unchanged" | "removed"> & { removable?: number | undefined }, overrides: Overrides = {}): StopCheck {
  // Every synced ledger row is either still eligible (update, unchanged) or removed.
  const ledgerRows = plan.update + plan.unchanged + plan.removed;
  const stops: string[] = [];
  const overridden: string[] = [];
  const gates = spec.gates;
  if (gates?.min_rows !== undefined && plan.eligible < gates.min_rows) {
    stops.push(`gates.min_rows: ${plan.eligible} eligible rows, fewer than ${gates.min_rows}`);
  }
  const maxChange = gates?.max_change;
  if (maxChange) {
    // Removed rows count only where the sync acts on them (the plan says which: consent and exclude removals too).
    const changed = plan.create + plan.update + (plan.removable ?? (actsOnRemoved(spec) ? plan.removed : 0));
    const problems: string[] = [];
    if (maxChange.rows !== undefined && changed > maxChange.rows) problems.push(`${changed} rows would change, more than gates.max_change.rows ${maxChange.rows}`);
    // Before the first sync every row is new: a percentage of nothing says nothing, so only the row limit applies.
    if (maxChange.percent !== undefined && ledgerRows > 0) {
      const percent = (100 * changed) / ledgerRows;
      if (percent > maxChange.percent) problems.push(`${percent.toFixed(1)}% of the ${ledgerRows} synced rows would change, more than gates.max_change.percent ${maxChange.percent}`);
    }
    for (const problem of problems) {
      if (overrides.allowLargeChange) overridden.push(`blast radius: ${problem} (allowed: ${overrides.allowLargeChange.reason})`);
      else stops.push(`blast radius: ${problem}; rerun with --allow-large-change --reason "…" if this change is intended`);
    }
  }
  return { stops, overridden };
}
