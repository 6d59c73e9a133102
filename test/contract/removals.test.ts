/** Which removals of a contract clear its mapped fields: what the mapping check holds against fields that cannot be emptied. */
import { describe, expect, it } from "vitest";
import { clearingRemovals } from "../../src/contract/rules.ts";
import { SALESFORCE_ACCOUNTS, contractSpec } from "../support/contracts.ts";

const consent = { consent: { column: "marketing_consent", updated_at: "consent_updated_at", max_lag: "365d" } };

describe("clearingRemovals", () => {
  it("is undefined when no removal clears: keep, delete, or suppression removals declared delete or kept with a reason", () => {
    expect(clearingRemovals(contractSpec(SALESFORCE_ACCOUNTS))).toBeUndefined();
    expect(clearingRemovals(contractSpec(SALESFORCE_ACCOUNTS, { destination: { ...SALESFORCE_ACCOUNTS.destination, on_removed: "delete" } }))).toBeUndefined();
    expect(clearingRemovals(contractSpec(SALESFORCE_ACCOUNTS, { suppression: { ...consent, on_removed: { consent: "delete" } } }))).toBeUndefined();
    expect(clearingRemovals(contractSpec(SALESFORCE_ACCOUNTS, { suppression: { ...consent, on_removed: { consent: "keep", reason: "the CRM keeps its own consent flag" } } }))).toBeUndefined();
  });

  it("names consent's default clear, a declared clear, and destination.on_removed clear", () => {
    expect(clearingRemovals(contractSpec(SALESFORCE_ACCOUNTS, { suppression: consent }))).toBe("suppression.on_removed.consent is clear (the default)");
    expect(clearingRemovals(contractSpec(SALESFORCE_ACCOUNTS, { suppression: { ...consent, on_removed: { consent: "clear" } } }))).toBe("suppression.on_removed.consent is clear");
    expect(clearingRemovals(contractSpec(SALESFORCE_ACCOUNTS, { destination: { ...SALESFORCE_ACCOUNTS.destination, on_removed: "clear" } }))).toBe("a removal clears (destination.on_removed: clear)");
    expect(clearingRemovals(contractSpec(SALESFORCE_ACCOUNTS, { suppression: { ...consent, on_removed: { consent: "delete" } }, destination: { ...SALESFORCE_ACCOUNTS.destination, on_removed: "clear" } }))).toBe(
      "a removal clears (destination.on_removed: clear)",
    );
  });
});
