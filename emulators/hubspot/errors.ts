// HubSpot's error shapes: the top-level `{status:"error", message, correlationId, category, ...}`
// and the per-input StandardError items of a 207 batch response.
import { randomUUID } from "node:crypto";

export interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

export function errorBody(message: string, category: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { status: "error", message, correlationId: randomUUID(), category, ...extra };
}

export function errorReply(status: number, message: string, category: string, extra: Record<string, unknown> = {}): Reply {
  return { status, body: errorBody(message, category, extra) };
}

export interface ErrorDetail {
  message: string;
  code?: string;
  in?: string;
}

/** One 207 error item; context carries the trace id when the caller sent one, else the id. */
export function batchError(
  category: string,
  message: string,
  errors: ErrorDetail[],
  input: { id: string; objectWriteTraceId?: string | undefined },
): Record<string, unknown> {
  const context = input.objectWriteTraceId !== undefined ? { objectWriteTraceId: [input.objectWriteTraceId] } : { ids: [input.id] };
  return { status: "error", category, message, errors, context, links: {} };
}
