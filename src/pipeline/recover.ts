/**
 * Recovery operations over the ledger: `rollback` restores, for the records a run changed, the values the ledger saved
 * as sent before that run (and pauses the contract, or the next sync would send the bad values again); `replay`
 * resends dead letters after a fix on the destination side, marking those that land.
 */
import { join } from "node:path";
import { resolveTargetDir } from "../dbt/project.ts";
import { loadContracts, selectContracts, type Contract } from "../contract/load.ts";
import { readManifest } from "../dbt/artifacts.ts";
import { pacedDestination } from "../engine/pacing.ts";
import type { DestinationRecord, RecordOutcome } from "../destinations/types.ts";
import { sendRecords, type SendSummary } from "../engine/send.ts";
import { BadInputError } from "../errors.ts";
import type { PlannedRecord } from "../plan/diff.ts";
import { openLedgerSession, type LedgerSession, type SessionOptions } from "./session.ts";

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

export async function runRollback(options: RecoverOptions & { runId: string }): Promise<RecoverResult & { notRestorable: number }> {
  return withSession(options, async ({ warehouse, tables, ledger, controls }, contract) => {
    const p = warehouse.dialect.param;
    const rows = await warehouse.query(
      `select sync_key, previous_values from ${tables.ledger} where contract_name = ${p(1)} and run_id = ${p(2)} order by sync_key`,
      [contract.spec.name, options.runId],
    );
    if (rows.length === 0) throw new BadInputError(`run ${options.runId} changed no record of contract ${contract.spec.name} (see dbt-activation status)`);
    // Records the run created have nothing to restore: the contract's rollback path says what to do with them.
    const restorable = rows.filter((r) => r.previous_values !== null);
    const records: PlannedRecord[] = restorable.map((r) => ({
      key: String(r.sync_key),
      fields: parseValues(r.previous_values, `ledger row ${String(r.sync_key)}`),
      hash: "",
      change: "update",
    }));
    const actor = options.env?.USER ?? options.env?.LOGNAME;
    await controls.setPaused(contract.spec.name, true, `rolled back run ${options.runId}`, actor);
    const destination = pacedDestination(contract, options.env ?? process.env);
    const summary = await sendRecords(destination, once(records), {
      onAcknowledged: async (sent: DestinationRecord[], outcomes: RecordOutcome[]) => {
        // An empty hash never equals a real one: the next sync (after resume) plans these rows as updates again.
        await ledger.checkpoint(contract.spec.name, `rollback:${options.runId}`, sent as PlannedRecord[], outcomes);
      },
    });
    return { contract: contract.spec.name, records: records.length, notRestorable: rows.length - restorable.length, summary };
  });
}

export async function runReplay(options: RecoverOptions): Promise<RecoverResult> {
  return withSession(options, async ({ warehouse, tables, ledger }, contract) => {
    const p = warehouse.dialect.param;
    // The newest dead letter per key that has not been replayed yet.
    const rows = await warehouse.query(
      `select sync_key, payload, created_at from ${tables.deadLetters} as d
       where contract_name = ${p(1)} and replayed_at is null
         and created_at = (select max(created_at) from ${tables.deadLetters} as x where x.contract_name = d.contract_name and x.sync_key = d.sync_key)
       order by sync_key`,
      [contract.spec.name],
    );
    const records: PlannedRecord[] = rows.map((r) => ({ key: String(r.sync_key), fields: parseValues(r.payload, `dead letter ${String(r.sync_key)}`), hash: "", change: "update" }));
    const destination = pacedDestination(contract, options.env ?? process.env);
    const runId = `replay:${new Date().toISOString()}`;
    const summary = await sendRecords(destination, once(records), {
      onAcknowledged: async (sent, outcomes) => {
        await ledger.checkpoint(contract.spec.name, runId, sent as PlannedRecord[], outcomes);
        const landed = outcomes.filter((o) => o.status !== "failed").map((o) => o.key);
        if (landed.length === 0) return;
        await warehouse.execute(
          `update ${tables.deadLetters} set replayed_at = ${p(1)} where contract_name = ${p(2)} and replayed_at is null and sync_key in (${landed.map((_, i) => p(i + 3)).join(", ")})`,
          [new Date(), contract.spec.name, ...landed],
        );
      },
    });
    return { contract: contract.spec.name, records: records.length, summary };
  });
}
