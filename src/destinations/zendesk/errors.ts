/** Turns a Zendesk error answer (or a request that got none) into a `DestinationRequestError` the engine acts on. */
import { DestinationRequestError } from "../types.ts";
import type { ZendeskAnswer } from "./client.ts";
import { retryAfterMs } from "./limits.ts";
import { errorBodySchema } from "./responses.ts";

/** Zendesk's error text: `{error, description}`, `{error: {title, message}}`, or a bare string. */
function describeBody(body: unknown): string {
  if (typeof body === "string") return body.slice(0, 300);
  const parsed = errorBodySchema.safeParse(body);
  if (!parsed.success) return "no message";
  const { error, description, details } = parsed.data;
  const head = typeof error === "string" ? error : [error?.title, error?.message].filter(Boolean).join(": ");
  const detail = details === undefined ? "" : ` ${JSON.stringify(details).slice(0, 500)}`;
  return [head, description].filter(Boolean).join(": ") + detail || "no message";
}

/** When a job queue is full Zendesk answers 429 too; waiting for running jobs helps, so it retries like a rate limit. */
const QUEUE_FULL = /queued jobs|TooManyJobs/i;

export function networkError(error: unknown): DestinationRequestError {
  if (error instanceof DestinationRequestError) return error;
  const message = error instanceof Error ? (error.name === "TimeoutError" ? "no answer within the request timeout" : error.message) : String(error);
  return new DestinationRequestError(`Zendesk request failed: ${message}`, { code: "NETWORK", retryable: true, cause: error });
}

export function toRequestError(answer: ZendeskAnswer, what: string): DestinationRequestError {
  const { status, headers } = answer;
  const text = describeBody(answer.body);
  const message = `Zendesk ${status} on ${what}: ${text}`;
  const wait = retryAfterMs(headers);
  const base = { status, ...(wait === undefined ? {} : { retryAfterMs: wait }) };
  if (status === 429) {
    if (QUEUE_FULL.test(text)) return new DestinationRequestError(message, { ...base, code: "TOO_MANY_JOBS", retryable: true, retryAfterMs: wait ?? 5000 });
    return new DestinationRequestError(message, { ...base, code: "RATE_LIMIT", retryable: true });
  }
  if (status === 403 && /data imports? (are|is) not enabled/i.test(text)) {
    return new DestinationRequestError(
      `Zendesk refused the bulk import on ${what}: data imports are not enabled for this account (the account owner must ask Zendesk support to enable them); nothing was written`,
      { status, code: "IMPORTS_DISABLED", exhausted: true },
    );
  }
  if (status === 401) return new DestinationRequestError(`${message} (check ZENDESK_EMAIL / ZENDESK_API_TOKEN or ZENDESK_OAUTH_TOKEN)`, { status, code: "UNAUTHORIZED", exhausted: true });
  if (status === 403) return new DestinationRequestError(message, { status, code: "FORBIDDEN", exhausted: true });
  if (status >= 500) return new DestinationRequestError(message, { ...base, code: "SERVER_ERROR", retryable: true });
  // 400 / 422 refuse the whole request for something in it; splitting isolates the culprit.
  return new DestinationRequestError(message, { status, code: status === 404 ? "NOT_FOUND" : "BAD_REQUEST", splittable: status === 400 || status === 413 || status === 422 });
}
