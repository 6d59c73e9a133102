/**
 * Accepted means enforced: for every leaf field of the contract's zod schema, the tests that fail when what the field
 * does is removed. `enforcement.test.ts` walks `contractSchema` and fails for a leaf with no entry here, and for an
 * entry whose test does not exist. Paths use `*` for a record's keys (`fields.*.on_null`); `fields.*` is the
 * shorthand `column: destination_field`.
 *
 * `documents` marks the few fields that change no run, only what people read (exports, dbt docs, the readiness
 * verdict's wording): they are listed with the test that shows where they go, so adding one is a decision, not an
 * accident.
 */

export interface EnforcingTest {
  /** The test file, relative to the repository. */
  file: string;
  /** The test's title as written in `it(…)` (a prefix is enough). */
  test: string;
}

export interface Enforcement {
  tests: EnforcingTest[];
  documents?: true;
}

const E2E = "test/e2e/enforcement.e2e.test.ts";
const SYNC = "test/e2e/sync.e2e.test.ts";
const MODES = "test/e2e/modes.e2e.test.ts";
const OPS = "test/e2e/operations.e2e.test.ts";
const PLAN = "test/plan/plan.test.ts";
const PACKAGE = "test/dbt-package/dbt-package.test.ts";
const GENERATE = "test/generate/generate.test.ts";
const VALIDATE = "test/validate/validate.test.ts";
const CONTRACT = "test/contract/enforcement.test.ts";
const EXPORT = "test/export/export.test.ts";
const BRAZE_DEST = "test/destinations/braze.test.ts";
const ALERTS = "test/e2e/alerts.e2e.test.ts";
const ALERT_UNIT = "test/alerts/alerts.test.ts";
const CONSENT = "test/e2e/consent.e2e.test.ts";
const PARITY = "test/e2e/parity.e2e.test.ts";
const RETARGET = "test/e2e/retarget.e2e.test.ts";


const t = (file: string, test: string): EnforcingTest => ({ file, test });
const readiness = t(VALIDATE, "fails launch contracts that are not launch-ready");
const suppression = [t(GENERATE, "write an activation model that calls the package macro"), t(PACKAGE, "passes every expect_pass fixture and fails every expect_fail one")];

export const ENFORCEMENT: Record<string, Enforcement> = {
  name: { tests: [t(SYNC, "lands the passing contract's rows"), t(OPS, "pause stops the contract")] },
  decision: { tests: [readiness] },
  status: { tests: [readiness, t(VALIDATE, "exposes the status rule as one function")] },
  grain: { tests: [readiness] },
  key: { tests: [t(SYNC, "lands the passing contract's rows"), t("test/engine/engine.test.ts", "leaves out null and shared keys")] },

  "destination.type": { tests: [t(E2E, "a destination type no destination implements stops the run before any call"), t(CONTRACT, "every type the schema admits is launch-ready on its own terms")] },
  "destination.object": { tests: [t(SYNC, "lands the passing contract's rows"), t(RETARGET, "is refused before anything is sent, removals included")] },
  "destination.match.field": { tests: [t(SYNC, "lands the passing contract's rows"), t(RETARGET, "is refused for another match field")] },
  "destination.mode": { tests: [t(MODES, "update writes only records that already exist"), t(MODES, "create writes only new records"), t(MODES, "mirror clears the fields")] },
  "destination.on_removed": { tests: [t(MODES, "on_removed delete archives the records"), t(E2E, "rows older than it are not sent")] },
  "destination.list_id": { tests: [t(MODES, "audience adds the records to the list"), t(BRAZE_DEST, "subscribes and unsubscribes users to the contract's subscription group")] },
  "destination.match.alias_label": { tests: [t(BRAZE_DEST, "creates alias-only users by alias name and label"), t(BRAZE_DEST, "reads by alias name under the contract's label only")] },
  "destination.create_attributes": { tests: [t("test/e2e/braze.e2e.test.ts", "stops before any write when a mapped attribute is unknown to Braze, unless the contract allows creating it")] },

  "fields.*": { tests: [t(SYNC, "lands the passing contract's rows")] },
  "fields.*.to": { tests: [t(SYNC, "lands the passing contract's rows"), t(RETARGET, "writes a renamed field to every synced record")] },
  "fields.*.on_null": { tests: [t(E2E, "clear: a value that becomes null"), t(E2E, "fail: the row is dead-lettered"), t(RETARGET, "clears a null the old on_null left out")] },
  "fields.*.allowed": { tests: [t(SYNC, "stops before any write when the contract's allowed values"), t(PACKAGE, "passes every expect_pass fixture")] },
  "fields.*.overwrite": { tests: [t(MODES, "if_empty fills a field only where the destination has no value"), t(MODES, "unless_edited keeps a value")] },

  "lineage.sources": { documents: true, tests: [t(EXPORT, "answers the ten questions for a complete contract")] },
  "lineage.notes": { documents: true, tests: [t(EXPORT, "answers the ten questions for a complete contract")] },

  "freshness.column": { tests: [t(PACKAGE, "passes every expect_pass fixture"), t(E2E, "rows older than it are not sent")] },
  "freshness.max_age": { tests: [t(PACKAGE, "passes every expect_pass fixture"), t(GENERATE, "write the package's tests derived from the contract")] },
  "freshness.expire_after": { tests: [t(E2E, "rows older than it are not sent"), t(E2E, "a first sync sends only the rows younger than it")] },

  "late_arriving.source": { tests: [t(MODES, "never overwrites a record whose timestamp is newer")] },
  "late_arriving.destination": { tests: [t(MODES, "never overwrites a record whose timestamp is newer")] },
  "late_arriving.max_skipped_runs": { tests: [t(CONSENT, "a destination timestamp in the far future is dead-lettered after max_skipped_runs skipped runs")] },

  "suppression.exclude": { tests: suppression },
  "suppression.on_removed.consent": { tests: [t(CONSENT, "revoked consent clears the record"), t(CONSENT, "on_removed.consent delete"), t(CONSENT, "audience mode unlists"), t(VALIDATE, "refuses keep for a consent removal without a reason")] },
  "suppression.on_removed.excluded": { tests: [t(CONSENT, "on_removed.consent delete deletes the record; an exclude item follows on_removed.excluded")] },
  "suppression.on_removed.reason": { tests: [t(CONSENT, "keep with a reason is recorded"), t(VALIDATE, "refuses keep for a consent removal without a reason")] },
  "suppression.consent.column": { tests: suppression },
  "suppression.consent.updated_at": { tests: suppression },
  "suppression.consent.max_lag": { tests: suppression },
  "suppression.holdout.percent": { tests: suppression },
  "suppression.holdout.salt": { tests: suppression },
  "suppression.review.when": { tests: suppression },
  "suppression.not_needed": { tests: [readiness] },

  "gates.min_rows": { tests: [t(PLAN, "stops on blast radius (percent of synced rows, and rows) and on too few rows"), t(OPS, "says what would stop the sync")] },
  "gates.max_change.percent": { tests: [t(PLAN, "stops on blast radius"), t(E2E, "holds the contract without the override")] },
  "gates.max_change.rows": { tests: [t(PLAN, "stops on blast radius"), t(PLAN, "before the first sync applies only the row limit")] },
  "gates.max_null_rate.*": { tests: [t(GENERATE, "write the package's tests derived from the contract"), t(PACKAGE, "passes every expect_pass fixture")] },
  "gates.min_match_rate": {
    tests: [
      t(GENERATE, "write the package's tests derived from the contract"),
      t(PACKAGE, "passes every expect_pass fixture"),
      readiness,
      t(PARITY, "holds the sync back with the reason when 50% match"),
      t(PARITY, "syncs when 80% of the keys already have a record"),
    ],
  },
  "gates.match_rate_not_needed": { tests: [readiness, t(CONTRACT, "a match rate of 0 is not tested for launch readiness")] },
  "gates.parity": { tests: [t(PARITY, "classifies drift against reconcile's snapshot, warns by default, and holds the next sync only under gates.parity: hold")] },
  "gates.allow_warn": { tests: [t(E2E, "a warn test holds the contract back unless the contract allows warn"), t(E2E, "allow_warn: true lets a warn test pass the gate")] },

  "rollout.percent": { tests: suppression },
  "rollout.salt": { tests: suppression },

  "owners.model": { tests: [readiness] },
  "owners.field": { tests: [readiness] },
  "owners.destination": { tests: [readiness] },
  "owners.workflow": { tests: [readiness] },

  "monitoring.alert.slack_webhook_env": { tests: [t(ALERTS, "alerts once per condition on every channel")] },
  "monitoring.alert.webhook_env": { tests: [t(ALERTS, "alerts once per condition on every channel"), t(ALERT_UNIT, "mask every credential-like value of the environment, and sign")] },
  "monitoring.alert.webhook_secret_env": { tests: [t(ALERT_UNIT, "mask every credential-like value of the environment, and sign")] },
  "monitoring.alert.pagerduty_routing_key_env": { tests: [t(ALERTS, "alerts once per condition on every channel")] },
  "monitoring.alert.email": { tests: [t("test/contract/contract.test.ts", "refuses alert settings the syncer could not honour")] },
  "monitoring.alert.failed_rows": { tests: [t(ALERT_UNIT, "failed rows alert at any failed row by default")] },
  "monitoring.alert.failed_rows_percent": { tests: [t(ALERT_UNIT, "failed rows alert at any failed row by default")] },
  "monitoring.pause_if.failed_rows_percent": { tests: [t(SYNC, "maps per-record rejections (207) back to their rows"), t("test/contract/pause-rule.test.ts", "judges the share only from min_attempted rows")] },
  "monitoring.pause_if.min_attempted": { tests: [t("test/contract/pause-rule.test.ts", "a contract's small min_attempted lets a small run pause"), t("test/e2e/lifecycle.e2e.test.ts", "pauses a contract whose own min_attempted is met by enough failures")] },
  "monitoring.pause_if.failed_rows": { tests: [t("test/contract/pause-rule.test.ts", "trips on the absolute count")] },
  "monitoring.retry_budget.max_retries": { tests: [t(E2E, "max_retries: 2 against a destination that always fails")] },
  "monitoring.retry_budget.max_duration": { tests: [t(E2E, "max_duration: 1s bounds the time the run waits before retries")] },
  "monitoring.rollback": { tests: [t(OPS, "rollback restores the values sent before a run"), t(E2E, "clear_fields empties the mapped fields"), t(E2E, "manual is refused with exit 2")] },
  "monitoring.alert_only": { tests: [readiness, t(ALERTS, "an alert-only contract is gated, planned and alerted on, and writes nothing")] },
};
