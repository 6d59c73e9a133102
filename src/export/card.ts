/**
 * `export card`: a one-page Markdown contract card per contract, answering the ten questions an activation contract
 * exists for (decision, grain, matching, lineage, destination mapping, freshness, suppression, quality gates, owners,
 * monitoring with pause and rollback), and the launch-readiness verdict. For reviewers and destination owners.
 */
import { declaresSuppressionRemovals, removalAction } from "../contract/rules.ts";
import { fieldMappings } from "../contract/schema.ts";
import type { ExportContract } from "./source.ts";

const NOT_DECLARED = "_not declared_";

function code(value: string | number | boolean): string {
  return `\`${String(value).replaceAll("`", "'")}\``;
}

function cell(text: string): string {
  return text.replaceAll("|", "\\|").replaceAll("\n", " ");
}

function percent(share: number): string {
  return `${Number((share * 100).toFixed(4))}%`;
}

export function contractCard(c: ExportContract): string {
  const s = c.contract.spec;
  const d = s.destination;
  const destination = `${d.type} ${d.object}`;
  const out: string[] = [];
  const verdict = c.readiness.ready ? "Launch-ready" : "Not launch-ready";
  out.push(`# Contract card: ${s.name}`, "");
  out.push(`**${verdict}** · status ${code(s.status)} · model ${code(c.model.name)} → ${destination} · declared in ${code(`${c.file}:${c.line}`)}`, "");

  out.push("## 1. Decision", "", s.decision ?? NOT_DECLARED, "");

  out.push("## 2. Grain and key", "");
  out.push(`One row per ${s.grain ? `**${s.grain}**` : "_(grain not declared)_"}; sync key ${code(s.key)}: unique and not null in the eligible rows.`, "");

  out.push("## 3. Matching", "");
  out.push(`Each row matches the ${destination} record whose ${code(d.match.field)} equals ${code(s.key)} (one unique field, no fuzzy fallback).`);
  out.push(`Mode ${code(d.mode)}${d.list_id ? ` (list ${code(d.list_id)})` : ""}; when a row leaves the eligible set: ${code(d.on_removed)}.`);
  const matchGate = s.gates?.match_rate_not_needed
    ? `not needed (${s.gates.match_rate_not_needed})`
    : s.gates?.min_match_rate !== undefined
      ? `at least ${percent(s.gates.min_match_rate)} of rows must match existing records`
      : "_none: the matching rule is untested_";
  out.push(`Match-rate gate: ${matchGate}.`, "");

  out.push("## 4. Lineage", "");
  out.push(`- Declared source systems: ${s.lineage ? s.lineage.sources.map(code).join(", ") : NOT_DECLARED}${s.lineage?.notes ? ` (${s.lineage.notes})` : ""}`);
  out.push(`- Model parents (manifest): ${c.model.parents.length > 0 ? c.model.parents.map(code).join(", ") : "_unknown (no manifest) or none_"}`);
  out.push(`- Flow: ${code(c.model.name)} → activation model ${code(s.name)} → ${destination}`, "");

  out.push("## 5. Destination mapping", "");
  out.push("| model column | type | destination field | on null | overwrite | allowed values |", "|---|---|---|---|---|---|");
  const types = new Map(c.model.columns.map((col) => [col.name.toLowerCase(), col.type]));
  for (const f of fieldMappings(s)) {
    const type = types.get(f.column.toLowerCase());
    out.push(`| ${cell(code(f.column))} | ${cell(type ?? "?")} | ${cell(code(f.to))} | ${f.on_null} | ${f.overwrite} | ${f.allowed ? cell(f.allowed.map(String).join(", ")) : "any"} |`);
  }
  out.push("");

  out.push("## 6. Freshness", "");
  if (s.freshness) {
    out.push(`The newest ${code(s.freshness.column)} must be younger than **${s.freshness.max_age}**${s.freshness.expire_after ? `; values older than **${s.freshness.expire_after}** are not sent` : ""}.`);
  } else out.push(`${NOT_DECLARED}.`);
  if (s.late_arriving) out.push(`Late arrivals: a record whose ${code(s.late_arriving.destination)} is newer than the row's ${code(s.late_arriving.source)} is never overwritten.`);
  out.push("");

  out.push("## 7. Suppression", "");
  const sup = s.suppression;
  if (!sup) out.push(`${NOT_DECLARED}.`);
  else {
    if (sup.exclude?.length) out.push(`- Never synced when: ${sup.exclude.map(code).join(", ")}`);
    if (sup.consent) out.push(`- Consent: only rows where ${code(sup.consent.column)} is true, updated (${code(sup.consent.updated_at)}) at most ${sup.consent.max_lag} before the value`);
    if (sup.holdout) out.push(`- Holdout: ${sup.holdout.percent}% of keys never synced (salt ${code(sup.holdout.salt)})`);
    if (sup.review) out.push(`- Held for human review when: ${code(sup.review.when)}`);
    if (sup.not_needed) out.push(`- No suppression needed: ${sup.not_needed}`);
    if (declaresSuppressionRemovals(s)) {
      const action = (cause: "consent" | "excluded"): string => code(removalAction(s, cause));
      const when = [...(sup.consent ? [`consent is withdrawn: ${action("consent")}`] : []), ...(sup.exclude?.length ? [`an exclude item matches: ${action("excluded")}`] : [])];
      out.push(`- What a synced record becomes when ${when.join("; when ")}${sup.on_removed?.reason ? ` (keep, because: ${sup.on_removed.reason})` : ""}`);
    }
  }
  if (s.rollout) out.push(`- Rollout: ${s.rollout.percent}% of keys${s.rollout.salt ? ` (salt ${code(s.rollout.salt)})` : ""}`);
  out.push("");

  out.push("## 8. Quality gates", "");
  out.push("Checked before anything is sent; a failing gate stops the run.", "");
  const g = s.gates;
  out.push(`- Minimum eligible rows: ${g?.min_rows ?? NOT_DECLARED}`);
  out.push(`- Maximum change per run: ${g?.max_change ? [g.max_change.percent !== undefined && `${g.max_change.percent}%`, g.max_change.rows !== undefined && `${g.max_change.rows} rows`].filter(Boolean).join(" and ") : NOT_DECLARED}`);
  out.push(`- Maximum null rate: ${g?.max_null_rate && Object.keys(g.max_null_rate).length > 0 ? Object.entries(g.max_null_rate).map(([col, rate]) => `${code(col)} ${percent(rate)}`).join(", ") : NOT_DECLARED}`);
  out.push(`- Minimum match rate: ${g?.min_match_rate !== undefined ? percent(g.min_match_rate) : g?.match_rate_not_needed ? `not needed (${g.match_rate_not_needed})` : NOT_DECLARED}`);
  out.push(`- Parity drift (the generated parity test): ${g?.parity === "hold" ? "holds the next sync" : "warns only"}`);
  out.push(`- dbt tests with status warn count as passed: ${g?.allow_warn ? "yes" : "no"}`, "");

  out.push("## 9. Owners", "");
  out.push("| role | owner |", "|---|---|");
  for (const role of ["model", "field", "destination", "workflow"] as const) out.push(`| ${role} | ${cell(s.owners?.[role] ?? NOT_DECLARED)} |`);
  out.push("");

  out.push("## 10. Monitoring, pause and rollback", "");
  const m = s.monitoring;
  const alerts = [
    m?.alert?.slack_webhook_env && `Slack webhook from ${code(m.alert.slack_webhook_env)}`,
    m?.alert?.webhook_env && `webhook from ${code(m.alert.webhook_env)} (signed with ${code(m.alert.webhook_secret_env ?? "?")})`,
    m?.alert?.pagerduty_routing_key_env && `PagerDuty, routing key from ${code(m.alert.pagerduty_routing_key_env)}`,
  ].filter(Boolean);
  out.push(`- Alerts: ${alerts.length > 0 ? alerts.join("; ") : NOT_DECLARED}`);
  const pause = m?.pause_if ? [m.pause_if.failed_rows_percent !== undefined && `${m.pause_if.failed_rows_percent}% of rows fail`, m.pause_if.failed_rows !== undefined && `${m.pause_if.failed_rows} rows fail`].filter(Boolean).join(" or ") : undefined;
  out.push(`- Pause rule: ${pause ? `pause when ${pause} in a run` : NOT_DECLARED}`);
  const retry = m?.retry_budget ? [m.retry_budget.max_retries !== undefined && `${m.retry_budget.max_retries} retries`, m.retry_budget.max_duration && `${m.retry_budget.max_duration}`].filter(Boolean).join(", ") : undefined;
  out.push(`- Retry budget: ${retry || "engine default"}`);
  out.push(`- Rollback: ${m?.rollback ? code(m.rollback) : NOT_DECLARED}`);
  out.push(`- Alert-only (plan and alert, never write): ${m?.alert_only ? "yes" : "no"}`);
  out.push(`- Pause now: set ${code("status: paused")} in the contract.`, "");

  out.push("## Launch readiness", "");
  if (c.readiness.ready) out.push("Launch-ready: every check that should pause a launch passes.");
  else {
    out.push(`Not launch-ready${c.statusAllowed ? (s.status === "launch" ? "" : ` (allowed under status ${code(s.status)})`) : `, and status ${code(s.status)} is not allowed for it: validate fails`}:`, "");
    for (const reason of c.readiness.reasons) out.push(`- ${reason}`);
  }
  out.push("");
  return out.join("\n");
}

export function exportCards(contracts: ExportContract[]): string {
  return contracts.map(contractCard).join("\n---\n\n");
}
