/**
 * Braze REST over Node's own fetch. The community `braze-api` package was the candidate client, but its request helper
 * returns the parsed body only and drops the response headers (success and `ResponseError` alike), so the
 * `X-RateLimit-*` headers could never reach the pacer; it also has no request timeout and no `GET /custom_attributes`.
 * Every answer here keeps its status, headers and body; the API key is sent as a Bearer header and never printed.
 */
import { credential, envValue, readEnv } from "../../config/env.ts";
import { BadInputError } from "../../errors.ts";

export interface BrazeConnection {
  apiKey: string;
  /** The workspace's REST endpoint, e.g. https://rest.iad-01.braze.com (tests: the loopback emulator). */
  restEndpoint: string;
  /** A request with no answer for this long is abandoned (and retried by the engine). Default 60 s. */
  requestTimeoutMs?: number | undefined;
}

export const BRAZE_ENV = { apiKey: "BRAZE_API_KEY", restEndpoint: "BRAZE_REST_ENDPOINT", timeout: "BRAZE_REQUEST_TIMEOUT_MS" } as const;
const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;

export function brazeConnectionFromEnv(env: NodeJS.ProcessEnv, contractName: string): BrazeConnection {
  const apiKey = credential(env, BRAZE_ENV.apiKey, `contract ${contractName}`);
  const endpoint = readEnv(env, BRAZE_ENV.restEndpoint)?.trim();
  if (!apiKey) throw new BadInputError(`contract ${contractName}: set ${BRAZE_ENV.apiKey} to a Braze REST API key (users.track, users.delete, users.export.ids, custom_attributes.get)`);
  if (!endpoint) throw new BadInputError(`contract ${contractName}: set ${BRAZE_ENV.restEndpoint} to your Braze instance's REST endpoint, e.g. https://rest.iad-01.braze.com`);
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    throw new BadInputError(`contract ${contractName}: ${BRAZE_ENV.restEndpoint} is not a URL (got ${endpoint})`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") throw new BadInputError(`contract ${contractName}: ${BRAZE_ENV.restEndpoint} must be an http(s) URL (got ${endpoint})`);
  const requestTimeoutMs = envValue(env, BRAZE_ENV.timeout, `contract ${contractName}`);
  return { apiKey, restEndpoint: endpoint.replace(/\/+$/, ""), requestTimeoutMs };
}

export interface BrazeAnswer {
  status: number;
  headers: Headers;
  /** The parsed JSON body; the raw text (cut) when it is not JSON (a gateway's HTML page). */
  body: unknown;
}

/** A request that got no answer (refused, reset, timed out); carries no URL query and never the key. */
export class BrazeNetworkError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "BrazeNetworkError";
  }
}

export class BrazeHttp {
  readonly #connection: BrazeConnection;

  constructor(connection: BrazeConnection) {
    this.#connection = { ...connection, restEndpoint: connection.restEndpoint.replace(/\/+$/, "") };
  }

  get endpoint(): string {
    return this.#connection.restEndpoint;
  }

  /** One HTTP exchange; a non-2xx status is an answer, not an exception (the caller maps it). */
  async send(method: "GET" | "POST", path: string, body?: unknown): Promise<BrazeAnswer> {
    const ms = this.#connection.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    let response: Response;
    try {
      response = await fetch(`${this.#connection.restEndpoint}${path}`, {
        method,
        headers: { Authorization: `Bearer ${this.#connection.apiKey}`, "Content-Type": "application/json", Accept: "application/json" },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(ms),
      });
    } catch (error) {
      const reason = error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError") ? `no answer within ${ms} ms (request timeout)` : describeCause(error);
      throw new BrazeNetworkError(`Braze ${method} ${path.split("?")[0]}: ${reason}`, { cause: error });
    }
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      throw new BrazeNetworkError(`Braze ${method} ${path.split("?")[0]}: the answer broke off (${describeCause(error)})`, { cause: error });
    }
    return { status: response.status, headers: response.headers, body: parseBody(text) };
  }
}

function describeCause(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
  if (cause && typeof cause.code === "string") return cause.code;
  return error instanceof Error ? error.message : String(error);
}

function parseBody(text: string): unknown {
  if (text.trim() === "") return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return { message: text.slice(0, 200) };
  }
}
