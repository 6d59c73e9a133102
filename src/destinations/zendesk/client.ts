/**
 * The Zendesk connection from the environment and the one HTTP client every request goes through: plain `fetch`
 * (node-zendesk rethrows every failed request as a bare `Error("Request processing failed: …")`, without the status
 * or the Retry-After / X-Rate-Limit headers the engine paces and retries by). Credentials stay in memory: no message
 * this module builds names a token or the Authorization header.
 */
import { credential, envValue, readEnv } from "../../config/env.ts";
import { BadInputError } from "../../errors.ts";

export const ZENDESK_ENV = {
  url: "ZENDESK_URL",
  email: "ZENDESK_EMAIL",
  apiToken: "ZENDESK_API_TOKEN",
  oauthToken: "ZENDESK_OAUTH_TOKEN",
  requestsPerMinute: "ZENDESK_REQUESTS_PER_MINUTE",
  timeout: "ZENDESK_REQUEST_TIMEOUT_MS",
} as const;

export type ZendeskAuth = { kind: "token"; email: string; token: string } | { kind: "oauth"; token: string };

export interface ZendeskConnection {
  /** `https://<subdomain>.zendesk.com` (or a loopback emulator), without a trailing slash or `/api/v2`. */
  url: string;
  auth: ZendeskAuth;
  /** A request with no answer for this long is abandoned (and retried by the engine). Default 60 s. */
  requestTimeoutMs?: number | undefined;
  /** The share of the account's per-minute limit this syncer may use (default: all of it). */
  requestsPerMinute?: number | undefined;
}

const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

export function zendeskConnectionFromEnv(env: NodeJS.ProcessEnv, contractName: string): ZendeskConnection {
  const rawUrl = readEnv(env, ZENDESK_ENV.url)?.trim();
  if (!rawUrl) throw new BadInputError(`contract ${contractName}: set ${ZENDESK_ENV.url} to your Zendesk URL (https://<subdomain>.zendesk.com)`);
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw new BadInputError(`contract ${contractName}: ${ZENDESK_ENV.url} is not a URL (expected https://<subdomain>.zendesk.com)`);
  }
  // Credentials travel in every request: plain http only to this machine (an emulator).
  if (url.protocol !== "https:" && !(url.protocol === "http:" && LOOPBACK.has(url.hostname))) {
    throw new BadInputError(`contract ${contractName}: ${ZENDESK_ENV.url} must be an https URL (plain http is accepted for 127.0.0.1 / localhost only)`);
  }
  const email = readEnv(env, ZENDESK_ENV.email)?.trim();
  const apiToken = credential(env, ZENDESK_ENV.apiToken, `contract ${contractName}`);
  const oauthToken = credential(env, ZENDESK_ENV.oauthToken, `contract ${contractName}`);
  const both = `set ${ZENDESK_ENV.email} and ${ZENDESK_ENV.apiToken} (API token), or ${ZENDESK_ENV.oauthToken} (OAuth)`;
  if (oauthToken && (email || apiToken)) throw new BadInputError(`contract ${contractName}: ${both}, not both`);
  if (!oauthToken && (!email || !apiToken)) throw new BadInputError(`contract ${contractName}: ${both}`);
  const auth: ZendeskAuth = oauthToken ? { kind: "oauth", token: oauthToken } : { kind: "token", email: email!, token: apiToken! };
  return {
    url: `${url.origin}${url.pathname.replace(/\/+$/, "").replace(/\/api\/v2$/, "")}`,
    auth,
    requestTimeoutMs: envValue(env, ZENDESK_ENV.timeout, `contract ${contractName}`),
    requestsPerMinute: envValue(env, ZENDESK_ENV.requestsPerMinute, `contract ${contractName}`),
  };
}

export interface ZendeskAnswer {
  status: number;
  headers: Headers;
  body: unknown;
}

/** One HTTP exchange with Zendesk; throws only when no answer came (network, timeout). */
export class ZendeskHttp {
  readonly #connection: ZendeskConnection;
  readonly #authorization: string;

  constructor(connection: ZendeskConnection) {
    this.#connection = connection;
    const { auth } = connection;
    this.#authorization = auth.kind === "oauth" ? `Bearer ${auth.token}` : `Basic ${Buffer.from(`${auth.email}/token:${auth.token}`).toString("base64")}`;
  }

  get baseUrl(): string {
    return this.#connection.url;
  }

  async send(method: "GET" | "POST" | "PUT" | "DELETE", path: string, body?: unknown): Promise<ZendeskAnswer> {
    const timeout = this.#connection.requestTimeoutMs ?? 60_000;
    const response = await fetch(`${this.#connection.url}${path}`, {
      method,
      headers: { Authorization: this.#authorization, Accept: "application/json", ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(timeout),
    });
    const text = await response.text();
    let parsed: unknown = text;
    try {
      parsed = text === "" ? undefined : (JSON.parse(text) as unknown);
    } catch {
      // Not JSON (a proxy's HTML error page): kept as text for the error message.
    }
    return { status: response.status, headers: response.headers, body: parsed };
  }
}
