/** Turns what jsforce throws (with the HTTP answer when there was one) into a `DestinationRequestError`. */
import { DestinationRequestError } from "../types.ts";
import { salesforceRateLimitInfo } from "./limits.ts";

export interface HttpAnswer {
  statusCode: number;
  headers: Record<string, string>;
}

export function toRequestError(error: unknown, answer: HttpAnswer | undefined): DestinationRequestError {
  if (error instanceof DestinationRequestError) return error;
  const errorCode = (error as { errorCode?: unknown }).errorCode;
  const text = error instanceof Error ? error.message : String(error);
  const status = answer?.statusCode;
  // jsforce's OAuth2 throws the token endpoint's `error` (invalid_client, invalid_grant): credentials, not the network.
  const oauth = /^(invalid_client|invalid_grant|unauthorized_client|unsupported_grant_type)\b/.exec(`${(error as { name?: unknown }).name ?? ""}`) ?? /^(invalid_client|invalid_grant|unauthorized_client)\b/.exec(text);
  if (oauth) return new DestinationRequestError(`Salesforce refused the credentials: ${text}`, { code: "UNAUTHORIZED", exhausted: true, cause: error });
  if (status === undefined && typeof errorCode !== "string") {
    // No answer at all: connection refused or reset, timeout.
    return new DestinationRequestError(`Salesforce request failed: ${text}`, { code: "NETWORK", retryable: true, cause: error });
  }
  const code = typeof errorCode === "string" ? errorCode : `HTTP_${status ?? "ERROR"}`;
  const message = `Salesforce ${status ?? ""} ${code}: ${text}`.replace(/\s+/g, " ");
  const retryAfter = Number(answer?.headers["retry-after"]);
  const retryAfterMs = Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter * 1000 : undefined;
  const base = { status, code, cause: error, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };

  if (status === 429) return new DestinationRequestError(message, { ...base, code: "THROTTLED", retryable: true });
  if (code === "REQUEST_LIMIT_EXCEEDED" || status === 403) {
    // Salesforce throttles with this same 403: it is the daily allowance only when the answer's Sforce-Limit-Info
    // shows none left (or says nothing); otherwise (concurrent long-running requests, a burst) waiting helps.
    const { dailyRemaining } = salesforceRateLimitInfo(answer?.headers["sforce-limit-info"]);
    const concurrency = /ConcurrentPerOrgLongTxn/i.test(text);
    if (code === "REQUEST_LIMIT_EXCEEDED" && (concurrency || (dailyRemaining !== undefined && dailyRemaining > 0))) {
      return new DestinationRequestError(message, { ...base, code: "THROTTLED", retryable: true });
    }
    if (code === "REQUEST_LIMIT_EXCEEDED") return new DestinationRequestError(message, { ...base, code: "DAILY_LIMIT", exhausted: true });
    return new DestinationRequestError(message, { ...base, exhausted: true });
  }
  if (status === 401 || code === "INVALID_SESSION_ID") return new DestinationRequestError(message, { ...base, code: "UNAUTHORIZED", exhausted: true });
  if ((status !== undefined && status >= 500) || code === "SERVER_UNAVAILABLE" || code === "UNKNOWN_EXCEPTION") {
    return new DestinationRequestError(message, { ...base, retryable: true });
  }
  // A 400 (or 413, too large) refuses the whole request for something in it: splitting isolates the culprit.
  return new DestinationRequestError(message, { ...base, splittable: status === 400 || status === 413 });
}
