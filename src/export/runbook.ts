/**
 * `export runbook`: a Markdown runbook per contract for whoever is on call: what each alert means, who to call (the
 * contract's owners), how to pause, resume, replay and roll back (the exact commands), the reconciliation queries and
 * the pause rule. `generate` puts the same text in a dbt docs block on the contract's exposure.
 */
import { commandFor, type CommandLine } from "../alerts/conditions.ts";
import { ALERT_GUIDE } from "../alerts/guide.ts";
import type { Contract } from "../contract/load.ts";

const ROLES = [
  ["model", "the gate held the contract, or its rows look wrong at the source"],
  ["field", "the meaning of a synced value is in question"],
  ["destination", "schema drift, permissions, limits, a failed destination check or failed rows"],
  ["workflow", "the business process the values drive must change or hold"],
] as const;

function code(text: string): string {
  return `\`${text.replaceAll("`", "'")}\``;
}

function cell(text: string): string {
  return text.replaceAll("|", "\\|").replaceAll("\n", " ");
}

function block(lang: string, text: string): string[] {
  return [`\`\`\`${lang}`, text, "```"];
}

/** SQL literal for a contract name (lower snake case: nothing to escape, but keep it honest). */
function literal(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

export function contractRunbook(contract: Contract, line: CommandLine): string {
  const s = contract.spec;
  const d = s.destination;
  const name = s.name;
  const m = s.monitoring;
  const cmd = (command: string, extra: string[] = []): string => commandFor(line, command, name, extra);
  const out: string[] = [];
  out.push(`# Runbook: ${name}`, "");
  out.push(`Model ${code(contract.model.name)} → ${d.type} ${d.object} (match on ${code(d.match.field)}, mode ${code(d.mode)}, rows that leave: ${code(d.on_removed)}); status ${code(s.status)}${m?.alert_only ? ", alert-only (never writes)" : ""}.`);
  if (s.decision) out.push("", `Decision it serves: ${s.decision}`);
  out.push("");

  out.push("## Who to call", "", "| role | who | call when |", "|---|---|---|");
  for (const [role, when] of ROLES) out.push(`| ${role} | ${cell(s.owners?.[role] ?? "_not declared_")} | ${when} |`);
  out.push("");

  out.push("## Alerts", "");
  const a = m?.alert;
  const channels = [
    a?.slack_webhook_env && `Slack (${code(a.slack_webhook_env)})`,
    a?.webhook_env && `signed webhook (${code(a.webhook_env)}, secret ${code(a.webhook_secret_env ?? "?")})`,
    a?.pagerduty_routing_key_env && `PagerDuty (${code(a.pagerduty_routing_key_env)})`,
  ].filter(Boolean);
  out.push(channels.length > 0 ? `Sent to ${channels.join(", ")}, once per condition until it changes or a good run resolves it.` : "_No alert channel declared (monitoring.alert): these conditions show only in the sync's report and exit code._");
  out.push("", "| alert | what it means | first step | command |", "|---|---|---|---|");
  for (const g of ALERT_GUIDE) {
    const command =
      g.command === undefined ? "" : g.command === "dbt build" ? code(`dbt build --select ${contract.model.name}+`) : g.command === "validate" ? code(`dbt-activation validate --project-dir ${line.projectDir}`) : code(cmd(g.command, g.command === "rollback" ? ["--run", "<run_id>"] : []));
    out.push(`| ${g.when} | ${cell(g.means)} | ${cell(g.first)} | ${command} |`);
  }
  out.push("");

  out.push("## Pause", "");
  out.push("Stops the contract before its next batch (a running sync too) and every later run until resumed:", "");
  out.push(...block("bash", cmd("pause", ["--reason", "<why>"])));
  out.push("", `Without the warehouse: ${code(`DBT_ACTIVATION_PAUSE=${name}`)} in the runner's environment. For good: ${code("status: paused")} in the contract.`, "");
  const rule = m?.pause_if;
  const parts = rule ? [rule.failed_rows !== undefined && `${rule.failed_rows} rows fail`, rule.failed_rows_percent !== undefined && `${rule.failed_rows_percent} % of the rows sent fail`].filter(Boolean) : [];
  out.push(
    "**Pause rule** (`monitoring.pause_if`): " +
      (parts.length > 0
        ? `the contract pauses itself when ${parts.join(" or ")} in a run (checked between batches, the share once 1,000 rows were attempted, and on the whole run at its end); the alert says ${code("paused")}.`
        : "_none declared: failed rows never pause the contract._"),
    "",
  );

  out.push("## Resume", "");
  out.push(...block("bash", cmd("resume")), "");

  out.push("## Replay", "", "Resends the dead letters (rows that failed) with today's data, after the cause is fixed:", "");
  out.push(...block("bash", cmd("replay")), "");

  out.push("## Roll back", "");
  const strategy = m?.rollback;
  const restore = `Restores, for the records a run changed, the values they held before it (the ledger keeps them), and pauses the contract. Find the run id in ${code("dbt-activation status")} or the run log below.`;
  if (strategy === "manual") out.push("Declared `manual`: follow the destination owner's procedure. The ledger still allows a restore:", "");
  else if (strategy === "clear_fields") out.push(`Declared ${code("clear_fields")}: clear the synced fields (${Object.keys(s.fields).length} fields). ${restore}`, "");
  else if (strategy === "restore_previous") out.push(`Declared ${code("restore_previous")}. ${restore}`, "");
  else out.push(`_No rollback path declared (monitoring.rollback)._ ${restore}`, "");
  out.push(...block("bash", cmd("rollback", ["--run", "<run_id>"])), "");

  out.push("## Reconciliation", "");
  out.push("Read the destination back for every key the ledger knows, and count discrepancies:", "");
  out.push(...block("bash", cmd("reconcile")), "");
  out.push(`Queries on the syncer's tables (in the ledger's schema: the profile target's${line.ledgerSchema ? `, here ${code(line.ledgerSchema)}` : " unless --ledger-schema"}):`, "");
  const c = literal(name);
  out.push(
    ...block(
      "sql",
      [
        "-- the last runs, newest first",
        `select run_id, status, started_at, finished_at, rows_eligible, rows_created, rows_updated, rows_failed, rows_not_sent, stop_reason`,
        `from activation_run_log where contract_name = ${c} order by started_at desc limit 10;`,
        "",
        "-- rows waiting for replay, by error",
        `select error_code, count(*) as rows_failed, min(created_at) as since`,
        `from activation_dead_letters where contract_name = ${c} and replayed_at is null group by error_code order by rows_failed desc;`,
        "",
        "-- discrepancies found by reconcile (the dbt package's activation_reconciliation model)",
        `select discrepancy, count(*) as keys from activation_reconciliation where contract_name = ${c} group by discrepancy;`,
        "",
        "-- the open alert, if any",
        `select kind, summary, opened_at, last_alerted_at, dedup_key from activation_alerts where contract_name = ${c};`,
      ].join("\n"),
    ),
    "",
  );
  return out.join("\n");
}

export function exportRunbooks(contracts: Contract[], line: CommandLine): string {
  return contracts.map((c) => contractRunbook(c, line)).join("\n---\n\n");
}
