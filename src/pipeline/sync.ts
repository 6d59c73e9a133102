/**
 * `sync`: the stages in their one direction, contract → gate → eligible rows → plan → engine → destination → report.
 * Everything that can be wrong with the input (artifacts, contracts, profile, credentials, columns) is checked
 * before the first write, so bad input writes nothing anywhere.
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { loadContracts, redactKey, redactSensitive, selectContracts, unsyncableContracts, type Contract } from "../contract/load.ts";
import type { ContractSpec } from "../contract/schema.ts";
import { launchReadiness } from "../contract/readiness.ts";
import { clearingRemovals, holdsOnParity, lateArrivingLimit, matchRateStop, measuresMatchRate, overridableByLargeChange, retryBudgetOf, testStatusPasses } from "../contract/rules.ts";
import { statusProblems } from "../contract/status.ts";
import { destinationTarget, mappingFingerprint, targetChangeProblem } from "../contract/fingerprint.ts";
import { BadInputError, BusyError } from "../errors.ts";
import { localArtifacts, type ArtifactSource, type Manifest } from "../dbt/artifacts.ts";
import { resolveProjectDir, resolveTargetDir } from "../dbt/project.ts";
import { checkInvocation, createGate, reusedOnly, type GateCheck } from "../gate/gate.ts";
import { DestinationRequestError, knownKeyRule, type Destination, type KeyRule, type ValueKind } from "../destinations/index.ts";
import { fieldMappings } from "../contract/schema.ts";
import { kindOfType } from "../warehouse/types.ts";
import type { FailedOutcome } from "../destinations/types.ts";
import { checkColumns, eligibleKeys, rowInvocations, type Shard } from "../eligible/rows.ts";
import { envValue } from "../config/env.ts";
import { pacerFor } from "../engine/pacing.ts";
import { RetryBudget, retrying } from "../engine/retry.ts";
import { sendRecords, type SendSummary } from "../engine/send.ts";
import type { Controls } from "../ledger/controls.ts";
import { LATE_ARRIVAL_STUCK_CODE, type Ledger, type RunCounts } from "../ledger/ledger.ts";
import { stopChecks, type Overrides } from "../plan/checks.ts";
import { ineligibleDeadLetters, MaterializedPlan, type PlanOptions, REMOVAL_CLASS, withoutFailedRows, type PlannedRecord } from "../plan/diff.ts";
import { planOptionsFor } from "../plan/partitions.ts";
import { guardRecords, needsReadBack, type GuardSkip } from "../plan/guards.ts";
import { applyRemovals, writerFor, type RemovalSummary } from "../engine/modes.ts";
import { RunDestinations } from "./destination.ts";
import { pauseRuleTripped } from "../contract/pause-rule.ts";
import { exitCodeOf } from "../report/format.ts";
import type { ContractOutcome, FailedContractOutcome, SyncReport } from "../report/types.ts";
import type { Warehouse } from "../warehouse/index.ts";
import { openLedgerSession, type LedgerSession } from "./session.ts";
import { LiveStatus } from "./status.ts";
import { alertOutcomes } from "../alerts/index.ts";
import { AlertState } from "../ledger/alerts.ts";

export interface SyncOptions {
  /** Default: the working directory or its nearest parent with a dbt_project.yml, as dbt. */
  projectDir?: string | undefined;
  /** dbt's target path (see dbt/project.ts); ignored when `artifacts` is given. */
  targetPath?: string | undefined;
  /** dbt's `--vars`, for `var()` in profiles.yml. */
  vars?: Record<string, unknown> | undefined;
  /** Where the manifest and run results come from (default: the project's target path). */
  artifacts?: ArtifactSource | undefined;
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
  /** Set per contract by `runSync`: failing gate tests that --allow-large-change let through, for the run log. */
  gateOverridden?: string[];
  /**
   * `replay`: send only the keys with an open dead letter, each as today's eligible row, whatever its hash or backoff;
   * keys no longer eligible are not sent and their letters close with the reason. Everything else is a sync's: the
   * gate, the kill switch, the lease, the mode and its guards, the pause rule, the run log.
   */
  replay?: boolean;
  /**
   * `--accept-new-target`: a contract whose destination target changed under a ledger of synced rows syncs to the new
   * one instead of being refused: those rows are retired first (src/ledger/ledger.ts retireTarget), so every
   * eligible row is created. Not with a shard (one run retires the whole ledger).
   */
  acceptNewTarget?: boolean;
  /** Set per contract by `runSync`: this run retires the ledger's rows of the old target (`--accept-new-target`). */
  retiring?: boolean;
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
    if (holdsOnParity(spec) && !contract.parityModel) {
      problems.push(`${at}, field gates.parity: hold, but no parity model ${spec.name}__parity in the manifest; run \`dbt-activation generate\` then \`dbt build\``);
    }
  }
  if (problems.length > 0) throw new BadInputError("contracts that may not sync", { details: problems });
}

/** A contract the gate let through: proven here, or (`earlier`) only if its rows come from a run the syncer gated. */
interface GatePassed {
  contract: Contract;
  /** The gate's reasons when it held the contract back only for reuse; empty otherwise. */
  reasons: string[];
  earlier: boolean;
  checks: GateCheck[];
}

/**
 * Whether the rows a sync would read are the rows a gated invocation built (the activation model records the id of
 * the invocation that built each row). Built here: every row must carry this invocation's id, or the table was
 * rebuilt after it (another `dbt run`) and its rows are untested. Built earlier (Fusion reused the model, or the
 * command was `dbt test`): the rows must carry one invocation id on which this contract's sync passed the gate before.
 * A relation that records no invocation (no activation model) is read as it is.
 */
async function rowsProof(
  warehouse: Warehouse,
  ledger: Ledger,
  { contract, earlier }: GatePassed,
  invocationId: string,
): Promise<{ proven: true; builtBy: string | undefined } | { proven: false; reason: string }> {
  const invocations = await rowInvocations(warehouse, contract);
  const relation = contract.activationModel?.name ?? contract.model.name;
  if (invocations === undefined) {
    return earlier
      ? { proven: false, reason: `${relation} does not record the dbt invocation that built its rows, so no earlier gated run can be shown to have tested them` }
      : { proven: true, builtBy: undefined };
  }
  if (!earlier) {
    const others = invocations.filter((id) => id !== invocationId);
    if (others.length === 0) return { proven: true, builtBy: invocationId };
    return {
      proven: false,
      reason:
        `activation model ${relation} holds rows built by dbt invocation ${others.join(", ")}, not by the gated invocation ${invocationId}: ` +
        "it was rebuilt after that build (e.g. by `dbt run`), so its rows are untested; sync the target directory of the build that made them",
    };
  }
  if (invocations.length === 1 && (await ledger.gatedInvocation(contract.spec.name, invocations[0]!))) return { proven: true, builtBy: invocations[0] };
  const built = invocations.length === 0 ? "holds no rows" : `holds rows built by dbt invocation ${invocations.join(", ")}`;
  return { proven: false, reason: `activation model ${relation} was not built by this invocation and ${built}, on which no sync of this contract passed the gate: nothing shows those rows were tested` };
}

function destinationLabel(contract: Contract): string {
  const d = contract.spec.destination;
  return `${d.type} ${d.object}`;
}

export async function runSync(options: SyncOptions): Promise<SyncReport> {
  const env = options.env ?? process.env;
  // A bad value is bad input (exit 2) before any run starts, not an error inside one.
  envValue(env, "DBT_ACTIVATION_THROTTLE_TIMEOUT_MS");
  envValue(env, "DBT_ACTIVATION_ALERT_TIMEOUT_MS");
  const changeLogDays = envValue(env, "DBT_ACTIVATION_CHANGE_LOG_DAYS");
  if (options.acceptNewTarget && options.shard) {
    throw new BadInputError("--accept-new-target retires the contract's whole ledger: run it once without --shard, then shard the runs after it");
  }
  const cwd = options.cwd ?? process.cwd();
  const projectDir = resolveProjectDir(options.projectDir, cwd);
  const source = options.artifacts ?? localArtifacts(await resolveTargetDir({ projectDir, targetPath: options.targetPath, env, cwd }));
  const { manifest, runResults, manifestPath, runResultsPath } = await source.read();
  checkInvocation({ manifest, runResults, manifestPath, runResultsPath });

  // Contracts on seeds, snapshots, ephemeral or disabled models fail alone, each with why.
  const select = options.select ?? [];
  const unsyncable = unsyncableContracts(manifest).filter((u) => select.length === 0 || select.includes(u.name));
  const selected = select.filter((name) => !unsyncable.some((u) => u.name === name));
  const declared = loadContracts(manifest);
  const contracts = select.length > 0 && selected.length === 0 ? [] : selectContracts(declared, selected);
  const outcomes = new Map<string, ContractOutcome>();
  for (const u of unsyncable) {
    outcomes.set(u.name, { contract: u.name, model: u.node, destination: "-", status: "failed", reasons: [`${u.file}: ${u.reason}`] });
  }
  const gated: { contract: Contract; reasons: string[] }[] = [];
  checkRunnable(contracts, manifest);
  const gate = createGate(manifest, runResults);
  const passed: GatePassed[] = [];
  const gateOverrides = new Map<string, string[]>();
  for (const contract of contracts) {
    const base = { contract: contract.spec.name, model: contract.model.name, destination: destinationLabel(contract) };
    if (contract.spec.status === "paused") {
      outcomes.set(contract.spec.name, { ...base, status: "skipped", reasons: ["paused (status: paused in the contract)"] });
      continue;
    }
    // The contract's model and its generated activation model must both be proven in this invocation.
    // The contract says whether warn passes; --allow-large-change lets the generated change_limit test through, and
    // the syncer's own blast-radius check (same limits, same ledger) then decides and records the override.
    const gateOptions = {
      passes: (status: string) => testStatusPasses(contract.spec, status),
      overridable: options.overrides?.allowLargeChange ? overridableByLargeChange : undefined,
    };
    // gates.parity: hold adds the parity model (its test says whether the destination drifted from the model).
    const verdicts = [contract.model, contract.activationModel, holdsOnParity(contract.spec) ? contract.parityModel : undefined]
      .filter((m) => m !== undefined).map((m) => gate.verdictFor(m.uniqueId, gateOptions));
    const reasons = verdicts.flatMap((v) => v.reasons);
    const overridden = verdicts.flatMap((v) => v.overridden);
    if (overridden.length > 0 && options.overrides?.allowLargeChange) {
      gateOverrides.set(contract.spec.name, overridden.map((o) => `gate: ${o} (allowed: ${options.overrides!.allowLargeChange!.reason})`));
    }
    // Reused models (dbt Fusion) and `dbt test` built no rows here: their rows must come from a run the syncer gated.
    const earlier = reasons.length === 0 ? runResults.args.which === "test" : verdicts.every((v) => v.passed || reusedOnly(v));
    if (reasons.length === 0 || earlier) passed.push({ contract, reasons, earlier, checks: verdicts.flatMap((v) => v.checks) });
    else {
      gated.push({ contract, reasons });
      outcomes.set(contract.spec.name, { ...base, status: "skipped", reasons, gate: { passed: false, reasons, checks: verdicts.flatMap((v) => v.checks), model: contract.model.uniqueId, overridden } });
    }
  }

  // One session for the run and its alerts: on DuckDB a second instance of the file in this process would not see
  // (and could overwrite) the first one's writes.
  let session: LedgerSession | undefined;
  let live: LiveStatus | undefined;
  const openSession = async (): Promise<LedgerSession> => {
    if (session) return session;
    session = await openLedgerSession({ ...options, projectDir, env, cwd }).catch((error: unknown) => {
      throw options.shard && error instanceof BusyError ? shardsOnOneFile(error, options.shard) : error;
    });
    // Where other processes cannot read the ledger while this one holds it (DuckDB), `status` reads what it publishes.
    if (!options.dryRun) {
      const shard = options.shard ? `${options.shard.index}/${options.shard.count}` : null;
      live = await LiveStatus.start(session, declared.map((c) => c.spec.name), { command: options.replay ? "replay" : "sync", shard });
    }
    return session;
  };
  try {
    if (passed.length > 0 || (gated.length > 0 && !options.dryRun)) {
      const { warehouse, ledger, controls } = await openSession();
      // The change log keeps DBT_ACTIVATION_CHANGE_LOG_DAYS of history (0: all of it); older rows go before this run adds any.
      if (!options.dryRun && changeLogDays > 0) await ledger.pruneChangeLog(new Date(Date.now() - changeLogDays * 86_400_000));
      // Proven rows only: the rows read must be the ones the gated invocation built and tested.
      const proven = new Map<Contract, string | undefined>();
      for (const candidate of passed) {
        const proof = await rowsProof(warehouse, ledger, candidate, manifest.metadata.invocation_id ?? "");
        if (proof.proven) proven.set(candidate.contract, proof.builtBy);
        else {
          const { contract } = candidate;
          const reasons = [...candidate.reasons, proof.reason];
          gated.push({ contract, reasons });
          const base = { contract: contract.spec.name, model: contract.model.name, destination: destinationLabel(contract) };
          outcomes.set(contract.spec.name, { ...base, status: "skipped", reasons, gate: { passed: false, reasons, checks: candidate.checks, model: contract.model.uniqueId, overridden: [] } });
        }
      }
      // Input checks for every contract first: a bad one stops the run before any contract writes.
      const destinations = new Map<string, Destination>();
      // One pacer per destination account; a shard keeps to its 1/n share of the account's limit.
      const opened = new RunDestinations(env, options.shard ? { share: options.shard.count } : {});
      for (const contract of proven.keys()) {
        await checkColumns(warehouse, contract);
        // A dry run talks to no destination, so it needs no credentials.
        if (!options.dryRun && !alertOnly(contract)) destinations.set(contract.spec.name, opened.open(contract));
      }
      const run = { runId: randomUUID(), invocationId: manifest.metadata.invocation_id ?? "" };
      // A target changed under a ledger of synced rows is bad input too: nothing of any contract is written, and
      // (unless a dry run) each refused contract's run log says why.
      const retargeted: { contract: Contract; problem: string }[] = [];
      const accepted = new Map<string, string>();
      for (const contract of proven.keys()) {
        const last = await ledger.lastTarget(contract.spec.name);
        const problem = targetChangeProblem(contract.spec, last);
        if (problem && options.acceptNewTarget) accepted.set(contract.spec.name, `--accept-new-target: the ledger's rows synced to "${last.target ?? ""}" are retired, every eligible row goes to "${destinationTarget(contract.spec)}"`);
        else if (problem) retargeted.push({ contract, problem });
      }
      if (retargeted.length > 0) {
        if (!options.dryRun) {
          for (const { contract, problem } of retargeted) {
            await ledger.heldRun({ runId: run.runId, contract: contract.spec.name, invocationId: run.invocationId, startedAt: new Date(), mode: contract.spec.destination.mode, actor: options.actor }, { status: "refused", reasons: [problem] });
          }
        }
        throw new BadInputError("contracts whose destination changed under their ledger", {
          details: retargeted.map(({ contract, problem }) => `${contract.model.file}: model ${contract.model.name}, contract ${contract.spec.name}, field destination: ${problem}`),
        });
      }
      // A contract its gate held back leaves a run-log row saying why: `status` shows it, not only runs that wrote.
      if (!options.dryRun) {
        for (const { contract, reasons } of gated) {
          await ledger.heldRun({ runId: run.runId, contract: contract.spec.name, invocationId: run.invocationId, startedAt: new Date(), mode: contract.spec.destination.mode, actor: options.actor }, { status: "gated", reasons });
        }
      }
      for (const [contract, builtBy] of proven) {
        const destination = destinations.get(contract.spec.name);
        outcomes.set(
          contract.spec.name,
          await contractOrFailure(contract, () => {
            const acceptance = accepted.get(contract.spec.name);
            const gateOverridden = [...(gateOverrides.get(contract.spec.name) ?? []), ...(acceptance ? [acceptance] : [])];
            return syncContract(contract, destination, warehouse, ledger, controls, { ...run, builtBy }, { ...options, gateOverridden, retiring: acceptance !== undefined });
          }),
        );
      }
    }

    const ordered = [...contracts.map((c) => outcomes.get(c.spec.name)!), ...unsyncable.map((u) => outcomes.get(u.name)!)];
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
        commandLine: { projectDir, targetDir: options.targetPath, profilesDir: options.profilesDir, target: options.target, ledgerSchema: options.ledgerSchema },
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
    // After the database is free: a `status` in between reads either the tables or a snapshot still true.
    await live?.stop();
  }
}

/**
 * DuckDB admits one writing process per database file, so a second shard of a contract cannot open it while the
 * first runs: fail at once, saying how shards run on DuckDB.
 */
function shardsOnOneFile(error: BusyError, shard: Shard): BusyError {
  const n = shard.count;
  const each = (i: number): string => `dbt-activation sync --shard ${i}/${n} …`;
  const sequence = n <= 3 ? Array.from({ length: n }, (_, i) => each(i)).join(" && ") : `${each(0)} && … && ${each(n - 1)}`;
  return new BusyError(
    `${error.message}. Shards of a contract cannot run side by side on one DuckDB file (one writing process at a time): run them one after another ` +
      `in one job (\`${sequence}\`), or sync without --shard; to fan shards out to parallel ` +
      "workers, use a server warehouse (PostgreSQL, Snowflake, BigQuery)",
  );
}

/** `monitoring.alert_only`: gated and planned like any contract, alerted on, and never written. */
function alertOnly(contract: Contract): boolean {
  return contract.spec.monitoring?.alert_only === true;
}

/**
 * One contract's sync; a destination that fails it as a whole (down before the first write, a token refused mid-run)
 * fails that contract with the reason, and the run goes on to the next contract.
 */
async function contractOrFailure(contract: Contract, sync: () => Promise<ContractOutcome>): Promise<ContractOutcome> {
  try {
    return await sync();
  } catch (error) {
    if (!(error instanceof DestinationRequestError)) throw error;
    const base = { contract: contract.spec.name, model: contract.model.name, destination: destinationLabel(contract) };
    return { ...base, status: "failed", cause: "destination", reasons: [`the destination failed the run: ${error.message}`] };
  }
}

async function syncContract(
  contract: Contract,
  destination: Destination | undefined,
  warehouse: Warehouse,
  ledger: Ledger,
  controls: Controls,
  run: { runId: string; invocationId: string; builtBy?: string | undefined },
  options: SyncOptions,
): Promise<ContractOutcome> {
  const base = { contract: contract.spec.name, model: contract.model.name, destination: destinationLabel(contract) };
  const env = options.env ?? process.env;
  const paused = await controls.pausedReason(contract.spec.name, env);
  if (options.dryRun || alertOnly(contract)) return { ...(await planContract(contract, warehouse, ledger, options, paused, run.builtBy)), ...(alertOnly(contract) ? { alertOnly: true } : {}) };
  // Held back by the kill switch, or turned away by another runner's lease: the run log says so, as for the gate.
  const held = (status: "held" | "busy", reason: string) =>
    ledger.heldRun({ runId: run.runId, contract: contract.spec.name, invocationId: run.invocationId, startedAt: new Date(), mode: contract.spec.destination.mode, actor: options.actor }, { status, reasons: [reason] });
  if (paused) {
    await held("held", paused);
    return { ...base, status: "skipped", reasons: [paused] };
  }
  const holder = `${hostname()}:${process.pid}:${run.runId}`;
  // Shards of one contract run side by side: each holds its own lease.
  const leaseName = options.shard ? `${contract.spec.name}#${options.shard.index}/${options.shard.count}` : contract.spec.name;
  // How long a runner's lease outlives its last heartbeat: then another runner may take over (this one died).
  const ttlMs = envValue(env, "DBT_ACTIVATION_LEASE_TTL_MS");
  // Held (renewed by a heartbeat) until released: a runner that dies frees the contract one TTL later.
  const lease = await controls.holdLease(leaseName, holder, ttlMs);
  if (!lease.acquired) {
    const reason = `another runner (${lease.holder}) has been syncing this contract since ${lease.since?.toISOString() ?? "?"}`;
    await held("busy", reason);
    return { ...base, status: "busy", reasons: [reason] };
  }
  try {
    return await syncLeased({ contract, destination: destination!, warehouse, ledger, controls, run, options });
  } finally {
    await lease.release();
  }
}

/** `plan`: what a sync would do, with nothing written anywhere: counts per class, sample rows, what would stop it. */
async function planContract(contract: Contract, warehouse: Warehouse, ledger: Ledger, options: SyncOptions, paused: string | undefined, builtBy: string | undefined): Promise<ContractOutcome> {
  const base = { contract: contract.spec.name, model: contract.model.name, destination: destinationLabel(contract) };
  // A dry run asks no destination: the key rule is the one known without a describe (Salesforce: exact).
  const keyRule = knownKeyRule(contract);
  const planOptions = { ...(await planOptionsFor(warehouse, contract, ledger.tables, { fullResync: options.fullResync, shard: options.shard, env: options.env, builtBy, keyRule })), retiredLedger: options.retiring };
  // One plan, with what was last sent (for the field changes), dropped when read: a dry run leaves no table behind.
  const materialized = await MaterializedPlan.materialize(warehouse, contract, ledger.tables, planOptions, true);
  try {
    const plan = await materialized.counts();
    const samples: PlannedRecord[] = [];
    for await (const chunk of materialized.records()) {
      // Printed in text, JSON and Markdown: never the values of the model's sensitive columns.
      samples.push(...chunk.slice(0, SAMPLE_ROWS - samples.length).map((r) => redactSensitive(contract, r)));
      if (samples.length >= SAMPLE_ROWS) break;
    }
    const changes = await materialized.fieldChanges();
    const removals = await materialized.removalActions();
    const checks = stopChecks(contract.spec, plan, options.overrides);
    const rejected = (await materialized.rejectedKeys()).map((r) => ({ ...r, key: redactKey(contract, r.key) }));
    return { ...base, status: "planned", plan, fieldChanges: changes, removals, wouldStop: [...(paused ? [paused] : []), ...checks.stops], overridden: [...(options.gateOverridden ?? []), ...checks.overridden], samples, rejected };
  } finally {
    await materialized.drop();
  }
}

const SAMPLE_ROWS = 5;

/** Destination field → the kind of values its column holds, from the warehouse's column types (where it says). */
async function columnKinds(warehouse: Warehouse, contract: Contract): Promise<Record<string, ValueKind>> {
  const relation = (contract.activationModel ?? contract.model).relation;
  if (!warehouse.columnTypes || !relation) return {};
  const types = Object.fromEntries(Object.entries(await warehouse.columnTypes(relation)).map(([c, t]) => [c.toLowerCase(), t]));
  const kinds: Record<string, ValueKind> = {};
  for (const { column, to } of fieldMappings(contract.spec)) {
    const type = types[column.toLowerCase()];
    const kind = type === undefined ? undefined : kindOfType(type);
    if (kind) kinds[to] = kind;
  }
  return kinds;
}

/** One contract's run, once its lease is held: everything the stages after the gate need. */
interface ContractRun {
  contract: Contract;
  destination: Destination;
  warehouse: Warehouse;
  ledger: Ledger;
  controls: Controls;
  run: { runId: string; invocationId: string; builtBy?: string | undefined };
  options: SyncOptions;
  started: Date;
}

async function syncLeased(leased: Omit<ContractRun, "started">): Promise<ContractOutcome> {
  const { contract, ledger, controls, run, options } = leased;
  const started = new Date();
  // Retired before the run records its (new) target: a run killed in between leaves the old target recorded and no
  // synced rows of it, which the next run accepts without the flag.
  if (options.retiring) await ledger.retireTarget(contract.spec.name);
  await ledger.startRun({ runId: run.runId, contract: contract.spec.name, invocationId: run.invocationId, startedAt: started, mode: contract.spec.destination.mode, actor: options.actor, target: destinationTarget(contract.spec) });
  await ledger.abandonRuns(contract.spec.name, await controls.liveRunIds());
  const finishRun: FinishRun = (status, counts, stopReason, overrideReason) =>
    ledger.finishRun({ runId: run.runId, contract: contract.spec.name, finishedAt: new Date(), status, counts, stopReason, overrideReason });
  try {
    return await planAndSend({ ...leased, started }, finishRun);
  } catch (error) {
    // The run log says the run ended in an error; the messages we write ourselves name no secret, others may.
    const known = error instanceof BadInputError || error instanceof DestinationRequestError;
    const reason = known ? `error: ${error.message.slice(0, 500)}` : "internal error (the runner's stderr has the details)";
    await finishRun(error instanceof DestinationRequestError ? "failed" : "error", { eligible: 0, created: 0, updated: 0, unchanged: 0, removed: 0, failed: 0, rejected: 0 }, reason).catch(() => undefined);
    throw error;
  }
}

/** The late-arrival skips that reached `late_arriving.max_skipped_runs`, as permanent failures (LATE_ARRIVAL_STUCK). */
async function stuckLateArrivals(spec: ContractSpec, ledger: Ledger, contract: string, runId: string, skips: GuardSkip[], records: PlannedRecord[]): Promise<FailedOutcome[]> {
  const limit = lateArrivingLimit(spec);
  const late = skips.filter((s) => s.late);
  if (limit === undefined || late.length === 0) return [];
  const hashes = new Map(records.map((r) => [r.key, r.hash]));
  const counts = await ledger.lateSkips(contract, runId, late.map((s) => ({ key: s.key, reason: s.reason, hash: hashes.get(s.key) ?? "" })));
  return late
    .filter((s) => (counts.get(s.key) ?? 0) >= limit)
    .map((s): FailedOutcome => ({ key: s.key, status: "failed", code: LATE_ARRIVAL_STUCK_CODE, message: `skipped by late-arriving protection ${counts.get(s.key)} runs in a row (late_arriving.max_skipped_runs ${limit}): ${s.reason}; check the destination's timestamp (a typo or a clock error holds the record forever)` }));
}

type FinishRun = (status: string, counts: RunCounts, stopReason?: string, overrideReason?: string) => Promise<void>;

/** Keys looked up per read before a first sync (the destinations batch their reads below this). */
const MATCH_LOOKUP_CHUNK = 500;

/**
 * `gates.min_match_rate` on a first sync: looks the eligible keys up in the destination (read-only, nothing written)
 * and says why the run stops when too few already have a record; undefined when enough do.
 */
async function firstSyncMatchRate(
  contract: Contract,
  destination: Destination,
  warehouse: Warehouse,
  planOptions: Parameters<typeof eligibleKeys>[2],
  read: <T>(call: () => Promise<T>) => Promise<T>,
): Promise<string | undefined> {
  const keys = await eligibleKeys(warehouse, contract, planOptions);
  const field = contract.spec.destination.match.field;
  let matched = 0;
  for (let start = 0; start < keys.length; start += MATCH_LOOKUP_CHUNK) {
    const chunk = keys.slice(start, start + MATCH_LOOKUP_CHUNK);
    const found = await read(() => destination.readBack(chunk, [field]));
    matched += chunk.filter((k) => found.has(k)).length;
  }
  return matchRateStop(contract.spec, matched, keys.length);
}

async function planAndSend(
  { contract, destination, warehouse, ledger, controls, run, options, started }: ContractRun,
  finishRun: FinishRun,
  /** The key rule the destination gave when the one the last run recorded no longer held: plan again with it. */
  askedKeyRule?: KeyRule,
): Promise<ContractOutcome> {
  const base = { contract: contract.spec.name, model: contract.model.name, destination: destinationLabel(contract) };
  const env = options.env ?? process.env;
  const counters = { requests: 0, retries: 0 };
  // One budget for every call of this contract's run: key rule, preflight, read-back, writes and removals.
  // Throttles wait while the destination still accepts requests (any of this run's), up to the throttle timeout.
  const maxThrottledMs = envValue(env, "DBT_ACTIVATION_THROTTLE_TIMEOUT_MS");
  const retryPolicy = {
    budget: new RetryBudget(retryBudgetOf(contract.spec)),
    lastAcceptedAt: () => pacerFor(destination).lastAcceptedAt,
    ...(maxThrottledMs === undefined ? {} : { maxThrottledMs }),
  };
  // Keys are compared as the destination compares them (Salesforce: its describe of the match field).
  const askKeyRule = async (): Promise<KeyRule | FailedContractOutcome> => {
    try {
      return await retrying(() => destination.keyRule(), retryPolicy, counters);
    } catch (error) {
      if (!(error instanceof DestinationRequestError) || error.retryable) throw error;
      // Refused credentials are the user's to fix (exit 2); a retry budget spent on a destination that is down is the
      // destination failing the run (exit 4), as in the preflight.
      const down = error.code === "RETRY_BUDGET_SPENT";
      const reason = down ? `${destination.description} is not available: ${error.message}` : `${destination.description}: ${error.message}`;
      await finishRun("failed", { eligible: 0, created: 0, updated: 0, unchanged: 0, removed: 0, failed: 0, rejected: 0 }, reason.slice(0, 2000));
      return { ...base, status: "failed", ...(down ? { cause: "destination" as const } : {}), reasons: [reason] };
    }
  };
  // Known without asking (HubSpot), or recorded by the last run for this match field (Salesforce): a run with nothing
  // to send then asks the destination nothing, so a quiet rerun makes zero calls. A run that sends asks first (below).
  const keyField = `${contract.spec.destination.object}.${contract.spec.destination.match.field}`;
  const recorded = askedKeyRule || options.replay ? undefined : await ledger.lastKeyRule(contract.spec.name, keyField);
  const known = askedKeyRule ?? knownKeyRule(contract) ?? recorded ?? (await askKeyRule());
  if (typeof known !== "string") return known;
  const keyRule: KeyRule = known;
  await ledger.recordKeyRule(run.runId, contract.spec.name, keyField, keyRule);
  await ledger.canonicalizeKeys(contract.spec.name, keyRule);
  const planOptions = {
    ...(await planOptionsFor(warehouse, contract, ledger.tables, { fullResync: options.fullResync, shard: options.shard, env: options.env, builtBy: run.builtBy, keyRule })),
    replay: options.replay,
  };
  // Replay: dead-lettered keys that are not eligible today are not sent; their letters close with the reason.
  const notEligible = options.replay ? await ineligibleDeadLetters(warehouse, contract, ledger.tables, planOptions) : [];
  for (const reason of new Set(notEligible.map((n) => n.reason))) {
    await ledger.closeDeadLetters(contract.spec.name, notEligible.filter((n) => n.reason === reason).map((n) => n.key), `not eligible: ${reason}`);
  }
  // The plan computed once: counts, rows to send and removed keys are read from it (dropped when the run ends).
  const materialized = await MaterializedPlan.materialize(warehouse, contract, ledger.tables, planOptions);
  try {
    if (recorded !== undefined && knownKeyRule(contract) === undefined) {
      // Planned with the last run's key rule: before a run that sends writes anything, the destination confirms it;
      // if it changed (an admin edited the match field), plan again under the new rule.
      const plan = await materialized.counts();
      if (plan.create + plan.update + plan.removable > 0) {
        const asked = await askKeyRule();
        if (typeof asked !== "string") return asked;
        if (asked !== keyRule) {
          await materialized.drop();
          return await planAndSend({ contract, destination, warehouse, ledger, controls, run, options, started }, finishRun, asked);
        }
      }
    }
    return await sendPlan({ contract, destination, warehouse, ledger, controls, run, options, started }, finishRun, { base, counters, retryPolicy, maxThrottledMs, planOptions, notEligible, materialized });
  } finally {
    await materialized.drop();
  }
}

/** What planAndSend hands on to sendPlan. */
interface Planned {
  base: { contract: string; model: string; destination: string };
  counters: { requests: number; retries: number };
  retryPolicy: { budget: RetryBudget; lastAcceptedAt: () => number | undefined; maxThrottledMs?: number };
  maxThrottledMs: number | undefined;
  planOptions: PlanOptions;
  notEligible: { key: string; reason: string }[];
  materialized: MaterializedPlan;
}

async function sendPlan(
  { contract, destination, warehouse, ledger, controls, run, options, started }: ContractRun,
  finishRun: FinishRun,
  { base, counters, retryPolicy, maxThrottledMs, planOptions, notEligible, materialized }: Planned,
): Promise<ContractOutcome> {
  const env = options.env ?? process.env;
  const plan = await materialized.counts();
  // A row back to the values the destination holds is unchanged: its open write-failure letter is stale.
  if (plan.unchanged > 0 && !options.replay) await ledger.closeUnchangedDeadLetters(contract.spec.name, materialized.unchangedKeysSql());
  // Rejected keys are reported by one shard only, so the shards' reports add up.
  const rejected = !options.shard || options.shard.index === 0 ? await materialized.rejectedKeys() : [];
  let summary: SendSummary | undefined;
  // A replay sends only keys that failed after passing these checks in their own run.
  const checks = options.replay ? { stops: [], overridden: [] } : stopChecks(contract.spec, plan, options.overrides);
  if (!options.replay && checks.stops.length === 0 && measuresMatchRate(contract.spec, await ledger.hasRows(contract.spec.name))) {
    const stop = await firstSyncMatchRate(contract, destination, warehouse, planOptions, (read) => retrying(read, retryPolicy, counters));
    if (stop) checks.stops.push(stop);
  }
  const overridden = [...(options.gateOverridden ?? []), ...checks.overridden];
  const overrideReason = overridden.length > 0 ? overridden.join("; ") : undefined;
  const rejectedRows = rejected.reduce((n, r) => n + r.rows, 0);

  if (checks.stops.length > 0) {
    const planned = { eligible: plan.eligible, created: 0, updated: 0, unchanged: plan.unchanged, removed: 0, failed: 0, rejected: rejectedRows };
    await finishRun("stopped", planned, checks.stops.join("; "), overrideReason);
    return { ...base, status: "stopped", runId: run.runId, reasons: checks.stops, plan };
  }

  // Removals the run acts on: destination.on_removed's, and every consent or exclude removal (src/contract/rules.ts).
  const removals = plan.removable;
  const skips: GuardSkip[] = [];
  let skipped = 0;
  let removal: RemovalSummary | undefined;
  let failedBeforeSend = 0;
  const failedBeforeSendSamples: FailedOutcome[] = [];
  // The kill switch thrown while the run sent: the run ends paused, as the contract now is.
  let switchedOff: string | undefined;
  // Nothing changed: no destination call at all, not even the preflight.
  if (plan.create + plan.update + removals > 0) {
    // What the rows are sent under, kept with each written row and each dead letter (src/contract/fingerprint.ts).
    const mapping = mappingFingerprint(contract.spec);
    let problems: string[];
    let cause: "mapping" | "destination" = "mapping";
    try {
      problems = await retrying(async () => destination.checkMapping(await columnKinds(warehouse, contract), clearingRemovals(contract.spec)), retryPolicy, counters);
    } catch (error) {
      // Refused credentials, a revoked token, an exhausted quota, a destination down (5xx after every retry): the
      // contract fails before any write, and the run goes on to the next contract.
      if (!(error instanceof DestinationRequestError)) throw error;
      cause = "destination";
      problems = [`${destination.description} is not available: ${error.message}`];
    }
    if (problems.length > 0) {
      const planned = { eligible: plan.eligible, created: 0, updated: 0, unchanged: plan.unchanged, removed: 0, failed: 0, rejected: rejectedRows, failedUnchanged: plan.failedUnchanged, retryLater: plan.retryLater };
      await finishRun("failed", planned, problems.join("; ").slice(0, 2000), overrideReason);
      return { ...base, status: "failed", cause, runId: run.runId, reasons: problems };
    }
    // Rows with a value that has no exact destination form, or an `on_null: fail` field that is null, are
    // dead-lettered here, before the engine: nothing of them is sent.
    let records = withoutFailedRows(materialized.records(), async (failed) => {
      const outcomes = failed.map((r): FailedOutcome => ({ key: r.key, status: "failed", ...r.failure! }));
      await ledger.checkpoint(contract.spec.name, run.runId, failed, outcomes, mapping);
      failedBeforeSend += failed.length;
      failedBeforeSendSamples.push(...outcomes.slice(0, Math.max(0, 100 - failedBeforeSendSamples.length)));
    });
    if (needsReadBack(contract.spec)) {
      records = guardRecords(contract.spec, records, (keys, fields) => retrying(() => destination.readBack(keys, fields), retryPolicy, counters), async (found, skippedRecords) => {
        // Late-arrival skips are counted across runs: a record skipped max_skipped_runs in a row is dead-lettered
        // (a destination timestamp in the far future must not win every run with exit 0).
        const stuck = await stuckLateArrivals(contract.spec, ledger, contract.spec.name, run.runId, found, skippedRecords);
        if (stuck.length > 0) {
          await ledger.checkpoint(contract.spec.name, run.runId, skippedRecords, stuck, mapping);
          failedBeforeSend += stuck.length;
          failedBeforeSendSamples.push(...stuck.slice(0, Math.max(0, 100 - failedBeforeSendSamples.length)));
        }
        const stuckKeys = new Set(stuck.map((s) => s.key));
        const still = found.filter((f) => !stuckKeys.has(f.key));
        await ledger.recordSkips(contract.spec.name, run.runId, still);
        skipped += still.length;
        skips.push(...still.slice(0, Math.max(0, SAMPLE_ROWS * 4 - skips.length)));
      });
    }
    let sending: SendSummary | undefined;
    options.onSendStart?.(contract.spec.name, plan.create + plan.update);
    summary = await sendRecords(destination, records, {
      writer: writerFor(destination, contract.spec),
      retryBudget: retryPolicy.budget,
      ...(maxThrottledMs === undefined ? {} : { maxThrottledMs }),
      onProgress: (s) => {
        sending = s;
        options.onProgress?.(contract.spec.name, s);
      },
      onAcknowledged: async (sent, outcomes) => {
        await ledger.checkpoint(contract.spec.name, run.runId, sent as PlannedRecord[], outcomes, mapping);
      },
      // The kill switch is read between batches: pausing stops a running sync after the batch in flight. So is the
      // pause rule: a run failing rows past it stops now rather than at the end.
      shouldStop: async () => {
        const rule = sending && pauseRuleTripped(contract.spec, { attempted: sending.created + sending.updated + sending.failed, failed: sending.failed });
        if (rule) return rule;
        switchedOff = await controls.pausedReason(contract.spec.name, env);
        return switchedOff;
      },
    });
    if (removals > 0 && !summary.stopped) {
      const clearedFields = fieldMappings(contract.spec).map((m) => m.to);
      removal = await applyRemovals(destination, contract.spec, materialized.removedKeys(), counters, async (done, failed, owed) => {
        await ledger.recordRemovals(contract.spec.name, run.runId, { done, failed, owed }, { errorClass: REMOVAL_CLASS, clearedFields });
      }, retryPolicy);
    }
  }
  const counts = {
    eligible: plan.eligible,
    created: summary?.created ?? 0,
    updated: summary?.updated ?? 0,
    unchanged: plan.unchanged,
    removed: removal?.removed ?? 0,
    failed: (summary?.failed ?? 0) + failedBeforeSend + (removal?.failed.length ?? 0),
    skipped,
    rejected: rejectedRows,
    notSent: summary?.notSent ?? 0,
    failedUnchanged: plan.failedUnchanged,
    retryLater: plan.retryLater,
  };
  // Over the rows attempted in this run: rows held back by an open dead letter were not attempted.
  const pausedBy = pauseRuleTripped(contract.spec, { attempted: counts.created + counts.updated + counts.failed, failed: counts.failed });
  if (pausedBy) await controls.setPaused(contract.spec.name, true, pausedBy, "dbt-activation");
  const result = pausedBy || (switchedOff && summary?.stopped === switchedOff) ? "paused" : summary?.stopped ? "interrupted" : counts.failed + counts.notSent > 0 ? "partial" : "success";
  await finishRun(result, counts, summary?.stopped ?? pausedBy, overrideReason);
  return {
    ...base,
    status: "synced",
    result,
    runId: run.runId,
    counts,
    ...(options.replay ? { notEligible } : {}),
    requests: counters.requests + (summary?.requests ?? 0),
    retries: counters.retries + (summary?.retries ?? 0),
    failures: [...failedBeforeSendSamples, ...(summary?.failures ?? []), ...(removal?.failed ?? [])].slice(0, 100),
    skips,
    rejected,
    ...(summary?.stopped ? { stopped: summary.stopped } : {}),
    ...(overridden.length > 0 ? { overridden } : {}),
    ...(pausedBy ? { paused: pausedBy } : {}),
    durationMs: Date.now() - started.getTime(),
  };
}
