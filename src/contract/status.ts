/**
 * Whether a contract's status is allowed: `launch` needs every launch-readiness check to pass; `caveats` runs only
 * alert-only (`monitoring.alert_only: true`) or as a limited rollout (`rollout.percent < 100`); `paused` never runs.
 * The one rule for `validate` and the syncer.
 */
import type { Readiness } from "./readiness.ts";
import type { ContractSpec } from "./schema.ts";

export interface StatusProblem {
  /** The contract field to add or fix, dotted (`owners.destination`). */
  path: string;
  message: string;
}

/** The field a readiness reason names: the text before its first `: `. */
export function reasonField(reason: string): string {
  const colon = reason.indexOf(": ");
  return colon > 0 ? reason.slice(0, colon) : "status";
}

export function statusProblems(spec: ContractSpec, readiness: Readiness): StatusProblem[] {
  if (spec.status === "launch") {
    return readiness.reasons.map((reason) => ({
      path: reasonField(reason),
      message: `not launch-ready, yet status is launch: ${reason.slice(reasonField(reason).length).replace(/^: /, "")}`,
    }));
  }
  if (spec.status === "caveats" && !spec.monitoring?.alert_only && !(spec.rollout && spec.rollout.percent < 100)) {
    return [{ path: "status", message: "caveats runs alert-only (monitoring.alert_only: true) or as a limited rollout (rollout.percent < 100)" }];
  }
  return [];
}
