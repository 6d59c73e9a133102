/**
 * jsforce connections from the environment: a static access token, OAuth client credentials, or the JWT bearer
 * flow. Client credentials and JWT give no refresh token, so jsforce gets a `refreshFn` that runs the grant again
 * whenever Salesforce answers 401 (expired session). Secrets stay in memory and are never printed.
 */
import { credential } from "../../config/env.ts";
import { createSign } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
// jsforce is loaded on the first connection: it is the slowest package to load, and only Salesforce runs need it
// (every other command starts about 0.45 s sooner).
import type jsforce from "jsforce";
import { BadInputError } from "../../errors.ts";
import { readEnv, type EnvName } from "../../config/env.ts";

export type SalesforceConnection = InstanceType<typeof jsforce.Connection>;

export const SALESFORCE_ENV = {
  instanceUrl: "SALESFORCE_INSTANCE_URL",
  loginUrl: "SALESFORCE_LOGIN_URL",
  accessToken: "SALESFORCE_ACCESS_TOKEN",
  clientId: "SALESFORCE_CLIENT_ID",
  clientSecret: "SALESFORCE_CLIENT_SECRET",
  username: "SALESFORCE_USERNAME",
  privateKey: "SALESFORCE_JWT_PRIVATE_KEY",
  bulkThreshold: "SALESFORCE_BULK_THRESHOLD",
  bulkMaxBytes: "SALESFORCE_BULK_MAX_BYTES",
  bulkMaxRecords: "SALESFORCE_BULK_MAX_RECORDS",
} as const;

export const SALESFORCE_API_VERSION = "60.0";
const JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer";

export type SalesforceGrant =
  | { kind: "client_credentials"; loginUrl: string; clientId: string; clientSecret: string }
  | { kind: "jwt"; loginUrl: string; clientId: string; username: string; privateKey: string };

export interface SalesforceCredentials {
  instanceUrl?: string | undefined;
  accessToken?: string | undefined;
  /** How to get a (new) access token; absent: the static token is all there is. */
  grant?: SalesforceGrant | undefined;
  version?: string;
}

function privateKeyFrom(value: string, contractName: string): string {
  if (value.includes("-----BEGIN")) return value.replace(/\\n/g, "\n");
  if (!existsSync(value)) throw new BadInputError(`contract ${contractName}: ${SALESFORCE_ENV.privateKey} is neither a PEM key nor a readable file`);
  return readFileSync(value, "utf8");
}

const SHARED_LOGIN_HOSTS = new Set(["login.salesforce.com", "test.salesforce.com"]);

function hostOf(url: string): string {
  try {
    return new URL(url).hostname.toLowerCase();
  } catch {
    return url;
  }
}

export function salesforceCredentialsFromEnv(env: NodeJS.ProcessEnv, contractName: string): SalesforceCredentials {
  const get = (name: EnvName): string | undefined => readEnv(env, name) || undefined;
  const instanceUrl = get(SALESFORCE_ENV.instanceUrl);
  const secret = (name: string): string | undefined => credential(env, name, `contract ${contractName}`);
  const accessToken = secret(SALESFORCE_ENV.accessToken);
  const loginUrl = get(SALESFORCE_ENV.loginUrl) ?? instanceUrl ?? "https://login.salesforce.com";
  const clientId = secret(SALESFORCE_ENV.clientId);
  const clientSecret = secret(SALESFORCE_ENV.clientSecret);
  const username = get(SALESFORCE_ENV.username);
  const key = get(SALESFORCE_ENV.privateKey);
  let grant: SalesforceGrant | undefined;
  if (clientId && username && key) grant = { kind: "jwt", loginUrl, clientId, username, privateKey: privateKeyFrom(key, contractName) };
  else if (clientId && clientSecret) {
    // Salesforce allows the client credentials flow only on the org's My Domain, never on the shared login hosts:
    // falling back to login.salesforce.com would only fail later with a vaguer error.
    if (SHARED_LOGIN_HOSTS.has(hostOf(loginUrl))) {
      throw new BadInputError(
        `contract ${contractName}: the client credentials flow needs your org's My Domain URL (https://<domain>.my.salesforce.com) in ${SALESFORCE_ENV.loginUrl} or ${SALESFORCE_ENV.instanceUrl}; Salesforce refuses it on ${hostOf(loginUrl)}`,
      );
    }
    grant = { kind: "client_credentials", loginUrl, clientId, clientSecret };
  }
  if (!grant && !(accessToken && instanceUrl)) {
    throw new BadInputError(
      `contract ${contractName}: set ${SALESFORCE_ENV.accessToken} and ${SALESFORCE_ENV.instanceUrl}, or ${SALESFORCE_ENV.clientId} with ${SALESFORCE_ENV.clientSecret} ` +
        `(client credentials) or with ${SALESFORCE_ENV.username} and ${SALESFORCE_ENV.privateKey} (JWT bearer); ${SALESFORCE_ENV.loginUrl} defaults to the instance URL, else https://login.salesforce.com (JWT bearer only)`,
    );
  }
  return { instanceUrl, accessToken, grant };
}

/** A JWT bearer assertion (RS256) for Salesforce's OAuth token endpoint: short-lived, signed with the app's key. */
export function jwtAssertion(grant: Extract<SalesforceGrant, { kind: "jwt" }>, nowMs = Date.now()): string {
  const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString("base64url");
  const body = `${b64({ alg: "RS256", typ: "JWT" })}.${b64({ iss: grant.clientId, sub: grant.username, aud: grant.loginUrl, exp: Math.floor(nowMs / 1000) + 180 })}`;
  const signature = createSign("RSA-SHA256").update(body).sign(grant.privateKey).toString("base64url");
  return `${body}.${signature}`;
}

async function loadJsforce(): Promise<typeof jsforce> {
  return (await import("jsforce")).default;
}

/** Runs the grant: a fresh access token and the instance it is for. */
export async function runGrant(grant: SalesforceGrant, version: string): Promise<{ accessToken: string; instanceUrl: string }> {
  const { Connection } = await loadJsforce();
  const login =
    grant.kind === "client_credentials"
      ? new Connection({ oauth2: { clientId: grant.clientId, clientSecret: grant.clientSecret, loginUrl: grant.loginUrl }, version })
      : new Connection({ loginUrl: grant.loginUrl, version });
  if (grant.kind === "client_credentials") await login.authorize({ grant_type: "client_credentials" });
  else await login.authorize({ grant_type: JWT_GRANT, assertion: jwtAssertion(grant) });
  if (!login.accessToken || !login.instanceUrl) throw new Error("Salesforce's token response had no access token or instance URL");
  return { accessToken: login.accessToken, instanceUrl: login.instanceUrl };
}

/** One jsforce connection, authorized on first use and re-authorized by jsforce on a 401 through `refreshFn`. */
export class SalesforceSession {
  readonly #credentials: SalesforceCredentials;
  readonly version: string;
  #connection: Promise<SalesforceConnection> | undefined;
  /** Tokens obtained by the grant (first one included); tests read it, nothing prints a token. */
  grants = 0;

  constructor(credentials: SalesforceCredentials) {
    this.#credentials = credentials;
    this.version = credentials.version ?? SALESFORCE_API_VERSION;
  }

  connection(): Promise<SalesforceConnection> {
    this.#connection ??= this.#connect().catch((error: unknown) => {
      this.#connection = undefined;
      throw error;
    });
    return this.#connection;
  }

  async #grant(): Promise<{ accessToken: string; instanceUrl: string }> {
    const grant = this.#credentials.grant!;
    const token = await runGrant(grant, this.version);
    this.grants += 1;
    return token;
  }

  async #connect(): Promise<SalesforceConnection> {
    const { grant } = this.#credentials;
    let { accessToken, instanceUrl } = this.#credentials;
    if (!accessToken || !instanceUrl) ({ accessToken, instanceUrl } = await this.#grant());
    const { Connection } = await loadJsforce();
    return new Connection({
      instanceUrl,
      accessToken,
      version: this.version,
      ...(grant
        ? {
            refreshFn: (_conn: unknown, callback: (error: Error | null, token?: string) => void) => {
              this.#grant().then(
                (token) => callback(null, token.accessToken),
                (error: unknown) => callback(error instanceof Error ? error : new Error(String(error))),
              );
            },
          }
        : {}),
    });
  }
}
