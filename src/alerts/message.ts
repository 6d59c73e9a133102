/** The alert every channel renders: the same facts, whichever way it travels. */
import type { Contract } from "../contract/load.ts";
import type { OwnersSpec } from "../contract/schema.ts";
import { redactDeep, secretValues } from "../config/secrets.ts";
import type { AlertKind, Condition, NextStep } from "./conditions.ts";

export interface Alert {
  /** trigger: a condition began or changed; resolve: the first good run after it. */
  event: "trigger" | "resolve";
  kind: AlertKind | "recovered";
  contract: string;
  model: string;
  destination: string;
  owners: OwnersSpec;
  title: string;
  rule: string;
  details: string[];
  next: NextStep[];
  dedupKey: string;
  runId?: string | undefined;
  invocationId: string;
  at: string;
}

interface Context {
  contract: Contract;
  destination: string;
  dedupKey: string;
  invocationId: string;
  now: Date;
}

export function triggerAlert(condition: Condition, ctx: Context): Alert {
  return {
    event: "trigger",
    kind: condition.kind,
    contract: ctx.contract.spec.name,
    model: ctx.contract.model.name,
    destination: ctx.destination,
    owners: ctx.contract.spec.owners ?? {},
    title: condition.title,
    rule: condition.rule,
    details: condition.details,
    next: condition.next,
    dedupKey: ctx.dedupKey,
    runId: condition.runId,
    invocationId: ctx.invocationId,
    at: ctx.now.toISOString(),
  };
}

export function recoveryAlert(previous: { kind: string; summary: string | null; openedAt: Date | null }, runId: string | undefined, ctx: Context): Alert {
  const since = previous.openedAt ? ` (open since ${previous.openedAt.toISOString()})` : "";
  return {
    event: "resolve",
    kind: "recovered",
    contract: ctx.contract.spec.name,
    model: ctx.contract.model.name,
    destination: ctx.destination,
    owners: ctx.contract.spec.owners ?? {},
    title: `recovered: the first good run after ${previous.kind}${since}`,
    rule: previous.kind,
    details: previous.summary ? [`was: ${previous.summary}`] : [],
    next: [],
    dedupKey: ctx.dedupKey,
    runId,
    invocationId: ctx.invocationId,
    at: ctx.now.toISOString(),
  };
}

/** Every string in the alert with every secret-looking value of the environment masked (a reason may quote one). */
export function redactAlert(alert: Alert, env: NodeJS.ProcessEnv, extra: string[]): Alert {
  return redactDeep(alert, [...extra, ...secretValues(env)]);
}
