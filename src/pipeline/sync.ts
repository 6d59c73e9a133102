/**
 * `sync`: the stages in their one direction, contract → gate → eligible rows → plan → engine → destination → report.
 * Everything that can be wrong with the input (artifacts, contracts, profile, credentials, columns) is checked
 * before the first write, so bad input writes nothing anywhere.
 */
import { join, resolve } from "node:path";
import { loadContracts, selectContracts, type Contract } from "../contract/load.ts";
import { readManifest, readRunResults } from "../dbt/artifacts.ts";
import { checkInvocation, createGate } from "../dbt/gate.ts";
import { resolveProfileTarget } from "../dbt/profiles.ts";
import { createDestination, type Destination } from "../destinations/index.ts";
import { checkColumns, eligibleRows, rejectedKeys, type EligibleRow } from "../eligible/rows.ts";
import { retrying } from "../engine/retry.ts";
import { sendRecords, type SendSummary } from "../engine/send.ts";
import { toDestinationRecords } from "../plan/records.ts";
import { exitCodeOf } from "../report/format.ts";
import type { ContractOutcome, SyncReport } from "../report/types.ts";
import { connectWarehouse, type Warehouse } from "../warehouse/index.ts";

export interface SyncOptions {
  projectDir: string;
  targetDir?: string | undefined;
  profilesDir?: string | undefined;
  target?: string | undefined;
  select?: string[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  onProgress?: (contract: string, summary: SendSummary) => void;
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
  const gate = createGate(manifest, runResults);
  const outcomes = new Map<string, ContractOutcome>();
  const passed: Contract[] = [];
  for (const contract of contracts) {
    const verdict = gate.verdictFor(contract.model.uniqueId);
    if (verdict.passed) passed.push(contract);
    else {
      outcomes.set(contract.spec.name, {
        contract: contract.spec.name,
        model: contract.model.name,
        destination: destinationLabel(contract),
        status: "skipped",
        reasons: verdict.reasons,
        gate: verdict,
      });
    }
  }

  if (passed.length > 0) {
    const target = await resolveProfileTarget({ projectDir, profilesDir: options.profilesDir, target: options.target, env, cwd });
    const warehouse = await connectWarehouse(target, { readOnly: true, cwd });
    try {
      // Input checks for every contract first: a bad one stops the run before any contract writes.
      const destinations = new Map<string, Destination>();
      for (const contract of passed) {
        await checkColumns(warehouse, contract);
        destinations.set(contract.spec.name, createDestination(contract, env));
      }
      for (const contract of passed) {
        const destination = destinations.get(contract.spec.name)!;
        outcomes.set(contract.spec.name, await syncContract(contract, destination, warehouse, options));
      }
    } finally {
      await warehouse.close();
    }
  }

  const ordered = contracts.map((c) => outcomes.get(c.spec.name)!);
  return {
    invocationId: manifest.metadata.invocation_id ?? "",
    command: runResults.args.which ?? "",
    dbtVersion: runResults.metadata.dbt_version,
    contracts: ordered,
    exitCode: exitCodeOf(ordered),
  };
}

async function syncContract(
  contract: Contract,
  destination: Destination,
  warehouse: Warehouse,
  options: SyncOptions,
): Promise<ContractOutcome> {
  const base = { contract: contract.spec.name, model: contract.model.name, destination: destinationLabel(contract) };
  const preflight = { requests: 0, retries: 0 };
  const problems = await retrying(() => destination.preflight(), {}, preflight);
  if (problems.length > 0) return { ...base, status: "failed", reasons: problems };

  const started = Date.now();
  const rejected = await rejectedKeys(warehouse, contract);
  let eligible = 0;
  const counted = async function* (chunks: AsyncIterable<EligibleRow[]>): AsyncIterable<EligibleRow[]> {
    for await (const chunk of chunks) {
      eligible += chunk.length;
      yield chunk;
    }
  };
  const records = toDestinationRecords(contract, counted(eligibleRows(warehouse, contract)));
  const summary = await sendRecords(destination, records, { onProgress: (s) => options.onProgress?.(contract.spec.name, s) });
  return {
    ...base,
    status: "synced",
    counts: {
      eligible,
      created: summary.created,
      updated: summary.updated,
      failed: summary.failed,
      rejected: rejected.reduce((n, r) => n + r.rows, 0),
      notSent: summary.notSent,
    },
    requests: preflight.requests + summary.requests,
    retries: preflight.retries + summary.retries,
    failures: summary.failures,
    rejected,
    ...(summary.stopped ? { stopped: summary.stopped } : {}),
    durationMs: Date.now() - started,
  };
}
