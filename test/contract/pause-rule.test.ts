/** The pause rule (monitoring.pause_if): when a run's failed rows trip it, mid-run and at the end. */
import { describe, expect, it } from "vitest";
import { PAUSE_RULE_MIN_ATTEMPTED } from "../../src/contract/schema.ts";
import { pauseRuleTripped } from "../../src/contract/pause-rule.ts";
import { HUBSPOT_PEOPLE, contractSpec } from "../support/contracts.ts";

function spec(pauseIf: Record<string, number> | undefined) {
  return contractSpec(HUBSPOT_PEOPLE, pauseIf ? { monitoring: { pause_if: pauseIf } } : {});
}

describe("pause rule", () => {
  it("never trips without a rule or without failures", () => {
    expect(pauseRuleTripped(spec(undefined), { attempted: 10, failed: 10 })).toBeUndefined();
    expect(pauseRuleTripped(spec({ failed_rows: 1 }), { attempted: 10, failed: 0 })).toBeUndefined();
  });

  it("trips on the absolute count at any sample size", () => {
    const rule = spec({ failed_rows: 3 });
    expect(pauseRuleTripped(rule, { attempted: 5, failed: 2 })).toBeUndefined();
    expect(pauseRuleTripped(rule, { attempted: 3, failed: 3 })).toBe("monitoring.pause_if: 3 rows failed (the rule pauses at 3)");
  });

  it("judges the share only from min_attempted rows (default 20): 1 failure of 1 row does not pause", () => {
    const rule = spec({ failed_rows_percent: 5 });
    expect(rule.monitoring?.pause_if?.min_attempted).toBe(PAUSE_RULE_MIN_ATTEMPTED);
    expect(PAUSE_RULE_MIN_ATTEMPTED).toBe(20);
    expect(pauseRuleTripped(rule, { attempted: 1, failed: 1 })).toBeUndefined();
    expect(pauseRuleTripped(rule, { attempted: 19, failed: 19 })).toBeUndefined();
    expect(pauseRuleTripped(rule, { attempted: 20, failed: 1 })).toBe(
      "monitoring.pause_if: 1 of 20 attempted rows failed (5.0 %; the rule pauses at 5 % from 20 attempted rows)",
    );
    expect(pauseRuleTripped(rule, { attempted: 100, failed: 4 })).toBeUndefined();
  });

  it("a contract's small min_attempted lets a small run pause", () => {
    const rule = spec({ failed_rows_percent: 50, min_attempted: 2 });
    expect(pauseRuleTripped(rule, { attempted: 1, failed: 1 })).toBeUndefined();
    expect(pauseRuleTripped(rule, { attempted: 2, failed: 1 })).toMatch(/^monitoring.pause_if: 1 of 2 attempted rows failed \(50\.0 %/);
    expect(() => spec({ failed_rows_percent: 5, min_attempted: 0 })).toThrow();
  });

  it("trips on either rule when both are given", () => {
    const rule = spec({ failed_rows_percent: 50, failed_rows: 10 });
    expect(pauseRuleTripped(rule, { attempted: 1_000_000, failed: 10 })).toMatch(/10 rows failed/);
    expect(pauseRuleTripped(rule, { attempted: 30, failed: 9 })).toBeUndefined();
    expect(pauseRuleTripped(rule, { attempted: 16, failed: 8 })).toBeUndefined(); // below the default sample of 20
    expect(pauseRuleTripped(rule, { attempted: 18, failed: 9 })).toBeUndefined();
    expect(pauseRuleTripped(spec({ failed_rows_percent: 50, failed_rows: 10, min_attempted: 18 }), { attempted: 18, failed: 9 })).toMatch(/9 of 18 attempted rows failed/);
  });
});
