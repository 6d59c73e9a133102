/**
 * The YAML beside a contract's activation model: the package's tests derived from the contract (key, allowed values,
 * null rates, row count, freshness, consent lag, suppression, change limit, match rate), and an exposure per
 * destination, so `dbt docs` lineage reads model → activation model → destination.
 */
import type { Contract } from "../contract/load.ts";
import { fieldMappings } from "../contract/schema.ts";
import { actsOnRemoved, holdsOnParity } from "../contract/rules.ts";

type Test = Record<string, { arguments?: Record<string, unknown>; config?: Record<string, unknown> }> | string;

function test(name: string, args?: Record<string, unknown>): Test {
  const cleaned = args && Object.fromEntries(Object.entries(args).filter(([, v]) => v !== undefined));
  return cleaned && Object.keys(cleaned).length > 0 ? { [`activation.${name}`]: { arguments: cleaned } } : `activation.${name}`;
}

function columnTests(contract: Contract): { name: string; data_tests: Test[] }[] {
  const { spec } = contract;
  const byColumn = new Map<string, Test[]>();
  const add = (column: string, t: Test): void => {
    byColumn.set(column, [...(byColumn.get(column) ?? []), t]);
  };
  add(spec.key, test("unique_key"));
  for (const field of fieldMappings(spec)) {
    if (field.allowed) add(field.column, test("allowed_values", { values: field.allowed }));
  }
  for (const [column, rate] of Object.entries(spec.gates?.max_null_rate ?? {})) add(column, test("null_rate", { max_rate: rate }));
  return [...byColumn].map(([name, data_tests]) => ({ name, data_tests }));
}

/** The arguments `activation.eligible_rows` and `activation.suppression` share, from the contract. */
export function suppressionArguments(contract: Contract): Record<string, unknown> {
  const { spec } = contract;
  const s = spec.suppression;
  return {
    exclude: s?.exclude ?? [],
    consent: s?.consent ? { ...s.consent, value_timestamp: consentValueTimestamp(contract) } : undefined,
    holdout: s?.holdout,
    rollout: spec.rollout ? { percent: spec.rollout.percent, salt: spec.rollout.salt ?? `rollout:${spec.name}` } : undefined,
    review: s?.review,
  };
}

/** The synced value's timestamp that consent must not lag behind: the freshness column, else the late-arrival source. */
export function consentValueTimestamp(contract: Contract): string | undefined {
  return contract.spec.freshness?.column ?? contract.spec.late_arriving?.source;
}

function modelTests(contract: Contract): Test[] {
  const { spec } = contract;
  const s = spec.suppression;
  const tests: Test[] = [];
  if (spec.gates?.min_rows !== undefined) tests.push(test("row_count", { min_rows: spec.gates.min_rows }));
  if (spec.freshness) tests.push(test("freshness", { column_name: spec.freshness.column, max_age: spec.freshness.max_age }));
  const valueTimestamp = consentValueTimestamp(contract);
  if (s?.consent && valueTimestamp) {
    tests.push(test("consent_lag", { key: spec.key, updated_at: s.consent.updated_at, value_timestamp: valueTimestamp, max_lag: s.consent.max_lag }));
  }
  if ((s && !s.not_needed) || spec.rollout) {
    tests.push(test("suppression", { source_model: `ref('${contract.model.name}')`, key: spec.key, ...suppressionArguments(contract) }));
  }
  if (spec.gates?.max_change) {
    // Removed rows count toward the blast radius only where the sync acts on them.
    tests.push(test("change_limit", { contract: spec.name, key: spec.key, max_rows: spec.gates.max_change.rows, max_percent: spec.gates.max_change.percent, count_removed: actsOnRemoved(spec) }));
  }
  if (spec.gates?.min_match_rate !== undefined) tests.push(test("match_rate", { contract: spec.name, key: spec.key, min_rate: spec.gates.min_match_rate }));
  return tests;
}

const DESTINATION_LABELS: Record<string, string> = { hubspot: "HubSpot", salesforce: "Salesforce", braze: "Braze", zendesk: "Zendesk" };
const MATURITY = { launch: "high", caveats: "medium", paused: "low" } as const;

function owner(spec: Contract["spec"]): { name?: string; email?: string } {
  const who = spec.owners?.destination ?? spec.owners?.workflow ?? spec.owners?.model;
  if (!who) return { name: "unassigned" };
  return who.includes("@") ? { email: who } : { name: who };
}

/** The docs block holding the contract's runbook (`<contract>__runbook.md`, written by generate). */
export function runbookDocName(contract: Contract): string {
  return `${contract.spec.name}_runbook`;
}

export function activationProperties(contract: Contract): Record<string, unknown> {
  const { spec } = contract;
  const d = spec.destination;
  const label = DESTINATION_LABELS[d.type] ?? d.type;
  return {
    version: 2,
    models: [
      {
        name: spec.name,
        description: `Eligible rows of activation contract ${spec.name} (model ${contract.model.name} → ${label} ${d.object}). ${spec.decision ?? ""}`.trim(),
        config: { meta: { activation_generated_from: { contract: spec.name, model: contract.model.name } } },
        data_tests: modelTests(contract),
        columns: columnTests(contract),
      },
      {
        name: `${spec.name}__excluded`,
        description: `Rows of ${contract.model.name} that contract ${spec.name} does not send, with the reasons.`,
        config: { meta: { activation_generated_from: { contract: spec.name, model: contract.model.name } } },
      },
      {
        name: `${spec.name}__parity`,
        description: `Source-vs-destination parity of contract ${spec.name}: its eligible rows against the latest ${label} ${d.object} snapshot \`dbt-activation reconcile\` wrote (missing in the destination, value mismatch, present but no longer eligible). Drift ${holdsOnParity(spec) ? "holds the next sync back (gates.parity: hold)" : "warns only (gates.parity: warn)"}.`,
        config: { meta: { activation_generated_from: { contract: spec.name, model: contract.model.name } } },
        // warn: dbt build shows drift as a warning and the gate does not read this model; hold: the gate reads it.
        data_tests: [holdsOnParity(spec) ? "activation.parity_drift" : { "activation.parity_drift": { config: { severity: "warn" } } }],
      },
    ],
    exposures: [
      {
        name: `${spec.name}_destination`,
        label: `${spec.name} → ${label} ${d.object}`,
        type: "application",
        maturity: MATURITY[spec.status],
        // The runbook (generated beside this file as a docs block) follows the decision, so reviewers see it in lineage.
        description: `${spec.decision ?? `Synced to ${label} ${d.object} by dbt-activation.`}\n\n{{ doc('${runbookDocName(contract)}') }}`,
        owner: owner(spec),
        depends_on: [`ref('${spec.name}')`],
        config: { meta: { activation_contract: spec.name, destination: { type: d.type, object: d.object, match: d.match.field, mode: d.mode } } },
      },
    ],
  };
}
