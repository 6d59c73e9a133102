/**
 * A loopback receiver for the three alert channels: Slack (`/slack/…`), the signed webhook (`/webhook`) and PagerDuty
 * Events API v2 (`/pagerduty`). It verifies what a real receiver would (the webhook's HMAC signature and its age,
 * PagerDuty's routing key and event shape) and keeps every request for the test; it can also fail or hang on purpose.
 */
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface ReceivedAlert {
  channel: "slack" | "webhook" | "pagerduty";
  headers: IncomingHttpHeaders;
  raw: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests read the parsed body field by field
  body: any;
  /** Webhook: the signature verified against the shared secret (and the timestamp is recent). */
  signatureValid?: boolean;
}

export type ReceiverMode = "ok" | "fail" | "hang";

export interface AlertReceiver {
  url: string;
  received: ReceivedAlert[];
  /** Requests answered with a failure or left hanging (not in `received`). */
  refused: number;
  mode: ReceiverMode;
  close(): Promise<void>;
}

/** What a webhook receiver does with `X-Activation-Signature: t=<unix>,v1=<hex>` (the snippet in docs/operations.md, in a test). */
export function verifySignature(secret: string, header: string | undefined, body: string, toleranceSeconds = 300): boolean {
  const parts = Object.fromEntries((header ?? "").split(",").map((p) => p.split("=", 2) as [string, string]));
  const t = Number(parts.t);
  if (!Number.isInteger(t) || Math.abs(Date.now() / 1000 - t) > toleranceSeconds || !parts.v1) return false;
  const expected = createHmac("sha256", secret).update(`${t}.${body}`).digest();
  const given = Buffer.from(parts.v1, "hex");
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export async function startAlertReceiver(options: { webhookSecret: string; routingKey: string }): Promise<AlertReceiver> {
  const hanging = new Set<import("node:http").ServerResponse>();
  const receiver: AlertReceiver = {
    url: "",
    received: [],
    refused: 0,
    mode: "ok",
    close: async () => {
      for (const res of hanging) res.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      if (receiver.mode === "hang") {
        receiver.refused += 1;
        hanging.add(res);
        return;
      }
      if (receiver.mode === "fail") {
        receiver.refused += 1;
        res.writeHead(500).end("down");
        return;
      }
      const path = req.url ?? "";
      const channel = path.startsWith("/slack") ? "slack" : path.startsWith("/webhook") ? "webhook" : path.startsWith("/pagerduty") ? "pagerduty" : undefined;
      if (!channel || req.method !== "POST" || req.headers["content-type"] !== "application/json") {
        res.writeHead(404).end();
        return;
      }
      const body = JSON.parse(raw);
      const alert: ReceivedAlert = { channel, headers: req.headers, raw, body };
      if (channel === "webhook") alert.signatureValid = verifySignature(options.webhookSecret, req.headers["x-activation-signature"] as string | undefined, raw);
      if (channel === "pagerduty") {
        const valid = body.routing_key === options.routingKey && ["trigger", "resolve"].includes(body.event_action) && typeof body.dedup_key === "string";
        if (!valid) {
          res.writeHead(400, { "content-type": "application/json" }).end(JSON.stringify({ status: "invalid event" }));
          return;
        }
        receiver.received.push(alert);
        res.writeHead(202, { "content-type": "application/json" }).end(JSON.stringify({ status: "success", message: "Event processed", dedup_key: body.dedup_key }));
        return;
      }
      receiver.received.push(alert);
      res.writeHead(200, { "content-type": "text/plain" }).end("ok");
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return receiver;
}
