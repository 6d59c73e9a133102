/** Turns a Braze answer that is not a success into a `DestinationRequestError` the engine can act on. */
import { DestinationRequestError } from "../types.ts";
import { BrazeNetworkError, type BrazeAnswer } from "./client.ts";
import { brazeRetryAfterMs } from "./limits.ts";
import { errorBodySchema } from "./responses.ts";

export function answerError(what: string, answer: BrazeAnswer): DestinationRequestError {
  const parsed = errorBodySchema.safeParse(answer.body);
  const body = parsed.success ? parsed.data : {};
  const { status } = answer;
  const message = `Braze ${status} on ${what}: ${body.message ?? "no message"}`;
  if (status === 429) return new DestinationRequestError(message, { status, code: "RATE_LIMIT", retryable: true, retryAfterMs: brazeRetryAfterMs(answer.headers) });
  if (status >= 500) return new DestinationRequestError(message, { status, code: "SERVER_ERROR", retryable: true, retryAfterMs: brazeRetryAfterMs(answer.headers) });
  // A refused or under-privileged API key: no request of this run will succeed, end it and resume once fixed.
  if (status === 401 || status === 403) return new DestinationRequestError(message, { status, code: "UNAUTHORIZED", exhausted: true });
  // 400: refused for what some object in it carries (a value, the batch size); 413 likewise by size.
  return new DestinationRequestError(message, { status, code: status === 413 ? "PAYLOAD_TOO_LARGE" : status === 404 ? "NOT_FOUND" : "BAD_REQUEST", splittable: status === 400 || status === 413 });
}

export function toRequestError(error: unknown): DestinationRequestError {
  if (error instanceof DestinationRequestError) return error;
  if (error instanceof BrazeNetworkError) return new DestinationRequestError(error.message, { code: "NETWORK", retryable: true, cause: error });
  const message = error instanceof Error ? error.message : String(error);
  return new DestinationRequestError(`Braze request failed: ${message}`, { code: "NETWORK", retryable: true, cause: error });
}
