/**
 * The destination snapshot: what `reconcile` last read from the destination per contract (one capture per contract,
 * replaced by the next). The dbt package reads it: `activation_reconciliation`, the per-contract `<contract>__parity`
 * models and the `match_rate` / `parity` tests.
 */
import type { SqlParam, Warehouse } from "../warehouse/types.ts";
import { toJsonText } from "./ledger.ts";
import type { LedgerTables } from "./migrations.ts";

/** One destination record as captured. */
export interface CapturedRecord {
  key: string;
  recordId: string;
  values: Record<string, unknown>;
  modifiedAt?: string | undefined;
  /** The ledger row hash whose sent values the destination held (null: other values, or a record we never wrote). */
  rowHash: string | null;
  /** Whether any mapped field held a value. */
  holdsValues: boolean;
}

const COLUMNS = ["contract_name", "sync_key", "destination_record_id", "values_json", "destination_updated_at", "captured_at", "row_hash", "holds_values"];

export class DestinationSnapshot {
  readonly #warehouse: Warehouse;
  readonly #tables: LedgerTables;

  constructor(warehouse: Warehouse, tables: LedgerTables) {
    this.#warehouse = warehouse;
    this.#tables = tables;
  }

  /**
   * Replaces the contract's previous capture with a new, empty one taken at `capturedAt`. The capture is marked by a
   * row without a key, so a capture that finds no record still says the destination was read (the `match_rate` test
   * tells "nothing matched" from "never read" by it).
   */
  async begin(contract: string, capturedAt: Date): Promise<void> {
    const p = this.#warehouse.dialect.param;
    await this.#warehouse.transaction(async () => {
      await this.#warehouse.execute(`delete from ${this.#tables.snapshot} where contract_name = ${p(1)}`, [contract]);
      await this.#warehouse.execute(`insert into ${this.#tables.snapshot} (contract_name, captured_at) values (${p(1)}, ${p(2)})`, [contract, capturedAt]);
    });
  }

  /** Adds records to the contract's capture taken at `capturedAt`. */
  async append(contract: string, capturedAt: Date, records: CapturedRecord[]): Promise<void> {
    if (records.length === 0) return;
    const p = this.#warehouse.dialect.param;
    const params: SqlParam[] = records.flatMap((r) => [contract, r.key, r.recordId, toJsonText(r.values), r.modifiedAt ? new Date(r.modifiedAt) : null, capturedAt, r.rowHash, r.holdsValues]);
    const width = COLUMNS.length;
    const values = records.map((_, i) => `(${COLUMNS.map((_c, c) => p(i * width + c + 1)).join(", ")})`).join(", ");
    await this.#warehouse.execute(`insert into ${this.#tables.snapshot} (${COLUMNS.join(", ")}) values ${values}`, params);
  }
}
