/** The run's report: one block per contract for people, or one JSON document for orchestrators. */
import { EXIT, type ExitCode } from "../exit-codes.ts";
import type { RemovalAction } from "../contract/rules.ts";
import type { RejectedKey } from "../eligible/rows.ts";
import type { PlannedOutcome, ContractOutcome, SyncedOutcome, SyncReport } from "./types.ts";

export function exitCodeOf(contracts: ContractOutcome[]): ExitCode {
  if (contracts.some((c) => c.status === "failed" && c.cause !== "destination")) return EXIT.badInput;
  if (contracts.some((c) => c.status === "stopped" || (c.status === "planned" && c.wouldStop.length > 0))) return EXIT.stopped;
  // A destination that failed a contract as a whole left its rows not sent.
  if (contracts.some((c) => c.status === "failed")) return EXIT.rowsFailed;
  if (contracts.some((c) => c.status === "synced" && (c.result !== "success" || c.counts.failed + c.counts.rejected + c.counts.notSent > 0))) return EXIT.rowsFailed;
  if (contracts.some((c) => c.status === "busy")) return EXIT.busy;
  if (contracts.some((c) => c.status === "skipped")) return EXIT.gated;
  return EXIT.ok;
}

/** The label of a run that reached the destination: only a run that wrote every attempted row says SYNCED. */
const LABEL: Record<SyncedOutcome["result"], string> = { success: "SYNCED", partial: "PARTIAL", interrupted: "STOPPED", paused: "PAUSED" };

/**
 * Data-derived text for the terminal: control characters (newlines, ANSI escapes) shown as `\xNN`, so a key or value
 * can neither forge a report line nor drive the terminal.
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/** One rejected key, in words (a null key, a key shared by several rows, or a key the key rule refuses). */
function rejectedLine(r: RejectedKey, compared: string): string {
  if (r.reason === "null_key") return `${r.rows} row(s) with a null key`;
  if (r.reason === "non_ascii_key") {
    return `key ${printable(r.key ?? "")} (${r.rows} row${r.rows === 1 ? "" : "s"}): the key has characters outside ASCII, and the destination compares keys case-insensitively without documenting how it compares those, so the record it addresses is not known (shown as the warehouse's lower() gives it)`;
  }
  return `key ${printable(r.key ?? "")} appears in ${r.rows} rows${compared}`;
}

/** Removals per action, in words: `2 cleared, 1 kept (on_removed: keep)`. */
export function removalsText(removals: PlannedOutcome["removals"]): string {
  const words: Record<RemovalAction, string> = {
    clear: "cleared",
    delete: "deleted",
    unlist: "removed from the audience",
    keep: "kept and recorded (suppression.on_removed: keep)",
    skip: "kept (on_removed: keep)",
  };
  return (Object.keys(words) as RemovalAction[]).filter((a) => (removals[a] ?? 0) > 0).map((a) => `${removals[a]} ${words[a]}`).join(", ");
}

/** Fields an update changes, with how many rows each (names only: never a value). */
export function fieldChangesText(changes: Record<string, number>, quote: (field: string) => string): string {
  const entries = Object.entries(changes);
  return entries.length === 0 ? "none (no value sent differs from the last one sent)" : entries.map(([f, n]) => `${quote(f)} ${n}`).join(", ");
}

function formatOutcome(outcome: ContractOutcome): string[] {
  const head = `${outcome.contract} (model ${outcome.model} → ${outcome.destination})`;
  switch (outcome.status) {
    case "skipped":
      return [`SKIPPED  ${head}`, ...outcome.reasons.map((r) => `         held back by the gate: ${printable(r)}`)];
    case "busy":
      return [`BUSY     ${head}`, ...outcome.reasons.map((r) => `         ${printable(r)}`)];
    case "failed":
      return [`FAILED   ${head}${outcome.cause === "destination" ? ": the destination failed the run; nothing more was sent" : ""}`, ...outcome.reasons.map((r) => `         ${printable(r)}`)];
    case "planned": {
      const p = outcome.plan;
      const lines = [
        `${outcome.alertOnly ? "ALERTONLY" : "PLAN    "} ${head}: ${p.eligible} eligible rows: ${p.create} create, ${p.update} update, ${p.unchanged} unchanged, ${p.removed} removed` +
          (p.failedUnchanged + p.retryLater > 0 ? `, ${p.failedUnchanged} held (failed permanently, unchanged), ${p.retryLater} waiting to retry` : "") +
          (outcome.rejected.length ? `; ${outcome.rejected.reduce((n, r) => n + r.rows, 0)} rejected (null, shared or refused key)` : "") +
          (p.expired !== undefined ? `; ${p.expired} expired (freshness.expire_after: not sent)` : ""),
      ];
      if (p.update > 0) lines.push(`         fields changing: ${fieldChangesText(outcome.fieldChanges, printable)}`);
      if (p.removed > 0) lines.push(`         removed: ${removalsText(outcome.removals)}`);
      for (const r of outcome.samples) lines.push(`         ${r.change} ${printable(r.key)}: ${JSON.stringify(r.fields, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v))}`);
      for (const w of outcome.wouldStop) lines.push(`         would stop: ${w}`);
      for (const o of outcome.overridden) lines.push(`         overridden: ${o}`);
      return lines;
    }
    case "stopped": {
      const p = outcome.plan;
      return [
        `STOPPED  ${head}: nothing sent (plan: ${p.create} create, ${p.update} update, ${p.unchanged} unchanged, ${p.removed} removed)`,
        ...outcome.reasons.map((r) => `         ${printable(r)}`),
      ];
    }
    case "synced": {
      const c = outcome.counts;
      const parts = [`${c.created} created`, `${c.updated} updated`, `${c.unchanged} unchanged`, `${c.failed} failed`];
      if (c.failedUnchanged) parts.push(`${c.failedUnchanged} held (failed permanently before, unchanged since)`);
      if (c.retryLater) parts.push(`${c.retryLater} waiting to retry (failed transiently, backoff not passed)`);
      if (c.removed) parts.push(`${c.removed} removed (left the eligible set)`);
      if (c.skipped) parts.push(`${c.skipped} skipped by guards`);
      if (c.rejected) parts.push(`${c.rejected} rejected before sending`);
      if (c.notSent) parts.push(`${c.notSent} not sent`);
      const lines = [`${LABEL[outcome.result].padEnd(8)} ${head}: ${c.eligible} eligible rows, ${parts.join(", ")} (${outcome.requests} request${outcome.requests === 1 ? "" : "s"}, ${(outcome.durationMs / 1000).toFixed(1)}s)`];
      for (const n of (outcome.notEligible ?? []).slice(0, 10)) lines.push(`         not sent ${printable(n.key)}: not eligible today (${printable(n.reason)}); its dead letter is closed`);
      for (const f of outcome.failures.slice(0, 10)) lines.push(`         row ${printable(f.key)}: ${printable(f.code)}: ${printable(f.message)}`);
      if (c.failed > 10) lines.push(`         … and ${c.failed - 10} more failed rows (--json lists up to 100)`);
      for (const r of outcome.rejected.slice(0, 10)) {
        const compared = r.rule === "case_insensitive" ? " (keys compared case-insensitively, as the destination matches them)" : "";
        lines.push(`         rejected: ${rejectedLine(r, compared)}`);
      }
      for (const k of outcome.skips.slice(0, 5)) lines.push(`         skipped ${printable(k.key)}: ${printable(k.reason)}`);
      if (outcome.stopped) lines.push(`         stopped early: ${printable(outcome.stopped)}`);
      if (outcome.paused) lines.push(`         PAUSED by its pause rule: ${outcome.paused}; fix the cause, replay the dead letters, then \`dbt-activation resume --contract ${outcome.contract}\``);
      for (const o of outcome.overridden ?? []) lines.push(`         overridden: ${o}`);
      return lines;
    }
  }
}

export function formatText(report: SyncReport): string {
  const lines = [`dbt ${report.command} invocation ${report.invocationId} (dbt ${report.dbtVersion ?? "?"})`, ""];
  for (const outcome of report.contracts) lines.push(...formatOutcome(outcome));
  if (report.contracts.length === 0) lines.push("no activation contracts found");
  for (const a of report.alerts ?? []) {
    const to = a.deliveries.map((d) => `${d.channel} ${d.ok ? "ok" : `failed (${d.error ?? "?"})`}`).join(", ");
    lines.push(`ALERT    ${a.contract}: ${a.kind} ${a.action}${to ? `: ${to}` : ""}`);
  }
  // A run that reached the destination counts under how it ended: synced (every attempted row written), partial,
  // paused (by its pause rule) or stopped (ended early); the failed rows of the whole run are summed.
  const kind = (c: ContractOutcome): string => (c.status !== "synced" ? c.status : c.result === "success" ? "synced" : c.result === "interrupted" ? "stopped" : c.result);
  const count = (s: string): number => report.contracts.filter((c) => kind(c) === s).length;
  const always = new Set(["synced", "skipped", "stopped", "failed"]);
  const tally = ["planned", "synced", "partial", "paused", "skipped", "stopped", "busy", "failed"].filter((s) => always.has(s) || count(s) > 0).map((s) => `${count(s)} ${s}`);
  const failedRows = report.contracts.reduce((n, c) => n + (c.status === "synced" ? c.counts.failed : 0), 0);
  lines.push("", `${tally.join(", ")}${failedRows > 0 ? `; ${failedRows} row${failedRows === 1 ? "" : "s"} failed` : ""}; exit code ${report.exitCode}`);
  return lines.join("\n");
}

export function toJson(report: SyncReport): string {
  return JSON.stringify(report, null, 2);
}
