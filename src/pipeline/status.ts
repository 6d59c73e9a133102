/**
 * `status`: per contract, the last run, the ledger, the records waiting in dead letters and the kill switch. Every
 * contract of the manifest is listed, including those never run and those their gate held back (their run-log row
 * says why); contracts the ledger knows but the manifest no longer declares are listed too.
 */
import { join } from "node:path";
import { loadContracts } from "../contract/load.ts";
import { readManifest } from "../dbt/artifacts.ts";
import { resolveTargetDir } from "../dbt/project.ts";
import { ALL_CONTRACTS, type PauseState } from "../ledger/controls.ts";
import { openLedgerSession, type SessionOptions } from "./session.ts";

export interface StatusOptions extends SessionOptions {
  /** Where manifest.json is (dbt's target-path rule); without one, only contracts the ledger knows are listed. */
  targetPath?: string | undefined;
}

export interface ContractStatus {
  contract: string;
  /** Declared in the manifest read (false: known only from the syncer's tables). */
  declared: boolean;
  paused: PauseState | null;
  lastRun: {
    runId: string;
    status: string;
    startedAt: unknown;
    finishedAt: unknown;
    created: number;
    updated: number;
    unchanged: number;
    failed: number;
    failedUnchanged: number;
    retryLater: number;
    stopReason: string | null;
  } | null;
  ledgerRows: number;
  /** Records (keys) with an open dead letter, and of those how many failed permanently or transiently. */
  deadLettersPending: number;
  deadLettersPermanent: number;
  deadLettersTransient: number;
}

export interface StatusResult {
  contracts: ContractStatus[];
  paused: PauseState[];
}

async function declaredContracts(options: StatusOptions): Promise<string[]> {
  try {
    const path = join(await resolveTargetDir({ projectDir: options.projectDir, targetPath: options.targetPath, env: options.env, cwd: options.cwd }), "manifest.json");
    return loadContracts(await readManifest(path)).map((c) => c.spec.name);
  } catch (error) {
    // An explicit --target-path must be readable; the default one may not exist yet (nothing was built).
    if (options.targetPath) throw error;
    return [];
  }
}

export async function runStatus(options: StatusOptions): Promise<StatusResult> {
  const declared = await declaredContracts(options);
  const session = await openLedgerSession(options);
  try {
    const { ledger, controls } = session;
    const lastRuns = await ledger.lastRuns();
    const records = await ledger.recordCounts();
    const paused = await controls.pausedContracts();
    const names = [...new Set([...declared, ...lastRuns.map((r) => String(r.contract_name)), ...records.map((r) => r.contract)])].sort();
    const contracts = names.map((contract): ContractStatus => {
      const run = lastRuns.find((r) => r.contract_name === contract);
      const counts = records.find((r) => r.contract === contract);
      return {
        contract,
        declared: declared.includes(contract),
        paused: paused.find((p) => p.contract === contract || p.contract === ALL_CONTRACTS) ?? null,
        lastRun: run
          ? {
              runId: String(run.run_id),
              status: String(run.status),
              startedAt: run.started_at,
              finishedAt: run.finished_at,
              created: Number(run.rows_created ?? 0),
              updated: Number(run.rows_updated ?? 0),
              unchanged: Number(run.rows_unchanged ?? 0),
              failed: Number(run.rows_failed ?? 0),
              failedUnchanged: Number(run.rows_failed_unchanged ?? 0),
              retryLater: Number(run.rows_retry_later ?? 0),
              stopReason: run.stop_reason === null || run.stop_reason === undefined ? null : String(run.stop_reason),
            }
          : null,
        ledgerRows: counts?.synced ?? 0,
        deadLettersPending: counts?.deadLettered ?? 0,
        deadLettersPermanent: counts?.permanent ?? 0,
        deadLettersTransient: counts?.transient ?? 0,
      };
    });
    return { contracts, paused };
  } finally {
    await session.close();
  }
}
