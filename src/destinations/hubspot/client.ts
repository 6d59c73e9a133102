/**
 * The official HubSpot SDK client, configured for a syncer that paces and retries on its own, with either a
 * private-app token or OAuth (a refresh token exchanged for access tokens, again whenever HubSpot answers 401).
 */
import { credential, envValue, readEnv } from "../../config/env.ts";
import { Client } from "@hubspot/api-client";
import http from "node:http";
import https from "node:https";
import type { Socket } from "node:net";
import { z } from "zod";
import { BadInputError } from "../../errors.ts";

export interface HubSpotOAuth {
  clientId: string;
  clientSecret: string;
  refreshToken: string;
}

export interface HubSpotConnection {
  /** A private-app token, or an OAuth access token still valid; absent when `oauth` must fetch one first. */
  accessToken?: string | undefined;
  oauth?: HubSpotOAuth | undefined;
  /** Defaults to HubSpot's API; tests and demos point it at the loopback emulator. */
  basePath?: string | undefined;
  /** A request with no byte of answer for this long is abandoned (and retried by the engine). Default 60 s. */
  requestTimeoutMs?: number | undefined;
}

const HUBSPOT_API = "https://api.hubapi.com";
const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;

export const HUBSPOT_TOKEN_ENV = "HUBSPOT_ACCESS_TOKEN";
export const HUBSPOT_BASE_PATH_ENV = "HUBSPOT_BASE_PATH";
export const HUBSPOT_TIMEOUT_ENV = "HUBSPOT_REQUEST_TIMEOUT_MS";
export const HUBSPOT_OAUTH_ENV = { clientId: "HUBSPOT_CLIENT_ID", clientSecret: "HUBSPOT_CLIENT_SECRET", refreshToken: "HUBSPOT_REFRESH_TOKEN" } as const;

export function hubspotConnectionFromEnv(env: NodeJS.ProcessEnv, contractName: string): HubSpotConnection {
  const context = `contract ${contractName}`;
  const accessToken = credential(env, HUBSPOT_TOKEN_ENV, context);
  const clientId = credential(env, HUBSPOT_OAUTH_ENV.clientId, context);
  const clientSecret = credential(env, HUBSPOT_OAUTH_ENV.clientSecret, context);
  const refreshToken = credential(env, HUBSPOT_OAUTH_ENV.refreshToken, context);
  const oauthParts = [clientId, clientSecret, refreshToken].filter(Boolean).length;
  if (oauthParts > 0 && oauthParts < 3) {
    throw new BadInputError(
      `contract ${contractName}: HubSpot OAuth needs all of ${HUBSPOT_OAUTH_ENV.clientId}, ${HUBSPOT_OAUTH_ENV.clientSecret} and ${HUBSPOT_OAUTH_ENV.refreshToken}`,
    );
  }
  const oauth = clientId && clientSecret && refreshToken ? { clientId, clientSecret, refreshToken } : undefined;
  if (!accessToken && !oauth) {
    throw new BadInputError(
      `contract ${contractName}: set ${HUBSPOT_TOKEN_ENV} to a HubSpot private-app access token, or ${HUBSPOT_OAUTH_ENV.clientId}, ${HUBSPOT_OAUTH_ENV.clientSecret} and ${HUBSPOT_OAUTH_ENV.refreshToken} for OAuth`,
    );
  }
  const requestTimeoutMs = envValue(env, HUBSPOT_TIMEOUT_ENV, context);
  return { accessToken, oauth, basePath: readEnv(env, HUBSPOT_BASE_PATH_ENV) || undefined, requestTimeoutMs };
}

/**
 * An agent whose connections give up after `ms` without a byte of answer. The SDK has no request timeout (it calls
 * fetch without a signal, so a hung call would wait for the OS), but it sends through `httpAgent` when given one.
 */
function timeoutAgent(basePath: string, ms: number): http.Agent {
  const agent = new URL(basePath).protocol === "http:" ? new http.Agent({ keepAlive: true }) : new https.Agent({ keepAlive: true });
  const connect = agent.createConnection.bind(agent);
  agent.createConnection = (options, callback) => {
    // A net.Socket (tls.TLSSocket for https). Idle pooled sockets time out too: the agent would close them anyway.
    const socket = connect(options, callback) as Socket | null | undefined;
    socket?.setTimeout(ms, () => socket.destroy(new Error(`no answer from HubSpot within ${ms} ms (request timeout)`)));
    return socket;
  };
  return agent;
}

/** One HubSpot answer as it came over the wire: status, headers (Node's: lower-case names) and the body's text. */
export interface HubSpotAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  text: string;
}

interface Origin {
  transport: typeof http | typeof https;
  options: { protocol: string; hostname: string; port: string; pathPrefix: string };
}

/** Base paths parsed once (a process talks to one or two), not a URL per request. */
const origins = new Map<string, Origin>();

function originOf(basePath: string): Origin {
  let origin = origins.get(basePath);
  if (!origin) {
    const url = new URL(basePath);
    const hostname = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
    const options = { protocol: url.protocol, hostname, port: url.port, pathPrefix: url.pathname.replace(/\/+$/, "") };
    origin = { transport: url.protocol === "http:" ? http : https, options };
    origins.set(basePath, origin);
  }
  return origin;
}

/**
 * One JSON request with the client's own base path, access token and `httpAgent` (so the request timeout above
 * holds), sent and answered as bytes: none of the SDK's model classes, whose ObjectSerializer re-walks every
 * input and result of a batch upsert. Not the SDK's `apiRequest`: it sends through the global fetch, which ignores
 * `httpAgent`, so a call HubSpot never answers would hang. Any status resolves; a request with no answer rejects.
 */
export function sendHubSpotJson(client: Client, method: "POST", path: string, body: unknown): Promise<HubSpotAnswer> {
  const { transport, options } = originOf(client.config.basePath ?? HUBSPOT_API);
  const payload = JSON.stringify(body);
  const headers: http.OutgoingHttpHeaders = { "Content-Type": "application/json", Accept: "application/json", "Content-Length": Buffer.byteLength(payload) };
  if (client.config.accessToken) headers.Authorization = `Bearer ${client.config.accessToken}`;
  const { protocol, hostname, port, pathPrefix } = options;
  return new Promise((resolve, reject) => {
    const request = transport.request({ protocol, hostname, port, path: pathPrefix + path, method, headers, agent: client.config.httpAgent }, (response) => {
      const chunks: Buffer[] = [];
      response.on("data", (chunk: Buffer) => chunks.push(chunk));
      response.on("error", reject);
      response.on("end", () => resolve({ status: response.statusCode ?? 0, headers: response.headers, text: Buffer.concat(chunks).toString("utf8") }));
    });
    request.on("error", reject);
    request.end(payload);
  });
}

export function createHubSpotClient(connection: HubSpotConnection): Client {
  // The SDK's retry sleeps 10 s per attempt on a 429 and ignores Retry-After, and its limiter is a process-wide
  // singleton: both stay off (0 retries, no limiterOptions) so the engine alone decides when to wait and resend.
  const basePath = connection.basePath?.replace(/\/+$/, "");
  return new Client({
    ...(connection.accessToken ? { accessToken: connection.accessToken } : {}),
    numberOfApiCallRetries: 0,
    ...(basePath ? { basePath } : {}),
    httpAgent: timeoutAgent(basePath ?? HUBSPOT_API, connection.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS),
  });
}

// The SDK deserializes the token response to camelCase (TokenResponseIF); the wire names are accepted too.
const tokenResponseSchema = z
  .looseObject({
    accessToken: z.string().min(1).optional(),
    access_token: z.string().min(1).optional(),
    refreshToken: z.string().optional(),
    refresh_token: z.string().optional(),
  })
  .transform((t) => ({ accessToken: t.accessToken ?? t.access_token, refreshToken: t.refreshToken ?? t.refresh_token }))
  .refine((t) => t.accessToken !== undefined, "the token response has no access token");

/** Keeps the client's access token valid: fetches one before the first call when there is none, and on a 401. */
export class HubSpotAuth {
  readonly #client: Client;
  readonly #oauth: HubSpotOAuth | undefined;
  #hasToken: boolean;
  #refreshing: Promise<void> | undefined;
  refreshes = 0;

  constructor(client: Client, connection: HubSpotConnection) {
    this.#client = client;
    this.#oauth = connection.oauth ? { ...connection.oauth } : undefined;
    this.#hasToken = Boolean(connection.accessToken);
  }

  get canRefresh(): boolean {
    return this.#oauth !== undefined;
  }

  async ready(): Promise<void> {
    if (!this.#hasToken) await this.refresh();
  }

  /** One refresh at a time: concurrent 401s share it. */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#exchange().finally(() => (this.#refreshing = undefined));
    return this.#refreshing;
  }

  async #exchange(): Promise<void> {
    const oauth = this.#oauth;
    if (!oauth) throw new Error("no OAuth credentials to refresh the HubSpot access token with");
    const raw: unknown = await this.#client.oauth.tokensApi.create("refresh_token", undefined, undefined, oauth.clientId, oauth.clientSecret, oauth.refreshToken);
    const token = tokenResponseSchema.parse(raw);
    // HubSpot may rotate the refresh token; keep the newest in memory (never printed, never written).
    if (token.refreshToken) oauth.refreshToken = token.refreshToken;
    this.#client.setAccessToken(token.accessToken!);
    this.#hasToken = true;
    this.refreshes += 1;
  }
}
