/** Opens a pool of PostgreSQL connections from a dbt-postgres profile target. */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import pg from "pg";
import { BadInputError, errorMessage } from "../../errors.ts";
import { redact } from "../../config/secrets.ts";
import { stringField } from "../fields.ts";
import { UnsendableValue, exactDecimal, significantDigits, type ConnectOptions } from "../types.ts";

/** int8 (count(*), sum, bigint columns) as a bigint, the way DuckDB returns it; pg's default is a string. */
const INT8_OID = 20;
/** numeric: pg returns its text; as DuckDB's DECIMAL, a number when a double holds it exactly, else that text. */
const NUMERIC_OID = 1700;
/** Types with no exact destination form: read as `UnsendableValue`s, which refuse their row (numeric stays exact text). */
const UNSENDABLE_OIDS: Record<number, string> = {
  1083: "a TIME value has no destination type (cast it to text in the model if that is meant)",
  1266: "a TIME value has no destination type (cast it to text in the model if that is meant)",
  1186: "an INTERVAL value has no destination type (cast it to a number of seconds or to text in the model)",
  17: "a binary value (BLOB/BYTEA) has no exact text or number form",
  790: "a MONEY value is text in the server's locale (cast it to numeric in the model)",
  1560: "a BIT value has no destination type",
  1562: "a BIT value has no destination type",
};
/** json, jsonb: parsed, unless a number in it would be rounded by a double. */
const JSON_OIDS = new Set([114, 3802]);
/**
 * Arrays whose elements need the parsers above: pg's own read numeric[] as doubles, timestamp[] and date[] in the
 * process's local zone, and time[] or interval[] as text that a destination would take.
 */
const ARRAY_ELEMENT_OIDS: Record<number, number> = { 1016: 20, 1231: 1700, 1182: 1082, 1115: 1114, 1185: 1184, 1183: 1083, 1270: 1266, 1187: 1186, 1001: 17, 791: 790, 199: 114, 3807: 3802, 1561: 1560, 1563: 1562 };
const TEXT_ARRAY_OID = 1009;
/** date, timestamp, timestamptz: `infinity` and dates beyond JS's range are refused, never sent as something else. */
const DATE_OIDS = new Set([1082, 1114, 1184]);
const DATE_OID = 1082;
const TIMESTAMP_OID = 1114;

/**
 * date and timestamp (without time zone) as UTC, the way DuckDB's client reads them: pg's own parsers read them in
 * the process's local zone, so the same row would send another instant under another TZ.
 */
function utcDate(oid: number, value: string): Date | undefined {
  if (oid === DATE_OID && /^\d{4}-\d\d-\d\d$/.test(value)) return new Date(`${value}T00:00:00Z`);
  if (oid === TIMESTAMP_OID && /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?$/.test(value)) return new Date(`${value.replace(" ", "T")}Z`);
  return undefined;
}

/** JSON as a value, or unsendable when a number in it has more digits than the double it becomes (ids beyond 2^53). */
function jsonValue(text: string): unknown {
  let rounded: string | undefined;
  const parsed: unknown = JSON.parse(text, (_key, value: unknown, context?: { source?: string }) => {
    if (typeof value === "number" && context?.source !== undefined && significantDigits(context.source) !== significantDigits(String(value))) rounded ??= context.source;
    return value;
  });
  return rounded === undefined ? parsed : new UnsendableValue(`the JSON number ${rounded} would be rounded by a double (cast it to text in the model to send the JSON as written)`);
}

/** An array's text parsed element by element (nested arrays too) with the element type's parser. */
function arrayOf(parse: (value: string) => unknown): (value: string) => unknown {
  const split = pg.types.getTypeParser(TEXT_ARRAY_OID as Parameters<typeof pg.types.getTypeParser>[0], "text") as (value: string) => unknown;
  const each = (item: unknown): unknown => (Array.isArray(item) ? item.map(each) : item === null ? null : parse(String(item)));
  return (value) => each(split(value));
}

function parserFor(oid: number, format: "text" | "binary"): (value: string) => unknown {
  if (format === "binary") return pg.types.getTypeParser(oid, format);
  const element = ARRAY_ELEMENT_OIDS[oid];
  if (element !== undefined) return arrayOf(parserFor(element, format));
  if (JSON_OIDS.has(oid)) return jsonValue;
  if (oid === INT8_OID) return (value) => BigInt(value);
  if (oid === NUMERIC_OID) return exactDecimal;
  const unsendable = UNSENDABLE_OIDS[oid];
  if (unsendable) return () => new UnsendableValue(unsendable);
  const parse = pg.types.getTypeParser(oid, format) as (value: string) => unknown;
  if (!DATE_OIDS.has(oid)) return parse;
  return (value) => {
    const parsed = oid === DATE_OID || oid === TIMESTAMP_OID ? utcDate(oid, value) : parse(value);
    return parsed instanceof Date && !Number.isNaN(parsed.getTime()) ? parsed : new UnsendableValue("an infinite or out-of-range timestamp");
  };
}

export const typeParsers = {
  getTypeParser: ((oid: number, format?: "text" | "binary") => parserFor(oid, format ?? "text")) as pg.CustomTypesConfig["getTypeParser"],
};

function sslOptions(config: Record<string, unknown>, cwd: string): pg.PoolConfig["ssl"] {
  const mode = stringField(config, "sslmode") ?? "prefer";
  // libpq's default `prefer` falls back to plain text when the server has no TLS; node-postgres cannot fall back,
  // so prefer/allow/disable connect without TLS, as they do on a server without it.
  if (mode === "disable" || mode === "allow" || mode === "prefer") return false;
  const file = (name: string): string | undefined => {
    const path = stringField(config, name);
    return path ? readFileSync(resolve(cwd, path), "utf8") : undefined;
  };
  const ca = file("sslrootcert");
  const cert = file("sslcert");
  const key = file("sslkey");
  return {
    // require: encrypted, the certificate not checked (as libpq does without a root certificate).
    rejectUnauthorized: mode === "verify-ca" || mode === "verify-full" || (mode === "require" && ca !== undefined),
    ...(mode === "verify-ca" ? { checkServerIdentity: () => undefined } : {}),
    ...(ca ? { ca } : {}),
    ...(cert ? { cert } : {}),
    ...(key ? { key } : {}),
  };
}

/** The connection settings dbt-postgres reads: host, port, user, password (or pass), dbname (or database), ssl*. */
export function postgresPoolConfig(config: Record<string, unknown>, options: ConnectOptions): pg.PoolConfig {
  const host = stringField(config, "host");
  const user = stringField(config, "user", "username");
  const database = stringField(config, "dbname", "database");
  const missing = [!host && "host", !user && "user", !database && "dbname"].filter(Boolean);
  if (missing.length > 0) throw new BadInputError(`the postgres profile target needs ${missing.join(", ")}`);
  // Keys and hashed values are cast to text in SQL: timestamptz renders in the session's TimeZone and dates in its
  // DateStyle, and floats at extra_float_digits (0 or less rounds to 15 digits, so 0.30000000000000004 and 0.3 would
  // hash alike and a change between them would never be sent), which come from the server's or the role's defaults.
  // Fixed here (1: the shortest text that reads back exactly), so a key's and a value's text is the same everywhere.
  const settings: string[] = ["-c TimeZone=UTC", "-c DateStyle=ISO,YMD", "-c extra_float_digits=1"];
  const searchPath = stringField(config, "search_path");
  if (searchPath) settings.push(`-c search_path=${searchPath.replaceAll(" ", "")}`);
  // A read-only run (plan, status) cannot write, whatever SQL it sends.
  if (options.readOnly) settings.push("-c default_transaction_read_only=on");
  const role = stringField(config, "role");
  if (role) settings.push(`-c role=${role}`);
  const timeout = Number(config.connect_timeout ?? 10);
  return {
    host,
    port: Number(config.port ?? 5432),
    user,
    password: stringField(config, "password", "pass"),
    database,
    ssl: sslOptions(config, options.cwd ?? process.cwd()),
    ...(settings.length > 0 ? { options: settings.join(" ") } : {}),
    connectionTimeoutMillis: Number.isFinite(timeout) ? timeout * 1000 : 10_000,
    application_name: "dbt-activation",
    // Streams hold a connection each (a server-side cursor) while writes go on beside them.
    max: 8,
    types: typeParsers,
  };
}

export async function openPostgres(config: Record<string, unknown>, options: ConnectOptions): Promise<pg.Pool> {
  const poolConfig = postgresPoolConfig(config, options);
  const pool = new pg.Pool(poolConfig);
  // An idle pooled client that loses its server emits here; without a listener it would crash the process.
  pool.on("error", () => undefined);
  try {
    const client = await pool.connect();
    client.release();
  } catch (error) {
    await pool.end().catch(() => undefined);
    // A host given as a connection string carries its password: neither the place nor the driver's words show it.
    const where = redact(`${poolConfig.host}:${poolConfig.port}/${poolConfig.database} as ${poolConfig.user}`, [poolConfig.password]);
    throw new BadInputError(`cannot connect to PostgreSQL at ${where}: ${redact(errorMessage(error), [poolConfig.password])}`, { where });
  }
  return pool;
}
