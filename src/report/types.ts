import type { GateVerdict } from "../dbt/gate.ts";
import type { RejectedKey } from "../eligible/rows.ts";
import type { FailedOutcome } from "../engine/send.ts";

interface OutcomeBase {
  contract: string;
  model: string;
  destination: string;
}

export interface SkippedOutcome extends OutcomeBase {
  status: "skipped";
  reasons: string[];
  gate: GateVerdict;
}

/** The contract passed its gate but does not fit its destination (checked before any write). */
export interface FailedContractOutcome extends OutcomeBase {
  status: "failed";
  reasons: string[];
}

export interface SyncedOutcome extends OutcomeBase {
  status: "synced";
  counts: { eligible: number; created: number; updated: number; failed: number; rejected: number; notSent: number };
  requests: number;
  retries: number;
  failures: FailedOutcome[];
  rejected: RejectedKey[];
  stopped?: string;
  durationMs: number;
}

export type ContractOutcome = SkippedOutcome | FailedContractOutcome | SyncedOutcome;

export interface SyncReport {
  invocationId: string;
  command: string;
  dbtVersion: string | undefined;
  contracts: ContractOutcome[];
  exitCode: number;
}
