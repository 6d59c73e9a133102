/**
 * What a contract's outcome means to an operator: a condition worth an alert (with the rule that fired, its numbers,
 * and the command to run next), a good run (which resolves an open incident), or neither (paused on purpose, busy,
 * stopped by the kill switch: someone already knows).
 */
import type { Contract } from "../contract/load.ts";
import type { OwnersSpec } from "../contract/schema.ts";
import type { ContractOutcome, SyncedOutcome } from "../report/types.ts";

export const ALERT_KINDS = ["gate", "stopped", "failed", "paused", "failed_rows", "circuit_breaker", "interrupted"] as const;
export type AlertKind = (typeof ALERT_KINDS)[number];

export interface NextStep {
  say: string;
  command: string;
}

export interface Condition {
  kind: AlertKind;
  /** One line: what happened. */
  title: string;
  /** The rule that fired, by its name in the contract or the gate. */
  rule: string;
  /** The rule with its numbers, one line each. */
  details: string[];
  /** What identifies the condition across runs: the kind and the rules, not their numbers (which move run to run). */
  fingerprint: string;
  next: NextStep[];
  runId?: string | undefined;
}

export type Verdict = { condition: Condition } | { good: true } | { neutral: string };

/** How the operator reaches this project and warehouse: the flags the sync was run with, repeated in every command. */
export interface CommandLine {
  projectDir: string;
  targetDir?: string | undefined;
  profilesDir?: string | undefined;
  target?: string | undefined;
  ledgerSchema?: string | undefined;
}

function quote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** `dbt-activation <command> --project-dir … --contract <name>`, with the flags the command accepts. */
export function commandFor(line: CommandLine, command: string, contract: string, extra: string[] = []): string {
  const args = ["dbt-activation", command, "--project-dir", line.projectDir];
  // The commands that read the dbt artifacts take the same --target-dir as the sync.
  const reads = ["sync", "plan", "replay", "rollback", "reconcile"].includes(command);
  if (reads && line.targetDir) args.push("--target-path", line.targetDir);
  if (line.profilesDir) args.push("--profiles-dir", line.profilesDir);
  if (line.target) args.push("--target", line.target);
  if (line.ledgerSchema) args.push("--ledger-schema", line.ledgerSchema);
  args.push(command === "sync" || command === "plan" ? "--select" : "--contract", contract, ...extra);
  return args.map(quote).join(" ");
}

/** Numbers and quoted values out, so "16 rows, fewer than 1000" and "17 rows, fewer than 1000" are one condition. */
function shape(text: string): string {
  return text.replace(/\d+(\.\d+)?/g, "#");
}

const RULE_NAME = /\b(gates\.[a-z_]+(?:\.[a-z_]+)?|monitoring\.[a-z_]+)/;

/** Whether the failed rows reach the contract's alert threshold (default: any failed row). */
function failedRowsAlert(contract: Contract, outcome: SyncedOutcome): string | undefined {
  const { failed } = outcome.counts;
  if (failed === 0) return undefined;
  const alert = contract.spec.monitoring?.alert;
  const attempted = outcome.counts.created + outcome.counts.updated + outcome.counts.removed + failed;
  const percent = (100 * failed) / Math.max(1, attempted);
  const byRows = alert?.failed_rows ?? (alert?.failed_rows_percent === undefined ? 1 : undefined);
  const share = `${failed} of ${attempted} rows failed (${percent.toFixed(1)} %)`;
  if (byRows !== undefined && failed >= byRows) return `${share}; monitoring.alert.failed_rows is ${byRows}`;
  if (alert?.failed_rows_percent !== undefined && percent >= alert.failed_rows_percent) return `${share}; monitoring.alert.failed_rows_percent is ${alert.failed_rows_percent} %`;
  return undefined;
}

function failureCodes(outcome: SyncedOutcome): string[] {
  const byCode = new Map<string, number>();
  for (const f of outcome.failures) byCode.set(f.code, (byCode.get(f.code) ?? 0) + 1);
  // Codes only, never keys or values: a key is often an email address, and alerts leave the warehouse.
  return [...byCode].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([code, n]) => `failed with ${code}: ${n}${outcome.failures.length >= 100 ? "+" : ""} rows`);
}

export function verdictOf(contract: Contract, outcome: ContractOutcome, line: CommandLine): Verdict {
  const name = contract.spec.name;
  const sync = commandFor(line, "sync", name);
  const plan = commandFor(line, "plan", name);
  const replay = commandFor(line, "replay", name);
  const resume = commandFor(line, "resume", name);
  switch (outcome.status) {
    case "busy":
      return { neutral: "another runner holds the contract" };
    case "skipped": {
      if (!outcome.gate) return { neutral: outcome.reasons.join("; ") };
      const failing = outcome.gate.checks.filter((c) => c.status !== "pass" && c.status !== "success");
      const ids = failing.length > 0 ? failing.map((c) => `${c.uniqueId}:${c.status}`).sort() : outcome.reasons.map(shape);
      return {
        condition: {
          kind: "gate",
          title: `held by the gate: ${failing.length || outcome.reasons.length} check(s) of model ${contract.model.name} did not pass; nothing was sent`,
          rule: "the gate (every model and test of the contract passed in this dbt invocation)",
          details: outcome.reasons,
          fingerprint: `gate|${ids.join("|")}`,
          next: [
            { say: "fix the data or the model, rebuild it with its tests", command: `dbt build --select ${contract.model.name}+` },
            { say: "then sync again", command: sync },
          ],
        },
      };
    }
    case "planned": {
      // Only alert-only contracts reach the alerts with a plan (a dry run alerts nothing).
      if (outcome.wouldStop.length === 0) return { good: true };
      return { condition: stoppedCondition(outcome.wouldStop, "alert-only: would stop before sending", undefined) };
    }
    case "stopped":
      return { condition: stoppedCondition(outcome.reasons, "stopped before sending: nothing was sent", outcome.runId) };
    case "failed":
      return {
        condition: {
          kind: "failed",
          title: "failed the destination check before sending (schema drift, types, permissions): nothing was sent",
          rule: `the destination check of ${outcome.destination} (fields exist, are writable and of the mapped type)`,
          details: outcome.reasons,
          fingerprint: `failed|${outcome.reasons.map(shape).sort().join("|")}`,
          next: [
            { say: "fix the destination field or the contract's mapping, check it", command: `dbt-activation validate --project-dir ${quote(line.projectDir)}` },
            { say: "then sync again", command: sync },
          ],
        },
      };
    case "synced":
      return syncedVerdict(contract, outcome, { sync, replay, resume, rollback: commandFor(line, "rollback", name, ["--run", outcome.runId]) });
  }

  function stoppedCondition(reasons: string[], title: string, runId: string | undefined): Condition {
    const rules = reasons.map((r) => RULE_NAME.exec(r)?.[1] ?? shape(r));
    const blastRadius = rules.some((r) => r.startsWith("gates.max_change"));
    return {
      kind: "stopped",
      title,
      rule: [...new Set(rules)].join(", "),
      details: reasons,
      fingerprint: `stopped|${[...new Set(rules)].sort().join("|")}`,
      runId,
      next: [
        { say: "look at what would change, row classes and samples", command: plan },
        blastRadius
          ? { say: "if the change is intended, sync it with the reason on record", command: commandFor(line, "sync", name, ["--allow-large-change", "--reason", "<why this change is intended>"]) }
          : { say: "once the model is fixed and rebuilt, sync again", command: sync },
      ],
    };
  }
}

function syncedVerdict(contract: Contract, outcome: SyncedOutcome, cmd: { sync: string; replay: string; resume: string; rollback: string }): Verdict {
  const c = outcome.counts;
  const tally = `${c.created} created, ${c.updated} updated, ${c.failed} failed, ${c.notSent} not sent of ${c.eligible} eligible rows`;
  if (outcome.paused) {
    return {
      condition: {
        kind: "paused",
        title: "paused by its pause rule: the contract stopped sending and stays paused until resumed",
        rule: "monitoring.pause_if",
        details: [outcome.paused, tally, ...failureCodes(outcome)],
        fingerprint: "paused|monitoring.pause_if",
        runId: outcome.runId,
        next: [
          { say: "after fixing the cause, resend the failed rows", command: cmd.replay },
          { say: "then lift the pause", command: cmd.resume },
          { say: "or undo what this run wrote", command: cmd.rollback },
        ],
      },
    };
  }
  if (outcome.stopped && /consecutive failed requests/.test(outcome.stopped)) {
    return {
      condition: {
        kind: "circuit_breaker",
        title: "circuit breaker opened: the destination failed request after request, the rest of the rows were not sent",
        rule: "circuit breaker (consecutive failed requests)",
        details: [outcome.stopped, tally],
        fingerprint: "circuit_breaker",
        runId: outcome.runId,
        next: [
          { say: "when the destination answers again, sync: rows not sent go then", command: cmd.sync },
          { say: "resend the rows that failed", command: cmd.replay },
        ],
      },
    };
  }
  const failedRows = failedRowsAlert(contract, outcome);
  if (failedRows) {
    return {
      condition: {
        kind: "failed_rows",
        title: "rows failed at the destination above the contract's alert threshold",
        rule: contract.spec.monitoring?.alert?.failed_rows_percent !== undefined ? "monitoring.alert.failed_rows_percent" : "monitoring.alert.failed_rows",
        details: [failedRows, tally, ...failureCodes(outcome)],
        fingerprint: "failed_rows",
        runId: outcome.runId,
        next: [
          { say: "after fixing the cause, resend the failed rows (dead letters)", command: cmd.replay },
          { say: "or undo what this run wrote", command: cmd.rollback },
        ],
      },
    };
  }
  if (outcome.stopped) {
    // The kill switch thrown by someone is no news to them; anything else that ended the run early is.
    if (/^(paused|every contract is paused)/.test(outcome.stopped)) return { neutral: outcome.stopped };
    return {
      condition: {
        kind: "interrupted",
        title: "the run ended early: the rest of the rows were not sent",
        rule: "destination limits and the retry budget (monitoring.retry_budget)",
        details: [outcome.stopped, tally],
        fingerprint: `interrupted|${shape(outcome.stopped)}`,
        runId: outcome.runId,
        next: [{ say: "once the cause is gone, sync again: rows not sent go then", command: cmd.sync }],
      },
    };
  }
  return { good: true };
}

export function ownersOf(contract: Contract): OwnersSpec {
  return contract.spec.owners ?? {};
}
