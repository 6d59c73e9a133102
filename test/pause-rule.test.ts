/** The pause rule (monitoring.pause_if): when a run's failed rows trip it, mid-run and at the end. */
import { describe, expect, it } from "vitest";
import { PAUSE_RULE_MIN_SAMPLE, pauseRuleTripped } from "../src/contract/pause-rule.ts";
import { HUBSPOT_PEOPLE, contractSpec } from "./support/contracts.ts";

function spec(pauseIf: Record<string, number> | undefined) {
  return contractSpec(HUBSPOT_PEOPLE, pauseIf ? { monitoring: { pause_if: pauseIf } } : {});
}

describe("pause rule", () => {
  it("never trips without a rule or without failures", () => {
    expect(pauseRuleTripped(spec(undefined), { attempted: 10, failed: 10 }, true)).toBeUndefined();
    expect(pauseRuleTripped(spec({ failed_rows: 1 }), { attempted: 10, failed: 0 }, true)).toBeUndefined();
  });

  it("trips on the absolute count at once, mid-run or at the end", () => {
    const rule = spec({ failed_rows: 3 });
    expect(pauseRuleTripped(rule, { attempted: 5, failed: 2 }, false)).toBeUndefined();
    expect(pauseRuleTripped(rule, { attempted: 5, failed: 3 }, false)).toBe("monitoring.pause_if: 3 rows failed (the rule pauses at 3)");
  });

  it("judges the share mid-run only from a large enough sample, and at the end from any", () => {
    const rule = spec({ failed_rows_percent: 5 });
    expect(pauseRuleTripped(rule, { attempted: 16, failed: 1 }, false)).toBeUndefined();
    expect(pauseRuleTripped(rule, { attempted: 16, failed: 1 }, true)).toBe("monitoring.pause_if: 1 of 16 rows failed (6.3 %; the rule pauses at 5 %)");
    expect(pauseRuleTripped(rule, { attempted: 100, failed: 4 }, true)).toBeUndefined();
    expect(pauseRuleTripped(rule, { attempted: PAUSE_RULE_MIN_SAMPLE, failed: 50 }, false)).toMatch(/^monitoring.pause_if: 50 of 1000 rows failed \(5\.0 %/);
    expect(pauseRuleTripped(rule, { attempted: PAUSE_RULE_MIN_SAMPLE, failed: 49 }, false)).toBeUndefined();
  });

  it("trips on either rule when both are given", () => {
    const rule = spec({ failed_rows_percent: 50, failed_rows: 10 });
    expect(pauseRuleTripped(rule, { attempted: 1_000_000, failed: 10 }, false)).toMatch(/10 rows failed/);
    expect(pauseRuleTripped(rule, { attempted: 8, failed: 4 }, true)).toMatch(/4 of 8 rows failed/);
  });
});
