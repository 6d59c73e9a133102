/**
 * Recovery operations over the ledger: `rollback` does what the contract's `monitoring.rollback` declares for the
 * records a run changed (restore the values the ledger saved as sent before that run, or clear the mapped fields, or
 * refuse for a manual runbook) and pauses the contract, or the next sync would send the bad values again; `replay`
 * sends the dead-lettered keys again, as a sync of today's rows.
 */
import { join } from "node:path";
import { resolveTargetDir } from "../dbt/project.ts";
import { loadContracts, selectContracts, type Contract } from "../contract/load.ts";
import { rollbackAction } from "../contract/rules.ts";
import { fieldMappings } from "../contract/schema.ts";
import { readManifest } from "../dbt/artifacts.ts";
import { openDestination } from "./destination.ts";
import type { DestinationRecord, RecordOutcome } from "../destinations/types.ts";
import { sendRecords, type SendSummary } from "../engine/send.ts";
import { BadInputError } from "../errors.ts";
import type { PlannedRecord } from "../plan/diff.ts";
import type { SyncReport } from "../report/types.ts";
import { openLedgerSession, type LedgerSession, type SessionOptions } from "./session.ts";
import { runSync } from "./sync.ts";

export interface RecoverOptions extends SessionOptions {
  targetPath?: string | undefined;
  contract: string;
}

export interface RecoverResult {
  contract: string;
  records: number;
  summary: SendSummary;
}

async function contractByName(options: RecoverOptions): Promise<Contract> {
  const manifest = await readManifest(join(await resolveTargetDir(options), "manifest.json"));
  const [contract] = selectContracts(loadContracts(manifest), [options.contract]);
  return contract!;
}

async function* once<T>(items: T[]): AsyncIterable<T[]> {
  if (items.length > 0) yield items;
}

function parseValues(text: unknown, where: string): Record<string, unknown> {
  try {
    return JSON.parse(String(text)) as Record<string, unknown>;
  } catch {
    throw new BadInputError(`${where}: stored values are not JSON`);
  }
}

async function withSession<T>(options: RecoverOptions, work: (session: LedgerSession, contract: Contract) => Promise<T>): Promise<T> {
  const contract = await contractByName(options);
  const session = await openLedgerSession(options);
  try {
    return await work(session, contract);
  } finally {
    await session.close();
  }
}

export async function runRollback(options: RecoverOptions & { runId: string }): Promise<RecoverResult & { strategy: "restore_previous" | "clear_fields"; notRestorable: number }> {
  const action = rollbackAction((await contractByName(options)).spec);
  if (action.kind === "refuse") throw new BadInputError(action.message);
  return withSession(options, async ({ warehouse, tables, ledger, controls }, contract) => {
    const p = warehouse.dialect.param;
    // Only records the run wrote: those it removed (cleared, deleted: their row left the eligible set, a consent
    // withdrawn, say) stay removed, or rolling back would bring back values of a row that may no longer be activated.
    const rows = await warehouse.query(
      `select sync_key, previous_values from ${tables.ledger} where contract_name = ${p(1)} and run_id = ${p(2)} and status = 'synced' order by sync_key`,
      [contract.spec.name, options.runId],
    );
    if (rows.length === 0) throw new BadInputError(`run ${options.runId} changed no record of contract ${contract.spec.name} (see dbt-activation status)`);
    // restore_previous: records the run created have nothing to restore and are left as they are. clear_fields:
    // every record the run wrote gets its mapped fields emptied (never the field it is matched on).
    const cleared = Object.fromEntries(fieldMappings(contract.spec).filter((m) => m.to !== contract.spec.destination.match.field).map((m) => [m.to, null]));
    const restorable = action.kind === "clear_fields" ? rows : rows.filter((r) => r.previous_values !== null);
    const records: PlannedRecord[] = restorable.map((r) => ({
      key: String(r.sync_key),
      fields: action.kind === "clear_fields" ? cleared : parseValues(r.previous_values, `ledger row ${String(r.sync_key)}`),
      hash: "",
      change: "update",
    }));
    const actor = options.env?.USER ?? options.env?.LOGNAME;
    await controls.setPaused(contract.spec.name, true, `rolled back run ${options.runId}`, actor);
    const destination = openDestination(contract, options.env ?? process.env);
    const summary = await sendRecords(destination, once(records), {
      onAcknowledged: async (sent: DestinationRecord[], outcomes: RecordOutcome[]) => {
        // An empty hash never equals a real one: the next sync (after resume) plans these rows as updates again.
        await ledger.checkpoint(contract.spec.name, `rollback:${options.runId}`, sent as PlannedRecord[], outcomes);
      },
    });
    return { contract: contract.spec.name, strategy: action.kind, records: records.length, notRestorable: rows.length - restorable.length, summary };
  });
}

/**
 * `replay` is a sync of the dead-lettered keys (src/pipeline/sync.ts, `replay`): it reads the artifacts of
 * --target-dir through the gate, respects the kill switch, the contract's mode and its retry budget, and sends each
 * key's eligible row as it is today; keys no longer eligible are not sent and their letters close with the reason.
 */
export async function runReplay(options: RecoverOptions & { actor?: string | undefined }): Promise<SyncReport> {
  return runSync({ ...options, select: [options.contract], replay: true });
}
