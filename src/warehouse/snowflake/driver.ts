/** Opens a Snowflake session from a dbt-snowflake profile target. */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import snowflake from "snowflake-sdk";
import { BadInputError, errorMessage } from "../../errors.ts";
import { redact } from "../../config/secrets.ts";
import { stringField } from "../fields.ts";
import type { ConnectOptions } from "../types.ts";

// The driver logs to the console by default; the syncer reports errors itself.
snowflake.configure({ logLevel: "OFF" });

/** dbt-snowflake's `authenticator` values, as the Node driver names them. */
function authenticator(config: Record<string, unknown>): string {
  const value = (stringField(config, "authenticator") ?? "snowflake").toLowerCase();
  if (value === "snowflake" || value === "username_password_mfa") return "SNOWFLAKE";
  if (value === "oauth") return "OAUTH";
  if (value === "externalbrowser") return "EXTERNALBROWSER";
  if (value === "snowflake_jwt" || value === "jwt") return "SNOWFLAKE_JWT";
  throw new BadInputError(`the snowflake profile target's authenticator "${value}" is not supported (snowflake, snowflake_jwt, oauth, externalbrowser)`);
}

/**
 * The connection settings dbt-snowflake reads: account, user, password | private_key_path / private_key (+
 * private_key_passphrase) | token (oauth), role, database, warehouse, schema; `host`, `port` and `protocol` point it
 * elsewhere (a proxy, or the loopback emulator in the tests), as they do for dbt-snowflake.
 */
export function snowflakeConnectionOptions(config: Record<string, unknown>, options: ConnectOptions): snowflake.ConnectionOptions {
  const account = stringField(config, "account");
  const user = stringField(config, "user", "username");
  const database = stringField(config, "database");
  const missing = [!account && "account", !user && "user", !database && "database"].filter(Boolean);
  if (missing.length > 0) throw new BadInputError(`the snowflake profile target needs ${missing.join(", ")}`);
  const privateKeyPath = stringField(config, "private_key_path");
  const privateKey = stringField(config, "private_key");
  const auth = privateKeyPath || privateKey ? "SNOWFLAKE_JWT" : authenticator(config);
  const host = stringField(config, "host");
  const protocol = stringField(config, "protocol") ?? "https";
  const port = stringField(config, "port");
  const opt = <K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> => (value === undefined ? {} : ({ [key]: value } as Record<K, V>));
  return {
    account: account!,
    username: user!,
    authenticator: auth,
    database,
    ...opt("password", stringField(config, "password")),
    ...opt("token", stringField(config, "token")),
    // The key file is read here so a relative path resolves against the working directory, as dbt's does.
    ...opt("privateKey", privateKeyPath ? readFileSync(resolve(options.cwd ?? process.cwd(), privateKeyPath), "utf8") : privateKey),
    ...opt("privateKeyPass", stringField(config, "private_key_passphrase")),
    ...opt("role", stringField(config, "role")),
    ...opt("warehouse", stringField(config, "warehouse")),
    ...opt("schema", stringField(config, "schema")),
    ...opt("accessUrl", host ? `${protocol}://${host}${port ? `:${port}` : ""}` : undefined),
    application: "dbt-activation",
    // Integers as bigint, as DuckDB and PostgreSQL return them (counts beyond 2^53 stay exact).
    jsTreatIntegerAsBigInt: true,
    clientSessionKeepAlive: config.client_session_keep_alive === true,
    // dbt-snowflake's connect_retries (default 1): the driver's own default retries a refused login for minutes.
    sfRetryMaxLoginRetries: Number(config.connect_retries ?? 1),
  } as snowflake.ConnectionOptions;
}

export async function openSnowflake(config: Record<string, unknown>, options: ConnectOptions): Promise<snowflake.Connection> {
  const settings = snowflakeConnectionOptions(config, options);
  const connection = snowflake.createConnection(settings);
  try {
    // connect(callback), not connectAsync: the latter resolves even when the login fails.
    await new Promise<void>((resolve, reject) => connection.connect((error) => (error ? reject(error) : resolve())));
  } catch (error) {
    const where = `account ${settings.account} as ${settings.username}${settings.accessUrl ? ` (${settings.accessUrl})` : ""}`;
    const secrets = [settings.password, settings.token, settings.privateKeyPass, settings.privateKey];
    throw new BadInputError(`cannot connect to Snowflake ${where}: ${redact(errorMessage(error), secrets)}`, { where });
  }
  return connection;
}
