/**
 * The three alert channels: a Slack incoming webhook (Block Kit), a generic webhook (JSON, signed with HMAC-SHA256
 * over the timestamp and the body) and PagerDuty Events API v2 (trigger and resolve by dedup key). Delivery is
 * bounded (a timeout per attempt, a few attempts) and never throws: a failing endpoint is logged, the sync goes on.
 */
import { createHmac } from "node:crypto";
import type { Alert } from "./message.ts";
import { envValue, readEnv } from "../config/env.ts";

export const CHANNELS = ["slack", "webhook", "pagerduty"] as const;
export type Channel = (typeof CHANNELS)[number];

export const ALERT_TIMEOUT_ENV = "DBT_ACTIVATION_ALERT_TIMEOUT_MS";
/** Where PagerDuty events go: the public Events API unless set (a proxy, or a test's receiver). */
export const PAGERDUTY_URL_ENV = "DBT_ACTIVATION_PAGERDUTY_URL";
const PAGERDUTY_URL = "https://events.pagerduty.com/v2/enqueue";
export const SIGNATURE_HEADER = "X-Activation-Signature";
export const TIMESTAMP_HEADER = "X-Activation-Timestamp";
const ATTEMPTS = 3;

export interface Delivery {
  channel: Channel;
  ok: boolean;
  attempts: number;
  /** Why it was not delivered (never the URL or the key). */
  error?: string;
}

interface Request {
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the secret>`: the receiver recomputes and compares. */
export function signature(secret: string, timestamp: number, body: string): string {
  return `t=${timestamp},v1=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

function slackBody(alert: Alert): string {
  const owners = Object.entries(alert.owners).map(([role, who]) => `${role}: ${who}`).join(", ") || "none declared in the contract";
  const field = (label: string, value: string): { type: "mrkdwn"; text: string } => ({ type: "mrkdwn", text: `*${label}*\n${value}` });
  const blocks = [
    { type: "header", text: { type: "plain_text", text: `${alert.event === "resolve" ? "Resolved" : "Alert"}: ${alert.contract}`.slice(0, 150) } },
    { type: "section", text: { type: "mrkdwn", text: alert.title } },
    { type: "section", fields: [field("Contract", alert.contract), field("Model", alert.model), field("Destination", alert.destination), field("Owners", owners)] },
    { type: "section", text: { type: "mrkdwn", text: `*Rule:* ${alert.rule}\n${alert.details.map((d) => `• ${d}`).join("\n")}`.slice(0, 3000) } },
    ...(alert.next.length > 0
      ? [{ type: "section", text: { type: "mrkdwn", text: `*Next:*\n${alert.next.map((n) => `${n.say}:\n\`\`\`${n.command}\`\`\``).join("\n")}`.slice(0, 3000) } }]
      : []),
    { type: "context", elements: [{ type: "mrkdwn", text: `dbt-activation · ${alert.kind} · incident ${alert.dedupKey}${alert.runId ? ` · run ${alert.runId}` : ""}` }] },
  ];
  return JSON.stringify({ text: `${alert.contract}: ${alert.title}`, blocks });
}

function pagerDutyBody(alert: Alert, routingKey: string): string {
  if (alert.event === "resolve") return JSON.stringify({ routing_key: routingKey, event_action: "resolve", dedup_key: alert.dedupKey });
  return JSON.stringify({
    routing_key: routingKey,
    event_action: "trigger",
    dedup_key: alert.dedupKey,
    payload: {
      summary: `${alert.contract}: ${alert.title}`.slice(0, 1024),
      source: "dbt-activation",
      severity: alert.kind === "gate" || alert.kind === "stopped" ? "warning" : "error",
      component: alert.destination,
      group: alert.model,
      class: alert.kind,
      custom_details: { contract: alert.contract, model: alert.model, destination: alert.destination, owners: alert.owners, rule: alert.rule, details: alert.details, next: alert.next, run_id: alert.runId },
    },
  });
}

export interface ChannelTarget {
  channel: Channel;
  /** The environment variable the URL (or routing key) came from, for messages. */
  env: string;
  value: string;
  secret?: string;
}

function requestFor(target: ChannelTarget, alert: Alert, env: NodeJS.ProcessEnv, now: Date): Request {
  const json = { "content-type": "application/json" };
  switch (target.channel) {
    case "slack":
      return { url: target.value, headers: json, body: slackBody(alert) };
    case "webhook": {
      const body = JSON.stringify(alert);
      const t = Math.floor(now.getTime() / 1000);
      return { url: target.value, headers: { ...json, [TIMESTAMP_HEADER]: String(t), [SIGNATURE_HEADER]: signature(target.secret!, t, body) }, body };
    }
    case "pagerduty":
      return { url: readEnv(env, PAGERDUTY_URL_ENV)?.trim() || PAGERDUTY_URL, headers: json, body: pagerDutyBody(alert, target.value) };
  }
}

/** Only HTTPS leaves the machine; plain HTTP is allowed to loopback (a local relay, a test's receiver). */
function refusedUrl(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "is not a URL";
  }
  if (parsed.protocol === "https:") return undefined;
  if (parsed.protocol === "http:" && ["127.0.0.1", "localhost", "[::1]"].includes(parsed.hostname)) return undefined;
  return `is not an https URL (${parsed.protocol})`;
}

/** Per attempt; a bad value was refused before the sync started. */
const timeoutMs = (env: NodeJS.ProcessEnv): number => envValue(env, ALERT_TIMEOUT_ENV);

/** Sends one alert to one channel: up to three attempts, each bounded by a timeout; answers what happened. */
export async function deliver(target: ChannelTarget, alert: Alert, env: NodeJS.ProcessEnv, log: (line: string) => void): Promise<Delivery> {
  const request = requestFor(target, alert, env, new Date());
  const refused = refusedUrl(request.url);
  const where = target.channel === "pagerduty" ? `PagerDuty (${readEnv(env, PAGERDUTY_URL_ENV) ? PAGERDUTY_URL_ENV : "events.pagerduty.com"})` : `the URL in ${target.env}`;
  if (refused) {
    log(`alert not sent to ${target.channel} for ${alert.contract}: ${where} ${refused}`);
    return { channel: target.channel, ok: false, attempts: 0, error: `${where} ${refused}` };
  }
  let error = "";
  for (let attempt = 1; attempt <= ATTEMPTS; attempt += 1) {
    try {
      const response = await fetch(request.url, { method: "POST", headers: request.headers, body: request.body, signal: AbortSignal.timeout(timeoutMs(env)), redirect: "error" });
      await response.arrayBuffer().catch(() => undefined);
      if (response.ok) return { channel: target.channel, ok: true, attempts: attempt };
      error = `HTTP ${response.status}`;
      // A refusal of the request itself (bad key, bad body) does not get better by asking again.
      if (response.status >= 400 && response.status < 500 && response.status !== 408 && response.status !== 429) {
        log(`alert not sent to ${target.channel} for ${alert.contract}: ${where} answered ${error}`);
        return { channel: target.channel, ok: false, attempts: attempt, error };
      }
    } catch (e) {
      const cause = e instanceof Error ? (e.name === "TimeoutError" ? `no answer within ${timeoutMs(env)} ms` : ((e.cause as Error | undefined)?.message ?? e.message)) : String(e);
      // Node's fetch errors can name the URL (a webhook URL is a secret): keep only the cause's kind.
      error = cause.split(request.url).join("<url>");
    }
    log(`alert to ${target.channel} for ${alert.contract}: attempt ${attempt}/${ATTEMPTS} failed (${where}): ${error}`);
    if (attempt < ATTEMPTS) await new Promise((r) => setTimeout(r, 250 * 2 ** (attempt - 1)));
  }
  return { channel: target.channel, ok: false, attempts: ATTEMPTS, error };
}
