/** What each alert means and what to do first: the runbook's table (src/export/runbook.ts), beside the alerts it explains. */
import type { AlertKind } from "./conditions.ts";

export interface AlertGuide {
  kind: AlertKind | "recovered";
  when: string;
  means: string;
  first: string;
  /** The command the alert names first (see conditions.ts), by its dbt-activation subcommand. */
  command: "sync" | "plan" | "replay" | "resume" | "rollback" | "validate" | "dbt build" | undefined;
}

export const ALERT_GUIDE: AlertGuide[] = [
  {
    kind: "gate",
    when: "held by the gate",
    means: "The model or one of its tests (the contract's generated tests included: null rate, match rate, allowed values, freshness) did not pass in the dbt invocation the sync read. Nothing was sent.",
    first: "Read the failing test and its failing rows in the dbt run; fix the data or the model, then rebuild and sync.",
    command: "dbt build",
  },
  {
    kind: "stopped",
    when: "stopped before sending",
    means: "A check on the plan stopped the run with zero writes: fewer eligible rows than gates.min_rows, or more changed rows than gates.max_change (blast radius).",
    first: "Look at the plan's row classes and samples. If the change is intended, sync with --allow-large-change and the reason; otherwise fix the model.",
    command: "plan",
  },
  {
    kind: "failed",
    when: "failed the destination check",
    means: "Before any write the destination refused the mapping: a field is gone, read-only or of another type (schema drift), a value is outside the field's options, or the credentials were refused.",
    first: "Fix the destination field (with its admin) or the contract's mapping, validate, then sync.",
    command: "validate",
  },
  {
    kind: "paused",
    when: "paused by the pause rule",
    means: "Too many rows failed at the destination (monitoring.pause_if): the run stopped sending and the contract stays paused; the failed rows are dead letters.",
    first: "Find the cause in the dead letters' error codes; fix it; replay the dead letters; resume. Roll the run back if its writes were wrong.",
    command: "replay",
  },
  {
    kind: "failed_rows",
    when: "failed rows above the alert threshold",
    means: "The run finished but some rows failed at the destination (monitoring.alert.failed_rows / failed_rows_percent); they are dead letters.",
    first: "Fix the cause named by the error codes, then replay the dead letters.",
    command: "replay",
  },
  {
    kind: "circuit_breaker",
    when: "circuit breaker opened",
    means: "The destination failed request after request (server errors, timeouts, rate-limit refusals); the run stopped and the rest of the rows were not sent.",
    first: "Check the destination's status page and limits; when it answers again, sync (the rows not sent go then) and replay the failed ones.",
    command: "sync",
  },
  {
    kind: "interrupted",
    when: "the run ended early",
    means: "A daily limit, a revoked token or the retry budget (monitoring.retry_budget) ended the run; the rest of the rows were not sent.",
    first: "Remove the cause (wait for the limit to reset, renew the token), then sync.",
    command: "sync",
  },
  {
    kind: "recovered",
    when: "recovered",
    means: "The first good run after one of the above: the incident is resolved (PagerDuty: resolved by its dedup key).",
    first: "Nothing; check the dead letters were replayed.",
    command: undefined,
  },
];
