/**
 * `plan --markdown FILE`: what a pull request's build would do to each destination, as Markdown for a pull-request
 * comment or the GitHub Actions step summary. Values of sensitive columns never appear: a model column marked
 * `meta: {sensitive: true}` (or `pii: true`, or tagged `pii`/`sensitive`) in dbt is shown as `‹redacted›`, and so is
 * the sync key when its column is one. No credential is ever part of a plan.
 */
import { redactSensitive, type Contract } from "../contract/load.ts";
import { fieldChangesText, removalsText } from "./format.ts";
import type { ContractOutcome, SyncReport } from "./types.ts";

function cell(value: unknown): string {
  const text = value === null || value === undefined ? "∅" : typeof value === "bigint" ? value.toString() : value instanceof Date ? value.toISOString() : typeof value === "object" ? JSON.stringify(value) : String(value);
  return text.replaceAll("|", "\\|").replaceAll("\n", " ").slice(0, 80);
}

function section(outcome: ContractOutcome, contract: Contract | undefined): string[] {
  const lines = [`### \`${outcome.contract}\` → ${outcome.destination}`, ""];
  if (outcome.status !== "planned") {
    const reasons = "reasons" in outcome ? outcome.reasons : [];
    lines.push(`**${outcome.status === "skipped" ? "Held back by the gate" : outcome.status}**: nothing would be sent.`, "", ...reasons.map((r) => `- ${r}`), "");
    return lines;
  }
  const p = outcome.plan;
  lines.push(
    `| eligible | create | update | unchanged | removed |`,
    `|---:|---:|---:|---:|---:|`,
    `| ${p.eligible} | ${p.create} | ${p.update} | ${p.unchanged} | ${p.removed > 0 ? `${p.removed} → ${removalsText(outcome.removals)}` : "0"} |`,
    "",
  );
  if (p.update > 0) lines.push(`- fields changing: ${fieldChangesText(outcome.fieldChanges, (f) => `\`${cell(f)}\``)}`);
  const rejected = outcome.rejected.reduce((n, r) => n + r.rows, 0);
  if (rejected > 0) lines.push(`- ${rejected} row(s) rejected before sending (null, shared or refused sync key)`);
  for (const stop of outcome.wouldStop) lines.push(`- ⛔ **would stop**: ${stop}`);
  for (const o of outcome.overridden) lines.push(`- overridden: ${o}`);
  if (outcome.wouldStop.length === 0) lines.push("- ✅ every gate would hold: it would sync");
  if (outcome.samples.length > 0 && contract) {
    const fields = [...new Set(outcome.samples.flatMap((s) => Object.keys(s.fields)))];
    lines.push("", `<details><summary>${outcome.samples.length} sample record(s)</summary>`, "", `| change | key | ${fields.map((f) => `\`${f}\``).join(" | ")} |`, `|---|---|${fields.map(() => "---").join("|")}|`);
    // The plan's samples come redacted (sensitive columns, a sensitive key); redacted again here for any other caller.
    for (const s of outcome.samples.map((sample) => redactSensitive(contract, sample))) {
      lines.push(`| ${s.change} | ${cell(s.key)} | ${fields.map((f) => cell(s.fields[f])).join(" | ")} |`);
    }
    lines.push("", "</details>");
  }
  lines.push("");
  return lines;
}

export function formatPlanMarkdown(report: SyncReport, contracts: Contract[], origin: string): string {
  const byName = new Map(contracts.map((c) => [c.spec.name, c]));
  const lines = [
    "## dbt-activation plan",
    "",
    `What this build would do to the destinations: dbt \`${report.command}\` invocation \`${report.invocationId}\` (dbt ${report.dbtVersion ?? "?"}), artifacts from ${origin}. Exit code ${report.exitCode}.`,
    "",
  ];
  if (report.contracts.length === 0) lines.push("No activation contracts.");
  for (const outcome of report.contracts) lines.push(...section(outcome, byName.get(outcome.contract)));
  return `${lines.join("\n").trimEnd()}\n`;
}
