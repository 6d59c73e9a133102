import type { AlertRecord } from "../alerts/index.ts";
import type { RemovalAction } from "../contract/rules.ts";
import type { GateVerdict } from "../gate/gate.ts";
import type { RejectedKey } from "../eligible/rows.ts";
import type { FailedOutcome } from "../engine/send.ts";
import type { PlanCounts, PlannedRecord } from "../plan/diff.ts";
import type { GuardSkip } from "../plan/guards.ts";

interface OutcomeBase {
  contract: string;
  model: string;
  destination: string;
}

export interface SkippedOutcome extends OutcomeBase {
  status: "skipped";
  reasons: string[];
  /** Absent when the contract is paused or alert-only (no gate was consulted). */
  gate?: GateVerdict;
}

/** Another runner holds the contract's lease: this run did nothing for it. */
export interface BusyOutcome extends OutcomeBase {
  status: "busy";
  reasons: string[];
}

/**
 * The contract passed its gate but failed as a whole: it does not fit its destination (`mapping`, checked before
 * any write: bad input), or the destination failed the run (`destination`: down before the first write, credentials
 * refused; nothing, or not everything, was sent).
 */
export interface FailedContractOutcome extends OutcomeBase {
  status: "failed";
  cause?: "mapping" | "destination";
  runId?: string;
  reasons: string[];
}

/** A check on the plan stopped the contract before anything was sent (blast radius, minimum rows). */
export interface StoppedOutcome extends OutcomeBase {
  status: "stopped";
  runId: string;
  reasons: string[];
  plan: PlanCounts;
}

/** `plan`: what a sync would do. */
export interface PlannedOutcome extends OutcomeBase {
  status: "planned";
  plan: PlanCounts;
  /** Of the rows to update, how many would change each destination field (names only: no values). */
  fieldChanges: Record<string, number>;
  /** Of the removed rows, how many per action: clear, delete, unlist, keep (recorded), skip (left by `on_removed: keep`). */
  removals: Partial<Record<RemovalAction, number>>;
  /** What would stop the sync before it sends (blast radius, minimum rows, kill switch). */
  wouldStop: string[];
  overridden: string[];
  samples: PlannedRecord[];
  rejected: RejectedKey[];
  /** An alert-only contract (monitoring.alert_only): planned and alerted on at every sync, never written. */
  alertOnly?: boolean;
}

/** How a run that reached the destination ended, as the run log says: only `success` wrote every attempted row. */
export type RunResult = "success" | "partial" | "interrupted" | "paused";

export interface SyncedOutcome extends OutcomeBase {
  status: "synced";
  result: RunResult;
  runId: string;
  /**
   * Every eligible row in exactly one class: created, updated, unchanged, failed (dead-lettered this run), skipped by
   * a guard, not sent (the run ended early), or held back by an open dead letter: failedUnchanged (failed
   * permanently, not changed since) and retryLater (failed transiently, backoff not passed).
   */
  counts: {
    eligible: number;
    created: number;
    updated: number;
    unchanged: number;
    removed: number;
    skipped: number;
    failed: number;
    rejected: number;
    notSent: number;
    failedUnchanged: number;
    retryLater: number;
  };
  /** `replay`: dead-lettered keys not eligible today, not sent, their letters closed with this reason. */
  notEligible?: { key: string; reason: string }[];
  /** Rows the guards did not send (mode, late-arriving protection, overwrite policy, several matches), first ones. */
  skips: GuardSkip[];
  requests: number;
  retries: number;
  failures: FailedOutcome[];
  rejected: RejectedKey[];
  stopped?: string;
  /** Stop checks overridden on the command line, with the reason given. */
  overridden?: string[];
  /** The pause rule (monitoring.pause_if) tripped: the contract is paused until `dbt-activation resume`. */
  paused?: string;
  durationMs: number;
}

export type ContractOutcome = BusyOutcome | SkippedOutcome | FailedContractOutcome | StoppedOutcome | PlannedOutcome | SyncedOutcome;

export interface SyncReport {
  invocationId: string;
  command: string;
  dbtVersion: string | undefined;
  contracts: ContractOutcome[];
  exitCode: number;
  /** What the alerting stage did per contract with monitoring.alert (absent when no contract alerts). */
  alerts?: AlertRecord[];
}
