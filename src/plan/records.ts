/**
 * The plan, first cut: every eligible row becomes an upsert of its mapped fields. (The ledger diff that classifies
 * rows as create / update / unchanged / removed deepens this stage later.) Null values are left out of the record,
 * so a null in the warehouse never clears a value in the destination.
 */
import type { Contract } from "../contract/load.ts";
import { fieldMappings } from "../contract/schema.ts";
import type { DestinationRecord } from "../destinations/types.ts";
import type { EligibleRow } from "../eligible/rows.ts";

export async function* toDestinationRecords(contract: Contract, chunks: AsyncIterable<EligibleRow[]>): AsyncIterable<DestinationRecord[]> {
  const mappings = fieldMappings(contract.spec);
  for await (const rows of chunks) {
    yield rows.map((row) => {
      const fields: DestinationRecord["fields"] = {};
      for (const { column, to } of mappings) {
        const value = row.values[column];
        if (value !== null && value !== undefined) fields[to] = value;
      }
      return { key: row.key, fields };
    });
  }
}
