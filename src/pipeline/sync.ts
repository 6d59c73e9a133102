/**
 * `sync`: the stages in their one direction, contract → gate → eligible rows → plan → engine → destination → report.
 * Everything that can be wrong with the input (artifacts, contracts, profile, credentials, columns) is checked
 * before the first write, so bad input writes nothing anywhere.
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { loadContracts, selectContracts, type Contract } from "../contract/load.ts";
import { launchReadiness } from "../contract/readiness.ts";
import { statusProblems } from "../validate/status.ts";
import { BadInputError } from "../errors.ts";
import { readManifest, readRunResults, type Manifest } from "../dbt/artifacts.ts";
import { checkInvocation, createGate } from "../dbt/gate.ts";
import { DestinationRequestError, type Destination } from "../destinations/index.ts";
import { checkColumns, rejectedKeys, type Shard } from "../eligible/rows.ts";
import { retrying } from "../engine/retry.ts";
import { sendRecords, type SendSummary } from "../engine/send.ts";
import type { Controls } from "../ledger/controls.ts";
import type { Ledger, RunCounts } from "../ledger/ledger.ts";
import { actsOnRemoved, stopChecks, type Overrides } from "../plan/checks.ts";
import { planCounts, plannedRecords, removedKeys, type PlannedRecord } from "../plan/diff.ts";
import { planOptionsFor } from "../plan/partitions.ts";
import { guardRecords, needsReadBack, type GuardSkip } from "../plan/guards.ts";
import { applyRemovals, writerFor, type RemovalSummary } from "../engine/modes.ts";
import { pacedDestination } from "../engine/pacing.ts";
import { pauseRuleTripped } from "../engine/pause-rule.ts";
import { exitCodeOf } from "../report/format.ts";
import type { ContractOutcome, SyncReport } from "../report/types.ts";
import type { Warehouse } from "../warehouse/index.ts";
import { openLedgerSession, type LedgerSession } from "./session.ts";
import { alertOutcomes } from "../alerts/index.ts";
import { AlertState } from "../ledger/alerts.ts";

export interface SyncOptions {
  projectDir: string;
  targetDir?: string | undefined;
  profilesDir?: string | undefined;
  target?: string | undefined;
  select?: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  onProgress?: (contract: string, summary: SendSummary) => void;
  /** A contract begins sending: the plan's rows to send (creates and updates), for progress displays. */
  onSendStart?: (contract: string, rows: number) => void;
  /** Treat every eligible row as changed (the ledger is ignored for the diff, and updated as rows are sent). */
  fullResync?: boolean;
  /** Where the ledger, run log and dead letters live (default: the profile target's schema). */
  ledgerSchema?: string | undefined;
  overrides?: Overrides;
  /** Only this shard of the keys (stable hash of the key), so an orchestrator can fan out workers. */
  shard?: Shard | undefined;
  /** Plan only: nothing is written to any destination or to the ledger. */
  dryRun?: boolean;
  /** Where the alerting stage logs deliveries and failed endpoints (default: stderr). */
  log?: ((line: string) => void) | undefined;
  /** Who ran the sync, for the run log (default: $USER). */
  actor?: string | undefined;
}

/**
 * Refuses, before anything runs, contracts that may not sync: `launch` without launch readiness, `caveats` outside
 * alert-only or a limited rollout, and suppression or rollout declared without the activation model that applies them.
 */
function checkRunnable(contracts: Contract[], manifest: Manifest): void {
  const problems: string[] = [];
  for (const contract of contracts) {
    const { spec } = contract;
    const at = `${contract.model.file}: model ${contract.model.name}, contract ${spec.name}`;
    if (spec.status === "paused") continue;
    for (const problem of statusProblems(spec, launchReadiness(contract, manifest))) problems.push(`${at}, field ${problem.path}: ${problem.message}`);
    const needsSql = (spec.suppression && !spec.suppression.not_needed) || spec.rollout;
    if (needsSql && !contract.activationModel) {
      problems.push(`${at}: no activation model ${spec.name} in the manifest: suppression and rollout are applied by it; run \`dbt-activation generate\` then \`dbt build\``);
    }
  }
  if (problems.length > 0) throw new BadInputError("contracts that may not sync", { details: problems });
}

function destinationLabel(contract: Contract): string {
  const d = contract.spec.destination;
  return `${d.type} ${d.object}`;
}

export async function runSync(options: SyncOptions): Promise<SyncReport> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const projectDir = resolve(cwd, options.projectDir);
  const targetDir = resolve(cwd, options.targetDir ?? join(projectDir, "target"));
  const manifestPath = join(targetDir, "manifest.json");
  const runResultsPath = join(targetDir, "run_results.json");
  const [manifest, runResults] = await Promise.all([readManifest(manifestPath), readRunResults(runResultsPath)]);
  checkInvocation({ manifest, runResults, manifestPath, runResultsPath });

  const contracts = selectContracts(loadContracts(manifest), options.select ?? []);
  checkRunnable(contracts, manifest);
  const gate = createGate(manifest, runResults);
  const outcomes = new Map<string, ContractOutcome>();
  const passed: Contract[] = [];
  for (const contract of contracts) {
    const base = { contract: contract.spec.name, model: contract.model.name, destination: destinationLabel(contract) };
    if (contract.spec.status === "paused") {
      outcomes.set(contract.spec.name, { ...base, status: "skipped", reasons: ["paused (status: paused in the contract)"] });
      continue;
    }
    // The contract's model and its generated activation model must both be proven in this invocation.
    const verdicts = [contract.model, contract.activationModel].filter((m) => m !== undefined).map((m) => gate.verdictFor(m.uniqueId));
    const reasons = verdicts.flatMap((v) => v.reasons);
    if (reasons.length === 0) passed.push(contract);
    else outcomes.set(contract.spec.name, { ...base, status: "skipped", reasons, gate: { passed: false, reasons, checks: verdicts.flatMap((v) => v.checks), model: contract.model.uniqueId } });
  }

  // One session for the run and its alerts: on DuckDB a second instance of the file in this process would not see
  // (and could overwrite) the first one's writes.
  let session: LedgerSession | undefined;
  const openSession = async (): Promise<LedgerSession> => (session ??= await openLedgerSession({ ...options, projectDir, env, cwd }));
  try {
    if (passed.length > 0) {
      const { warehouse, ledger, controls } = await openSession();
      // Input checks for every contract first: a bad one stops the run before any contract writes.
      const destinations = new Map<string, Destination>();
      for (const contract of passed) {
        await checkColumns(warehouse, contract);
        // A dry run talks to no destination, so it needs no credentials.
        if (!options.dryRun && !alertOnly(contract)) destinations.set(contract.spec.name, pacedDestination(contract, env));
      }
      const run = { runId: randomUUID(), invocationId: manifest.metadata.invocation_id ?? "" };
      for (const contract of passed) {
        const destination = destinations.get(contract.spec.name);
        outcomes.set(contract.spec.name, await syncContract(contract, destination, warehouse, ledger, controls, run, options));
      }
    }

    const ordered = contracts.map((c) => outcomes.get(c.spec.name)!);
    const report: SyncReport = {
      invocationId: manifest.metadata.invocation_id ?? "",
      command: runResults.args.which ?? "",
      dbtVersion: runResults.metadata.dbt_version,
      contracts: ordered,
      exitCode: exitCodeOf(ordered),
    };
    // Alerts come last, from the report; a dry run alerts nothing.
    if (!options.dryRun) {
      const alerts = await alertOutcomes(contracts, ordered, {
        env,
        log: options.log ?? ((line) => process.stderr.write(`${line}\n`)),
        commandLine: { projectDir: options.projectDir, targetDir: options.targetDir, profilesDir: options.profilesDir, target: options.target, ledgerSchema: options.ledgerSchema },
        invocationId: report.invocationId,
        openState: async () => {
          const { warehouse, tables } = await openSession();
          return new AlertState(warehouse, tables);
        },
      });
      if (alerts.length > 0) report.alerts = alerts;
    }
    return report;
  } finally {
    await session?.close();
  }
}

/** `monitoring.alert_only`: gated and planned like any contract, alerted on, and never written. */
function alertOnly(contract: Contract): boolean {
  return contract.spec.monitoring?.alert_only === true;
}

async function syncContract(
  contract: Contract,
  destination: Destination | undefined,
  warehouse: Warehouse,
  ledger: Ledger,
  controls: Controls,
  run: { runId: string; invocationId: string },
  options: SyncOptions,
): Promise<ContractOutcome> {
  const base = { contract: contract.spec.name, model: contract.model.name, destination: destinationLabel(contract) };
  const env = options.env ?? process.env;
  const paused = await controls.pausedReason(contract.spec.name, env);
  if (options.dryRun || alertOnly(contract)) return { ...(await planContract(contract, warehouse, ledger, options, paused)), ...(alertOnly(contract) ? { alertOnly: true } : {}) };
  if (paused) return { ...base, status: "skipped", reasons: [paused] };
  const holder = `${hostname()}:${process.pid}:${run.runId}`;
  // Shards of one contract run side by side: each holds its own lease.
  const leaseName = options.shard ? `${contract.spec.name}#${options.shard.index}/${options.shard.count}` : contract.spec.name;
  const ttlMs = leaseTtlMs(env);
  // Held (renewed by a heartbeat) until released: a runner that dies frees the contract one TTL later.
  const lease = await controls.holdLease(leaseName, holder, ttlMs);
  if (!lease.acquired) {
    return { ...base, status: "busy", reasons: [`another runner (${lease.holder}) has been syncing this contract since ${lease.since?.toISOString() ?? "?"}`] };
  }
  try {
    return await syncLeased({ contract, destination: destination!, warehouse, ledger, controls, run, options });
  } finally {
    await lease.release();
  }
}

/** `DBT_ACTIVATION_LEASE_TTL_MS` (default 3 minutes): how long a dead runner's lease blocks its contract. */
function leaseTtlMs(env: NodeJS.ProcessEnv): number {
  const raw = env[LEASE_TTL_ENV]?.trim();
  if (!raw) return LEASE_TTL_MS;
  const ms = Number(raw);
  if (!Number.isInteger(ms) || ms < 1_000) throw new BadInputError(`${LEASE_TTL_ENV} must be a whole number of milliseconds, at least 1000 (got ${raw})`);
  return ms;
}

/** `plan`: what a sync would do, with nothing written anywhere: counts per class, sample rows, what would stop it. */
async function planContract(contract: Contract, warehouse: Warehouse, ledger: Ledger, options: SyncOptions, paused: string | undefined): Promise<ContractOutcome> {
  const base = { contract: contract.spec.name, model: contract.model.name, destination: destinationLabel(contract) };
  const planOptions = await planOptionsFor(warehouse, contract, ledger.tables, { fullResync: options.fullResync, shard: options.shard, env: options.env });
  const plan = await planCounts(warehouse, contract, ledger.tables, planOptions);
  const checks = stopChecks(contract.spec, plan, options.overrides);
  const samples: PlannedRecord[] = [];
  for await (const chunk of plannedRecords(warehouse, contract, ledger.tables, planOptions)) {
    samples.push(...chunk.slice(0, SAMPLE_ROWS - samples.length));
    if (samples.length >= SAMPLE_ROWS) break;
  }
  const rejected = await rejectedKeys(warehouse, contract, planOptions);
  return { ...base, status: "planned", plan, wouldStop: [...(paused ? [paused] : []), ...checks.stops], overridden: checks.overridden, samples, rejected };
}

const SAMPLE_ROWS = 5;

/** How long a runner's lease outlives its last heartbeat: then another runner may take over (this one died). */
const LEASE_TTL_MS = 3 * 60_000;
export const LEASE_TTL_ENV = "DBT_ACTIVATION_LEASE_TTL_MS";

/** One contract's run, once its lease is held: everything the stages after the gate need. */
interface ContractRun {
  contract: Contract;
  destination: Destination;
  warehouse: Warehouse;
  ledger: Ledger;
  controls: Controls;
  run: { runId: string; invocationId: string };
  options: SyncOptions;
  started: Date;
}

async function syncLeased(leased: Omit<ContractRun, "started">): Promise<ContractOutcome> {
  const { contract, ledger, controls, run, options } = leased;
  const started = new Date();
  await ledger.startRun({ runId: run.runId, contract: contract.spec.name, invocationId: run.invocationId, startedAt: started, mode: contract.spec.destination.mode, actor: options.actor });
  await ledger.abandonRuns(contract.spec.name, await controls.liveRunIds());
  const finishRun: FinishRun = (status, counts, stopReason, overrideReason) =>
    ledger.finishRun({ runId: run.runId, contract: contract.spec.name, finishedAt: new Date(), status, counts, stopReason, overrideReason });
  try {
    return await planAndSend({ ...leased, started }, finishRun);
  } catch (error) {
    // The run log says the run ended in an error; the messages we write ourselves name no secret, others may.
    const known = error instanceof BadInputError || error instanceof DestinationRequestError;
    const reason = known ? `error: ${error.message.slice(0, 500)}` : "internal error (the runner's stderr has the details)";
    await finishRun("error", { eligible: 0, created: 0, updated: 0, unchanged: 0, removed: 0, failed: 0, rejected: 0 }, reason).catch(() => undefined);
    throw error;
  }
}

type FinishRun = (status: string, counts: RunCounts, stopReason?: string, overrideReason?: string) => Promise<void>;

async function planAndSend({ contract, destination, warehouse, ledger, controls, run, options, started }: ContractRun, finishRun: FinishRun): Promise<ContractOutcome> {
  const base = { contract: contract.spec.name, model: contract.model.name, destination: destinationLabel(contract) };
  const env = options.env ?? process.env;
  const planOptions = await planOptionsFor(warehouse, contract, ledger.tables, { fullResync: options.fullResync, shard: options.shard, env: options.env });
  const plan = await planCounts(warehouse, contract, ledger.tables, planOptions);
  // Rejected keys are reported by one shard only, so the shards' reports add up.
  const rejected = !options.shard || options.shard.index === 0 ? await rejectedKeys(warehouse, contract, planOptions) : [];
  const counters = { requests: 0, retries: 0 };
  let summary: SendSummary | undefined;
  const checks = stopChecks(contract.spec, plan, options.overrides);
  const overrideReason = checks.overridden.length > 0 ? checks.overridden.join("; ") : undefined;
  const rejectedRows = rejected.reduce((n, r) => n + r.rows, 0);

  if (checks.stops.length > 0) {
    const planned = { eligible: plan.eligible, created: 0, updated: 0, unchanged: plan.unchanged, removed: 0, failed: 0, rejected: rejectedRows };
    await finishRun("stopped", planned, checks.stops.join("; "), overrideReason);
    return { ...base, status: "stopped", runId: run.runId, reasons: checks.stops, plan };
  }

  const removals = actsOnRemoved(contract.spec) ? plan.removed : 0;
  const skips: GuardSkip[] = [];
  let skipped = 0;
  let removal: RemovalSummary | undefined;
  // Nothing changed: no destination call at all, not even the preflight.
  if (plan.create + plan.update + removals > 0) {
    let problems: string[];
    try {
      problems = await retrying(() => destination.preflight(), {}, counters);
    } catch (error) {
      // Refused credentials, a revoked token, an exhausted quota: the contract fails before any write.
      if (!(error instanceof DestinationRequestError) || error.retryable) throw error;
      problems = [`${destination.description}: ${error.message}`];
    }
    if (problems.length > 0) {
      const planned = { eligible: plan.eligible, created: 0, updated: 0, unchanged: plan.unchanged, removed: 0, failed: 0, rejected: rejectedRows };
      await finishRun("failed", planned, problems.join("; ").slice(0, 2000), overrideReason);
      return { ...base, status: "failed", reasons: problems };
    }
    let records = plannedRecords(warehouse, contract, ledger.tables, planOptions);
    if (needsReadBack(contract.spec)) {
      records = guardRecords(contract.spec, records, (keys, fields) => retrying(() => destination.readBack(keys, fields), {}, counters), (found) => {
        skipped += found.length;
        skips.push(...found.slice(0, Math.max(0, SAMPLE_ROWS * 4 - skips.length)));
      });
    }
    let sending: SendSummary | undefined;
    options.onSendStart?.(contract.spec.name, plan.create + plan.update);
    summary = await sendRecords(writerFor(destination, contract.spec), records, {
      onProgress: (s) => {
        sending = s;
        options.onProgress?.(contract.spec.name, s);
      },
      onAcknowledged: async (sent, outcomes) => {
        await ledger.checkpoint(contract.spec.name, run.runId, sent as PlannedRecord[], outcomes);
      },
      // The kill switch is read between batches: pausing stops a running sync after the batch in flight. So is the
      // pause rule: a run failing rows past it stops now rather than at the end.
      shouldStop: async () =>
        (sending && pauseRuleTripped(contract.spec, { attempted: sending.created + sending.updated + sending.failed, failed: sending.failed }, false)) ??
        controls.pausedReason(contract.spec.name, env),
    });
    if (removals > 0 && !summary.stopped) {
      removal = await applyRemovals(destination, contract.spec, removedKeys(warehouse, contract, ledger.tables, planOptions), counters, async (done, failed) => {
        await ledger.markRemoved(contract.spec.name, run.runId, done);
        await ledger.deadLetters(contract.spec.name, run.runId, failed);
      });
    }
  }
  const counts = {
    eligible: plan.eligible,
    created: summary?.created ?? 0,
    updated: summary?.updated ?? 0,
    unchanged: plan.unchanged,
    removed: removal?.removed ?? 0,
    failed: (summary?.failed ?? 0) + (removal?.failed.length ?? 0),
    skipped,
    rejected: rejectedRows,
    notSent: summary?.notSent ?? 0,
  };
  const pausedBy = pauseRuleTripped(contract.spec, { attempted: counts.created + counts.updated + counts.failed, failed: counts.failed }, true);
  if (pausedBy) await controls.setPaused(contract.spec.name, true, pausedBy, "dbt-activation");
  const status = pausedBy ? "paused" : summary?.stopped ? "interrupted" : counts.failed + counts.notSent > 0 ? "partial" : "success";
  await finishRun(status, counts, summary?.stopped ?? pausedBy, overrideReason);
  return {
    ...base,
    status: "synced",
    runId: run.runId,
    counts,
    requests: counters.requests + (summary?.requests ?? 0),
    retries: counters.retries + (summary?.retries ?? 0),
    failures: [...(summary?.failures ?? []), ...(removal?.failed ?? [])].slice(0, 100),
    skips,
    rejected,
    ...(summary?.stopped ? { stopped: summary.stopped } : {}),
    ...(checks.overridden.length > 0 ? { overridden: checks.overridden } : {}),
    ...(pausedBy ? { paused: pausedBy } : {}),
    durationMs: Date.now() - started.getTime(),
  };
}
