/** `pause` and `resume`: the kill switch, kept beside the ledger with who threw it and why (src/ledger/controls.ts). */
import { BadInputError } from "../errors.ts";
import { ALL_CONTRACTS } from "../ledger/controls.ts";
import { openLedgerSession, sideKillSwitch, type SessionOptions } from "./session.ts";

export { ALL_CONTRACTS };

/** `--contract C` or `--all`, exactly one. */
export function contractScope(opts: { contract?: string | undefined; all?: boolean | undefined }): string {
  if (Boolean(opts.contract) === Boolean(opts.all)) throw new BadInputError("name one --contract, or --all");
  return opts.all ? ALL_CONTRACTS : opts.contract!;
}

/** Throws or lifts the kill switch for a contract (or `*`), recorded with who and why. */
export async function setKillSwitch(options: SessionOptions, scope: string, paused: boolean, reason: string | undefined, actor: string | undefined): Promise<void> {
  if (paused && !reason?.trim()) throw new BadInputError("pause needs --reason \"why\": the next runner and the status command show it");
  // DuckDB: the switch is a side file, thrown without opening the database a running sync holds; the sync reads it
  // before its next batch.
  const file = await sideKillSwitch(options);
  if (file) return file.setPaused(scope, paused, reason?.trim(), actor);
  const session = await openLedgerSession(options);
  try {
    await session.controls.setPaused(scope, paused, reason?.trim(), actor);
  } finally {
    await session.close();
  }
}
