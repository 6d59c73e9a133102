/** Opens a pool of PostgreSQL connections from a dbt-postgres profile target. */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import pg from "pg";
import { BadInputError, errorMessage } from "../../errors.ts";
import { redact } from "../../config/secrets.ts";
import { stringField } from "../fields.ts";
import type { ConnectOptions } from "../types.ts";

/** int8 (count(*), sum, bigint columns) as a bigint, the way DuckDB returns it; pg's default is a string. */
const INT8_OID = 20;
export const typeParsers = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === INT8_OID && format !== "binary" ? (value: string) => BigInt(value) : pg.types.getTypeParser(oid, format ?? "text")) as pg.CustomTypesConfig["getTypeParser"],
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
  const settings: string[] = [];
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
