/**
 * DuckDB values as the syncer reads them: the client's JS conversion, except where it would send something else than
 * the warehouse holds. DECIMAL beyond 15 significant digits stays exact text (a double would round it), and types
 * with no exact destination form (TIME, INTERVAL, BLOB, …) or an infinite timestamp become `UnsendableValue`s, which
 * refuse their row with the reason.
 */
import { DuckDBTypeId, JSDuckDBValueConverter, type DuckDBDecimalValue, type DuckDBValueConverter, type JS } from "@duckdb/node-api";
import { UnsendableValue } from "../types.ts";

const UNSENDABLE: Partial<Record<DuckDBTypeId, string>> = {
  [DuckDBTypeId.TIME]: "a TIME value has no destination type (cast it to text in the model if that is meant)",
  [DuckDBTypeId.TIME_NS]: "a TIME value has no destination type (cast it to text in the model if that is meant)",
  [DuckDBTypeId.TIME_TZ]: "a TIME value has no destination type (cast it to text in the model if that is meant)",
  [DuckDBTypeId.INTERVAL]: "an INTERVAL value has no destination type (cast it to a number of seconds or to text in the model)",
  [DuckDBTypeId.BLOB]: "a binary value (BLOB/BYTEA) has no exact text or number form",
  [DuckDBTypeId.BIT]: "a BIT value has no destination type",
  [DuckDBTypeId.GEOMETRY]: "a GEOMETRY value has no destination type",
};

const TIMESTAMPS = new Set<DuckDBTypeId>([DuckDBTypeId.TIMESTAMP, DuckDBTypeId.TIMESTAMP_S, DuckDBTypeId.TIMESTAMP_MS, DuckDBTypeId.TIMESTAMP_NS, DuckDBTypeId.TIMESTAMP_TZ, DuckDBTypeId.DATE]);

/** A decimal's text as a number when a double holds it exactly (≤ 15 significant digits), else the text itself. */
export function exactDecimal(text: string): number | string {
  const digits = text.replace(/^-/, "").replace(".", "").replace(/^0+/, "");
  return digits.length <= 15 ? Number(text) : text;
}

export const syncerValueConverter: DuckDBValueConverter<unknown> = (value, type, converter) => {
  if (value === null || value === undefined) return null;
  const unsendable = UNSENDABLE[type.typeId];
  if (unsendable) return new UnsendableValue(unsendable);
  if (type.typeId === DuckDBTypeId.DECIMAL) return exactDecimal((value as DuckDBDecimalValue).toString());
  try {
    const converted = JSDuckDBValueConverter(value, type, converter as DuckDBValueConverter<JS>);
    if (converted instanceof Date && Number.isNaN(converted.getTime())) return new UnsendableValue("an infinite or out-of-range timestamp");
    return converted;
  } catch (error) {
    // The client cannot turn infinity (or a date beyond JS's range) into a Date.
    if (TIMESTAMPS.has(type.typeId)) return new UnsendableValue("an infinite or out-of-range timestamp");
    throw error;
  }
};
