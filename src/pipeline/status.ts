/**
 * `status`: per contract, the last run, the ledger, the records waiting in dead letters and the kill switch. Every
 * contract of the manifest is listed, including those never run and those their gate held back (their run-log row
 * says why); contracts the ledger knows but the manifest no longer declares are listed too. On DuckDB, while a sync
 * holds the database file, the status is the one that sync publishes beside it (LiveStatus), with the kill switch read
 * from its side files as it is now.
 */
import { join } from "node:path";
import { loadContracts } from "../contract/load.ts";
import { readManifest } from "../dbt/artifacts.ts";
import { resolveTargetDir } from "../dbt/project.ts";
import { hostname } from "node:os";
import { z } from "zod";
import type { RecordOutcome } from "../destinations/types.ts";
import { BusyError } from "../errors.ts";
import { ALL_CONTRACTS, FileKillSwitch, type PauseState } from "../ledger/controls.ts";
import type { LedgerListener } from "../ledger/ledger.ts";
import type { SideFiles } from "../ledger/side-files.ts";
import { ledgerSideFiles, openLedgerSession, type LedgerSession, type SessionOptions } from "./session.ts";

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
  /** DuckDB, while a sync holds the database: the status that sync published (as of `writtenAt`), and who it is. */
  publishedBy?: StatusHolder & { writtenAt: string };
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

/** Every contract's status from the syncer's tables (`declared`: the manifest's contracts, listed even if never run). */
async function collectStatus(session: LedgerSession, declared: string[]): Promise<StatusResult> {
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
      paused: pauseOf(paused, contract),
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
}

const pauseOf = (paused: PauseState[], contract: string): PauseState | null => paused.find((p) => p.contract === contract || p.contract === ALL_CONTRACTS) ?? null;

export async function runStatus(options: StatusOptions): Promise<StatusResult> {
  const declared = await declaredContracts(options);
  let session: LedgerSession;
  try {
    session = await openLedgerSession(options);
  } catch (error) {
    // DuckDB: a running sync holds the database; it publishes its status beside it, with the live kill switch.
    if (!(error instanceof BusyError)) throw error;
    const published = await publishedStatus(options, declared);
    if (published) return published;
    throw new BusyError(`${error.message}; no running sync of this ledger has published its status (dbt, or another dbt-activation command, holds the file): run status again when it ends`);
  }
  try {
    return await collectStatus(session, declared);
  } finally {
    await session.close();
  }
}

/** Who holds the database and published the status: `status` says whose view it shows. */
const holderSchema = z.object({ host: z.string(), pid: z.number().int(), command: z.string(), since: z.string(), shard: z.string().nullable() });
const snapshotSchema = z.object({
  writtenAt: z.string(),
  holder: holderSchema,
  // Written by this module from ContractStatus values (dates as ISO text): read back as they were written.
  contracts: z.array(z.looseObject({ contract: z.string() })),
});
export type StatusHolder = z.infer<typeof holderSchema>;

/** Whether the process that wrote a snapshot still runs (a sync killed with -9 leaves its snapshot behind). */
function alive(holder: StatusHolder): boolean {
  if (holder.host !== hostname()) return true;
  try {
    process.kill(holder.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The status the running sync published in the ledger's side files, with the kill switch as it is now. */
async function publishedStatus(options: StatusOptions, declared: string[]): Promise<StatusResult | undefined> {
  const side = await ledgerSideFiles(options);
  if (!side) return undefined;
  const raw = await side.readStatus();
  const parsed = snapshotSchema.safeParse(raw);
  if (!parsed.success || !alive(parsed.data.holder)) return undefined;
  const paused = await new FileKillSwitch(side).pausedContracts();
  const published = parsed.data.contracts as unknown as ContractStatus[];
  const names = [...new Set([...declared, ...published.map((c) => c.contract)])].sort();
  const contracts = names.map((contract): ContractStatus => {
    const known = published.find((c) => c.contract === contract);
    const base = known ?? { contract, declared: false, paused: null, lastRun: null, ledgerRows: 0, deadLettersPending: 0, deadLettersPermanent: 0, deadLettersTransient: 0 };
    return { ...base, declared: declared.includes(contract), paused: pauseOf(paused, contract) };
  });
  return { contracts, paused, publishedBy: { ...parsed.data.holder, writtenAt: parsed.data.writtenAt } };
}

/**
 * A sync's status as it runs, published for other processes where they cannot read the ledger's tables meanwhile
 * (DuckDB's single-writer file: `status` reads it instead). Refreshed from the tables when the sync begins and when a
 * contract's run starts or ends, and between those from the acknowledged batches (at most once a second).
 */
export class LiveStatus implements LedgerListener {
  readonly #session: LedgerSession;
  readonly #side: SideFiles;
  readonly #declared: string[];
  readonly #holder: StatusHolder;
  #contracts: ContractStatus[] = [];
  #lastWrite = 0;

  private constructor(session: LedgerSession, side: SideFiles, declared: string[], holder: Omit<StatusHolder, "host" | "pid" | "since">) {
    this.#session = session;
    this.#side = side;
    this.#declared = declared;
    this.#holder = { host: hostname(), pid: process.pid, since: new Date().toISOString(), ...holder };
  }

  /** Starts publishing for the session's ledger (only where it has side files), and listens to its writes. */
  static async start(session: LedgerSession, declared: string[], holder: Omit<StatusHolder, "host" | "pid" | "since">): Promise<LiveStatus | undefined> {
    if (!session.side) return undefined;
    const live = new LiveStatus(session, session.side, declared, holder);
    session.ledger.listen(live);
    await live.#refresh();
    return live;
  }

  async #refresh(): Promise<void> {
    this.#contracts = (await collectStatus(this.#session, this.#declared)).contracts;
    await this.#publish();
  }

  async #publish(): Promise<void> {
    this.#lastWrite = Date.now();
    // A status nobody could publish must not fail the sync that sends the rows: `status` then reports the file busy.
    await this.#side.writeStatus({ writtenAt: new Date().toISOString(), holder: this.#holder, contracts: this.#contracts }).catch(() => undefined);
  }

  async runStarted(): Promise<void> {
    await this.#refresh();
  }

  async acknowledged(contract: string, runId: string, outcomes: RecordOutcome[]): Promise<void> {
    const run = this.#contracts.find((c) => c.contract === contract)?.lastRun;
    if (!run || run.runId !== runId) return;
    for (const o of outcomes) run[o.status === "failed" ? "failed" : o.status] += 1;
    if (Date.now() - this.#lastWrite >= 1_000) await this.#publish();
  }

  async runFinished(): Promise<void> {
    await this.#refresh();
  }

  /** The sync ended: nothing is published any more (the database is free to read). */
  async stop(): Promise<void> {
    this.#session.ledger.listen(undefined);
    await this.#side.removeStatus().catch(() => undefined);
  }
}
