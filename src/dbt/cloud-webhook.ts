/**
 * dbt Cloud job webhooks: a delivery is accepted only with a valid signature (the `Authorization` header is the hex
 * HMAC-SHA256 of the raw body, keyed by the webhook's secret, per dbt's "Validate a webhook"), from the configured
 * account, and fresh (its signed `timestamp` within the allowed age), so a captured delivery cannot be replayed later.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { z } from "zod";

/** Where `serve` takes dbt Cloud's job webhooks. */
export const WEBHOOK_PATH = "/webhooks/dbt-cloud";

const deliverySchema = z.looseObject({
  accountId: z.union([z.number(), z.string()]).transform(String),
  eventId: z.string(),
  timestamp: z.string(),
  eventType: z.string(),
  data: z.looseObject({ jobId: z.union([z.number(), z.string()]).transform(String), runId: z.union([z.number(), z.string()]).transform(String), runStatus: z.string().optional() }),
});
export type Delivery = z.infer<typeof deliverySchema>;

export type Verdict = { ok: true; delivery: Delivery } | { ok: false; status: number; reason: string };

/** Future timestamps are allowed this much clock skew. */
const MAX_SKEW_MS = 5 * 60_000;

export function verifyDelivery(body: Buffer, authorization: string | undefined, options: { secret: string; maxAgeMs: number; accountId: number; now?: Date }): Verdict {
  if (!authorization) return { ok: false, status: 401, reason: "unsigned delivery (no Authorization header)" };
  const expected = createHmac("sha256", options.secret).update(body).digest();
  const given = /^[0-9a-f]{64}$/i.test(authorization.trim()) ? Buffer.from(authorization.trim(), "hex") : Buffer.alloc(0);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return { ok: false, status: 401, reason: "bad signature" };
  let raw: unknown;
  try {
    raw = JSON.parse(body.toString("utf8"));
  } catch {
    return { ok: false, status: 400, reason: "body is not JSON" };
  }
  const parsed = deliverySchema.safeParse(raw);
  if (!parsed.success) return { ok: false, status: 400, reason: `not a dbt Cloud job webhook: ${parsed.error.issues[0]?.path.join(".")}: ${parsed.error.issues[0]?.message}` };
  const delivery = parsed.data;
  const sent = Date.parse(delivery.timestamp);
  const now = (options.now ?? new Date()).getTime();
  if (Number.isNaN(sent)) return { ok: false, status: 400, reason: "timestamp is not a date" };
  if (now - sent > options.maxAgeMs) return { ok: false, status: 401, reason: `stale delivery (sent ${delivery.timestamp}, older than ${options.maxAgeMs / 1000} s)` };
  if (sent - now > MAX_SKEW_MS) return { ok: false, status: 401, reason: `delivery from the future (${delivery.timestamp})` };
  if (delivery.accountId !== String(options.accountId)) return { ok: false, status: 403, reason: `account ${delivery.accountId} is not DBT_CLOUD_ACCOUNT_ID` };
  return { ok: true, delivery };
}
