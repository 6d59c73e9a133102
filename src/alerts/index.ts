/**
 * The alerting stage, after the report is built: per contract with `monitoring.alert`, what its outcome means
 * (condition, good run, or neither), checked against the open incident in the warehouse so a condition alerts once
 * until it changes or resolves, then sent to every channel the contract names. Nothing here fails the sync: an
 * endpoint that fails is retried a little and logged; the warehouse state not readable means alerts go undeduplicated.
 */
import type { Contract } from "../contract/load.ts";
import { errorMessage } from "../errors.ts";
import type { AlertState, OpenIncident } from "../ledger/alerts.ts";
import type { ContractOutcome } from "../report/types.ts";
import { deliver, type Channel, type ChannelTarget, type Delivery } from "./channels.ts";
import { verdictOf, type CommandLine } from "./conditions.ts";
import { recoveryAlert, redactAlert, triggerAlert, type Alert } from "./message.ts";
import { readNamedEnv } from "../config/env.ts";

export interface AlertRecord {
  contract: string;
  /** sent: a new or changed condition; suppressed: the same condition as the open incident; resolved: a good run closed it. */
  action: "sent" | "suppressed" | "resolved" | "not_delivered";
  kind: Alert["kind"];
  dedupKey: string;
  deliveries: Delivery[];
}

export interface AlertOptions {
  env: NodeJS.ProcessEnv;
  log: (line: string) => void;
  commandLine: CommandLine;
  invocationId: string;
  /** The warehouse's alert state, opened only when some contract alerts (the caller closes it). */
  openState: () => Promise<AlertState>;
  now?: () => Date;
}

function targetsOf(contract: Contract, env: NodeJS.ProcessEnv, log: (line: string) => void): { targets: ChannelTarget[]; missing: Delivery[] } {
  const alert = contract.spec.monitoring?.alert;
  const targets: ChannelTarget[] = [];
  const missing: Delivery[] = [];
  const add = (channel: Channel, name: string | undefined, secretName?: string): void => {
    if (!name) return;
    const value = readNamedEnv(env, name)?.trim();
    const secret = secretName ? readNamedEnv(env, secretName)?.trim() : undefined;
    const unset = !value ? name : secretName && !secret ? secretName : undefined;
    if (unset) {
      log(`alert not sent to ${channel} for ${contract.spec.name}: ${unset} is not set`);
      missing.push({ channel, ok: false, attempts: 0, error: `${unset} is not set` });
      return;
    }
    targets.push({ channel, env: name, value: value!, ...(secret ? { secret } : {}) });
  };
  add("slack", alert?.slack_webhook_env);
  add("webhook", alert?.webhook_env, alert?.webhook_secret_env);
  add("pagerduty", alert?.pagerduty_routing_key_env);
  return { targets, missing };
}

export async function alertOutcomes(contracts: Contract[], outcomes: ContractOutcome[], options: AlertOptions): Promise<AlertRecord[]> {
  const alerting = contracts.map((contract, i) => ({ contract, outcome: outcomes[i]! })).filter(({ contract }) => contract.spec.monitoring?.alert);
  if (alerting.length === 0) return [];
  const records: AlertRecord[] = [];
  let state: AlertState | undefined;
  try {
    state = await options.openState();
  } catch (error) {
    options.log(`alert state not readable (alerts go without deduplication, recoveries wait): ${errorMessage(error)}`);
  }
  for (const { contract, outcome } of alerting) {
    try {
      const record = await alertContract(contract, outcome, state, options);
      if (record) records.push(record);
    } catch (error) {
      options.log(`alerts for ${contract.spec.name} not sent: ${errorMessage(error)}`);
    }
  }
  return records;
}

async function alertContract(contract: Contract, outcome: ContractOutcome, state: AlertState | undefined, options: AlertOptions): Promise<AlertRecord | undefined> {
  const verdict = verdictOf(contract, outcome, options.commandLine);
  if ("neutral" in verdict) return undefined;
  const now = options.now?.() ?? new Date();
  const open: OpenIncident | undefined = await state?.openIncident(contract.spec.name);
  const name = contract.spec.name;
  const base = { contract, destination: outcome.destination, invocationId: options.invocationId, now };
  const runId = "runId" in outcome ? outcome.runId : undefined;

  if ("good" in verdict) {
    if (!open) return undefined;
    const alert = recoveryAlert(open, runId, { ...base, dedupKey: open.dedupKey });
    const deliveries = await send(contract, alert, options);
    const delivered = deliveries.some((d) => d.ok);
    // Not delivered anywhere: the incident stays open and the next good run tries again.
    if (delivered) await state?.resolve(name);
    return { contract: name, action: delivered ? "resolved" : "not_delivered", kind: "recovered", dedupKey: open.dedupKey, deliveries };
  }

  const { condition } = verdict;
  if (open && open.fingerprint === condition.fingerprint) {
    options.log(`alert for ${name} not repeated: ${condition.kind} as alerted at ${open.lastAlertedAt?.toISOString() ?? "?"} (incident ${open.dedupKey})`);
    return { contract: name, action: "suppressed", kind: condition.kind, dedupKey: open.dedupKey, deliveries: [] };
  }
  // A changed condition keeps the open incident's key: at PagerDuty it updates the incident rather than opening another.
  const dedupKey = open?.dedupKey ?? `dbt-activation/${name}/${now.getTime()}`;
  const alert = triggerAlert(condition, { ...base, dedupKey });
  const deliveries = await send(contract, alert, options);
  const delivered = deliveries.some((d) => d.ok);
  if (delivered && state) {
    await state.record({
      contract: name,
      kind: condition.kind,
      fingerprint: condition.fingerprint,
      summary: `${condition.title}: ${condition.details[0] ?? ""}`.slice(0, 2000),
      dedupKey,
      runId: condition.runId ?? null,
      openedAt: open?.openedAt ?? now,
      lastAlertedAt: now,
    });
  }
  return { contract: name, action: delivered ? "sent" : "not_delivered", kind: condition.kind, dedupKey, deliveries };
}

async function send(contract: Contract, raw: Alert, options: AlertOptions): Promise<Delivery[]> {
  const { targets, missing } = targetsOf(contract, options.env, options.log);
  const alert = redactAlert(raw, options.env, targets.flatMap((t) => [t.value, ...(t.secret ? [t.secret] : [])]));
  // Channels in parallel: a slow one does not hold the others back.
  const sent = await Promise.all(targets.map((t) => deliver(t, alert, options.env, options.log)));
  for (const d of sent) if (d.ok) options.log(`alert ${alert.event === "resolve" ? "resolved" : "sent"} to ${d.channel} for ${alert.contract}: ${alert.kind}`);
  return [...missing, ...sent];
}
