/** The run's report: one block per contract for people, or one JSON document for orchestrators. */
import { EXIT, type ExitCode } from "./exit-codes.ts";
import type { ContractOutcome, SyncReport } from "./types.ts";

export function exitCodeOf(contracts: ContractOutcome[]): ExitCode {
  if (contracts.some((c) => c.status === "failed")) return EXIT.badInput;
  if (contracts.some((c) => c.status === "stopped" || (c.status === "planned" && c.wouldStop.length > 0))) return EXIT.stopped;
  if (contracts.some((c) => c.status === "synced" && c.counts.failed + c.counts.rejected + c.counts.notSent > 0)) return EXIT.rowsFailed;
  if (contracts.some((c) => c.status === "busy")) return EXIT.busy;
  if (contracts.some((c) => c.status === "skipped")) return EXIT.gated;
  return EXIT.ok;
}

function formatOutcome(outcome: ContractOutcome): string[] {
  const head = `${outcome.contract} (model ${outcome.model} → ${outcome.destination})`;
  switch (outcome.status) {
    case "skipped":
      return [`SKIPPED  ${head}`, ...outcome.reasons.map((r) => `         held back by the gate: ${r}`)];
    case "busy":
      return [`BUSY     ${head}`, ...outcome.reasons.map((r) => `         ${r}`)];
    case "failed":
      return [`FAILED   ${head}`, ...outcome.reasons.map((r) => `         ${r}`)];
    case "planned": {
      const p = outcome.plan;
      const lines = [
        `${outcome.alertOnly ? "ALERTONLY" : "PLAN    "} ${head}: ${p.eligible} eligible rows: ${p.create} create, ${p.update} update, ${p.unchanged} unchanged, ${p.removed} removed` +
          (outcome.rejected.length ? `; ${outcome.rejected.reduce((n, r) => n + r.rows, 0)} rejected (null or shared key)` : ""),
      ];
      for (const r of outcome.samples) lines.push(`         ${r.change} ${r.key}: ${JSON.stringify(r.fields, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v))}`);
      for (const w of outcome.wouldStop) lines.push(`         would stop: ${w}`);
      for (const o of outcome.overridden) lines.push(`         overridden: ${o}`);
      return lines;
    }
    case "stopped": {
      const p = outcome.plan;
      return [
        `STOPPED  ${head}: nothing sent (plan: ${p.create} create, ${p.update} update, ${p.unchanged} unchanged, ${p.removed} removed)`,
        ...outcome.reasons.map((r) => `         ${r}`),
      ];
    }
    case "synced": {
      const c = outcome.counts;
      const parts = [`${c.created} created`, `${c.updated} updated`, `${c.unchanged} unchanged`, `${c.failed} failed`];
      if (c.removed) parts.push(`${c.removed} removed (left the eligible set)`);
      if (c.skipped) parts.push(`${c.skipped} skipped by guards`);
      if (c.rejected) parts.push(`${c.rejected} rejected before sending`);
      if (c.notSent) parts.push(`${c.notSent} not sent`);
      const lines = [`SYNCED   ${head}: ${c.eligible} eligible rows, ${parts.join(", ")} (${outcome.requests} request${outcome.requests === 1 ? "" : "s"}, ${(outcome.durationMs / 1000).toFixed(1)}s)`];
      for (const f of outcome.failures.slice(0, 10)) lines.push(`         row ${f.key}: ${f.code}: ${f.message}`);
      if (c.failed > 10) lines.push(`         … and ${c.failed - 10} more failed rows (--json lists up to 100)`);
      for (const r of outcome.rejected.slice(0, 10)) {
        lines.push(`         rejected: ${r.reason === "null_key" ? `${r.rows} row(s) with a null key` : `key ${r.key} appears in ${r.rows} rows`}`);
      }
      for (const k of outcome.skips.slice(0, 5)) lines.push(`         skipped ${k.key}: ${k.reason}`);
      if (outcome.stopped) lines.push(`         stopped early: ${outcome.stopped}`);
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
  const count = (s: ContractOutcome["status"]): number => report.contracts.filter((c) => c.status === s).length;
  const tally = (["planned", "synced", "skipped", "stopped", "busy", "failed"] as const).filter((s) => (s !== "planned" && s !== "busy") || count(s) > 0).map((s) => `${count(s)} ${s}`);
  lines.push("", `${tally.join(", ")}; exit code ${report.exitCode}`);
  return lines.join("\n");
}

export function toJson(report: SyncReport): string {
  return JSON.stringify(report, null, 2);
}
