/** `pause`, `resume` and `status`: the kill switch, and what the syncer's tables say about each contract. */
import { BadInputError } from "../errors.ts";
import { ALL_CONTRACTS, type PauseState } from "../ledger/controls.ts";
import { ledgerStates, type ContractLedgerState } from "../ledger/status.ts";
import { openLedgerSession, type SessionOptions } from "./session.ts";

export { ALL_CONTRACTS };

/** `--contract C` or `--all`, exactly one. */
export function contractScope(opts: { contract?: string | undefined; all?: boolean | undefined }): string {
  if (Boolean(opts.contract) === Boolean(opts.all)) throw new BadInputError("name one --contract, or --all");
  return opts.all ? ALL_CONTRACTS : opts.contract!;
}

/** Throws or lifts the kill switch for a contract (or `*`), recorded with who and why. */
export async function setKillSwitch(options: SessionOptions, scope: string, paused: boolean, reason: string | undefined, actor: string | undefined): Promise<void> {
  if (paused && !reason?.trim()) throw new BadInputError("pause needs --reason \"why\": the next runner and the status command show it");
  const session = await openLedgerSession(options);
  try {
    await session.controls.setPaused(scope, paused, reason?.trim(), actor);
  } finally {
    await session.close();
  }
}

export interface ContractStatus extends ContractLedgerState {
  paused: PauseState | null;
}

export interface StatusReport {
  contracts: ContractStatus[];
  paused: PauseState[];
}

export async function readStatus(options: SessionOptions): Promise<StatusReport> {
  const session = await openLedgerSession(options);
  try {
    const paused = await session.controls.pausedContracts();
    const states = await ledgerStates(session.warehouse, session.tables);
    const contracts = states.map((s) => ({ ...s, paused: paused.find((p) => p.contract === s.contract || p.contract === ALL_CONTRACTS) ?? null }));
    return { contracts, paused };
  } finally {
    await session.close();
  }
}
