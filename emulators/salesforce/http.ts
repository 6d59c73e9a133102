// Small HTTP helpers: replies as plain values (so handlers stay testable) and bounded body reading.
import type { IncomingMessage } from "node:http";

export interface Reply {
  status: number;
  /** Serialised as JSON unless `text` is given. */
  body?: unknown;
  text?: string;
  contentType?: string;
  headers?: Record<string, string>;
  /** Records written or returned, for the call log. */
  records?: number;
}

export function json(status: number, body: unknown, extra: Partial<Reply> = {}): Reply {
  return { status, body, ...extra };
}

/** Salesforce's REST error body: an array of {message, errorCode}. */
export function sfError(status: number, errorCode: string, message: string, fields?: string[]): Reply {
  return json(status, [fields ? { message, errorCode, fields } : { message, errorCode }]);
}

export const NOT_FOUND = (): Reply => sfError(404, "NOT_FOUND", "The requested resource does not exist");

export class BodyTooLarge extends Error {}

/** Reads the whole body; Bulk 2.0 uploads may be up to 150 MB. */
export async function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > maxBytes) throw new BodyTooLarge(`body exceeds ${maxBytes} bytes`);
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

export function parseJsonBody(body: Buffer): { value: unknown } | { error: Reply } {
  try {
    return { value: JSON.parse(body.toString("utf8")) as unknown };
  } catch (e) {
    return { error: sfError(400, "JSON_PARSER_ERROR", `Unexpected character: ${(e as Error).message}`) };
  }
}
