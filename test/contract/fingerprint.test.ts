/** What a ledger row was written under: the mapping fingerprint (per row) and the target (per run), and when a target change is refused. */
import { describe, expect, it } from "vitest";
import { destinationTarget, mappingFingerprint, targetChangeProblem } from "../../src/contract/fingerprint.ts";
import { HUBSPOT_PEOPLE, SALESFORCE_ACCOUNTS, contractSpec } from "../support/contracts.ts";

const people = (fields: Record<string, unknown>) => contractSpec(HUBSPOT_PEOPLE, { fields } as never);

describe("mappingFingerprint", () => {
  it("changes with what changes the bytes sent: a field's to, its on_null, a column mapped or unmapped", () => {
    const base = mappingFingerprint(contractSpec(HUBSPOT_PEOPLE));
    expect(base).toMatch(/^[0-9a-f]{16}$/);
    const variants = [
      people({ first_name: "given_name", tier: "lifecyclestage" }),
      people({ first_name: { to: "firstname", on_null: "clear" }, tier: "lifecyclestage" }),
      people({ first_name: { to: "firstname", on_null: "fail" }, tier: "lifecyclestage" }),
      people({ first_name: "firstname" }),
      people({ first_name: "firstname", tier: "lifecyclestage", last_name: "lastname" }),
      people({ given: "firstname", tier: "lifecyclestage" }),
    ].map(mappingFingerprint);
    expect(new Set([base, ...variants]).size).toBe(variants.length + 1);
  });

  it("is the same whatever the declaration order, the shorthand, allowed values or overwrite policy", () => {
    const base = mappingFingerprint(contractSpec(HUBSPOT_PEOPLE));
    expect(mappingFingerprint(people({ tier: "lifecyclestage", first_name: "firstname" }))).toBe(base);
    expect(mappingFingerprint(people({ first_name: { to: "firstname", on_null: "skip" }, tier: { to: "lifecyclestage", allowed: ["lead"], overwrite: "if_empty" } }))).toBe(base);
    expect(mappingFingerprint(contractSpec(HUBSPOT_PEOPLE, { name: "renamed", key: "other_key" }))).toBe(base);
  });
});

describe("destinationTarget", () => {
  it("names type, object and match field, with the alias label and the list where declared, and nothing secret", () => {
    expect(destinationTarget(contractSpec(HUBSPOT_PEOPLE))).toBe("hubspot contacts by email");
    expect(destinationTarget(contractSpec(SALESFORCE_ACCOUNTS))).toBe("salesforce Account by Billing_Customer_Id__c");
    expect(destinationTarget(contractSpec(HUBSPOT_PEOPLE, { destination: { ...HUBSPOT_PEOPLE.destination, mode: "audience", list_id: "42" } }))).toBe("hubspot contacts by email in list 42");
    expect(destinationTarget(contractSpec(HUBSPOT_PEOPLE, { destination: { type: "braze", object: "users", match: { field: "user_alias", alias_label: "crm_id" } } }))).toBe("braze users by user_alias (label crm_id)");
  });
});

describe("targetChangeProblem", () => {
  const spec = contractSpec(HUBSPOT_PEOPLE);
  it("refuses another target while synced rows of the old one are in the ledger, naming both and the way forward", () => {
    const problem = targetChangeProblem(spec, { target: "hubspot companies by domain", syncedRows: true });
    expect(problem).toMatch(/^the destination changed from "hubspot companies by domain" to "hubspot contacts by email"/);
    expect(problem).toMatch(/Restore the previous destination, or give the contract a new name so a new ledger starts \(the old ledger stays for audit\)$/);
  });

  it("lets the same target, an unrecorded one (runs before the ledger kept it) and an empty ledger through", () => {
    expect(targetChangeProblem(spec, { target: "hubspot contacts by email", syncedRows: true })).toBeUndefined();
    expect(targetChangeProblem(spec, { target: undefined, syncedRows: true })).toBeUndefined();
    expect(targetChangeProblem(spec, { target: "hubspot companies by domain", syncedRows: false })).toBeUndefined();
  });
});
