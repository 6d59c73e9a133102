/**
 * The alert state kept in the warehouse beside the ledger: one open incident per contract, so a condition that holds
 * run after run is alerted once (until it changes), and the first good run after it resolves it. Every runner of a
 * contract, on any machine, reads the same state.
 */
import type { Warehouse } from "../warehouse/types.ts";
import type { LedgerTables } from "./migrations.ts";

export interface OpenIncident {
  contract: string;
  kind: string;
  /** What identifies the condition (the kind and the rules that fired, not their numbers). */
  fingerprint: string;
  summary: string | null;
  /** The key the incident carries at PagerDuty (and in the webhook body), stable while it is open. */
  dedupKey: string;
  runId: string | null;
  openedAt: Date | null;
  lastAlertedAt: Date | null;
}

export class AlertState {
  readonly #w: Warehouse;
  readonly #t: LedgerTables;

  constructor(warehouse: Warehouse, tables: LedgerTables) {
    this.#w = warehouse;
    this.#t = tables;
  }

  async openIncident(contract: string): Promise<OpenIncident | undefined> {
    const p = this.#w.dialect.param;
    const [row] = await this.#w.query(
      `select contract_name, kind, fingerprint, summary, dedup_key, run_id, opened_at, last_alerted_at from ${this.#t.alerts} where contract_name = ${p(1)}`,
      [contract],
    );
    if (!row) return undefined;
    return {
      contract: String(row.contract_name),
      kind: String(row.kind),
      fingerprint: String(row.fingerprint),
      summary: (row.summary as string | null) ?? null,
      dedupKey: String(row.dedup_key),
      runId: (row.run_id as string | null) ?? null,
      openedAt: (row.opened_at as Date | null) ?? null,
      lastAlertedAt: (row.last_alerted_at as Date | null) ?? null,
    };
  }

  /** Records the contract's incident as it now stands (a new one, or the open one whose condition changed). */
  async record(incident: OpenIncident): Promise<void> {
    const p = this.#w.dialect.param;
    await this.#w.transaction(async () => {
      await this.#w.execute(`delete from ${this.#t.alerts} where contract_name = ${p(1)}`, [incident.contract]);
      await this.#w.execute(
        `insert into ${this.#t.alerts} (contract_name, kind, fingerprint, summary, dedup_key, run_id, opened_at, last_alerted_at)
         values (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)}, ${p(6)}, ${p(7)}, ${p(8)})`,
        [incident.contract, incident.kind, incident.fingerprint, incident.summary, incident.dedupKey, incident.runId, incident.openedAt, incident.lastAlertedAt],
      );
    });
  }

  async resolve(contract: string): Promise<void> {
    await this.#w.execute(`delete from ${this.#t.alerts} where contract_name = ${this.#w.dialect.param(1)}`, [contract]);
  }
}
