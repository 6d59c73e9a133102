/**
 * DuckDB values as the syncer reads them: the client's JS conversion, except where it would send something else than
 * the warehouse holds. DECIMAL beyond 15 significant digits stays exact text (a double would round it), REAL is
 * its shortest decimal, timestamps round down to the millisecond (before 1970 too), and types
 * with no exact destination form (TIME, INTERVAL, BLOB, …) or an infinite timestamp become `UnsendableValue`s, which
 * refuse their row with the reason.
 */
import {
  DuckDBTimestampNanosecondsValue,
  DuckDBTimestampTZValue,
  DuckDBTimestampValue,
  DuckDBTypeId,
  JSDuckDBValueConverter,
  type DuckDBDecimalValue,
  type DuckDBValueConverter,
  type JS,
} from "@duckdb/node-api";
import { UnsendableValue, exactDecimal } from "../types.ts";

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

/**
 * A FLOAT (REAL) as the shortest decimal that reads back as the same 32-bit float, as DuckDB prints it: the client
 * widens it to the double nearest the float (0.1 → 0.10000000149011612), which no one wrote.
 */
function shortestFloat32(value: number): number {
  if (!Number.isFinite(value)) return value;
  for (let digits = 1; digits <= 9; digits += 1) {
    const shortest = Number(value.toPrecision(digits));
    if (Math.fround(shortest) === value) return shortest;
  }
  return value;
}

const MAX_DATE_MILLIS = 8_640_000_000_000_000n;
const INFINITE_TICKS = 2n ** 63n - 1n;

/**
 * A timestamp's ticks (micro- or nanoseconds since 1970) as a Date, rounded down to the millisecond like PostgreSQL's
 * client: the DuckDB client truncates toward 1970, so 1969-12-31 23:59:59.999999 became 1970-01-01 00:00:00.000.
 */
function dateFromTicks(ticks: bigint, perMilli: bigint): Date | UnsendableValue {
  // ±infinity are the largest ticks: in nanoseconds that is a date JS can hold (2262-04-11), never to be sent.
  if (ticks >= INFINITE_TICKS || ticks <= -INFINITE_TICKS) return new UnsendableValue("an infinite or out-of-range timestamp");
  const millis = ticks / perMilli - (ticks % perMilli < 0n ? 1n : 0n);
  if (millis < -MAX_DATE_MILLIS || millis > MAX_DATE_MILLIS) return new UnsendableValue("an infinite or out-of-range timestamp");
  return new Date(Number(millis));
}

export const syncerValueConverter: DuckDBValueConverter<unknown> = (value, type, converter) => {
  if (value === null || value === undefined) return null;
  const unsendable = UNSENDABLE[type.typeId];
  if (unsendable) return new UnsendableValue(unsendable);
  if (type.typeId === DuckDBTypeId.DECIMAL) return exactDecimal((value as DuckDBDecimalValue).toString());
  if (type.typeId === DuckDBTypeId.FLOAT) return shortestFloat32(value as number);
  if (value instanceof DuckDBTimestampValue || value instanceof DuckDBTimestampTZValue) return dateFromTicks(value.micros, 1000n);
  if (value instanceof DuckDBTimestampNanosecondsValue) return dateFromTicks(value.nanos, 1_000_000n);
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
