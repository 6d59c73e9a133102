/** Turns what the HubSpot SDK throws, or a raw answer's refusal, into a `DestinationRequestError` the engine can act on. */
import { DestinationRequestError } from "../types.ts";
import type { HubSpotAnswer } from "./client.ts";
import { hubspotHeader as header } from "./limits.ts";
import { errorBodySchema } from "./responses.ts";

function retryAfterMs(headers: unknown): number | undefined {
  const retryAfter = Number(header(headers, "retry-after"));
  if (Number.isFinite(retryAfter) && retryAfter >= 0) return retryAfter * 1000;
  const interval = Number(header(headers, "x-hubspot-ratelimit-interval-milliseconds"));
  return Number.isFinite(interval) && interval > 0 ? interval : undefined;
}

/**
 * A non-2xx answer to a raw request (`sendHubSpotJson`), in the shape of the SDK's ApiException (`code`, `body`,
 * `headers`): `toRequestError` maps both alike, and a 401 triggers the same OAuth refresh.
 */
export class HubSpotAnswerError extends Error {
  readonly code: number;
  readonly body: string;
  readonly headers: HubSpotAnswer["headers"];

  constructor(answer: HubSpotAnswer) {
    super(`HubSpot answered ${answer.status}`);
    this.name = "HubSpotAnswerError";
    this.code = answer.status;
    this.body = answer.text;
    this.headers = answer.headers;
  }
}

export function toRequestError(error: unknown): DestinationRequestError {
  if (error instanceof DestinationRequestError) return error;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== "number") {
    // No HTTP status: the request never got an answer (connection refused or reset, DNS, timeout).
    const message = error instanceof Error ? error.message : String(error);
    return new DestinationRequestError(`HubSpot request failed: ${message}`, { code: "NETWORK", retryable: true, cause: error });
  }
  const rawBody = (error as { body?: unknown }).body;
  const parsedBody = errorBodySchema.safeParse(typeof rawBody === "string" ? parseJsonOr(rawBody, { message: rawBody }) : rawBody);
  const body = parsedBody.success ? parsedBody.data : {};
  const headers = (error as { headers?: unknown }).headers;
  const message = `HubSpot ${code}${body.category ? ` ${body.category}` : ""}: ${body.message ?? "no message"}`;

  if (code === 429) {
    const daily = body.policyName === "DAILY" || /daily limit/i.test(body.message ?? "") || header(headers, "x-hubspot-ratelimit-daily-remaining") === "0";
    if (daily) return new DestinationRequestError(message, { status: code, code: "DAILY_LIMIT", exhausted: true });
    return new DestinationRequestError(message, { status: code, code: "RATE_LIMIT", retryable: true, retryAfterMs: retryAfterMs(headers) });
  }
  if (code >= 500) return new DestinationRequestError(message, { status: code, code: "SERVER_ERROR", retryable: true, retryAfterMs: retryAfterMs(headers) });
  if (code === 401 || code === 403) return new DestinationRequestError(message, { status: code, code: "UNAUTHORIZED", exhausted: true });
  // 400s: a whole batch refused for what some record in it carries (duplicate ids, an invalid option).
  // 413: the request is too large for what one of its records carries; splitting isolates it like a 400.
  return new DestinationRequestError(message, { status: code, code: body.category ?? (code === 413 ? "PAYLOAD_TOO_LARGE" : "BAD_REQUEST"), splittable: code === 400 || code === 413 });
}

/** The JSON a text holds, or `otherwise` when it holds none (HubSpot answers some errors in plain text). */
export function parseJsonOr(text: string, otherwise: unknown): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return otherwise;
  }
}
