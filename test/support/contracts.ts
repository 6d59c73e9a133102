/**
 * The one contract fixture builder for tests and benchmarks: a parsed contract on a model, defaults filled in by the
 * real zod schema, so a fixture is exactly what `validate` would accept. Start from a base and override what the test
 * is about.
 */
import type { Contract } from "../../src/contract/load.ts";
import { contractSchema, type ContractInput, type ContractSpec } from "../../src/contract/schema.ts";

/** People (one row per email) to HubSpot contacts: the shape most engine, plan and warehouse tests use. */
export const HUBSPOT_PEOPLE = {
  name: "people_to_hubspot",
  key: "email",
  destination: { type: "hubspot", object: "contacts", match: { field: "email" } },
  fields: { first_name: "firstname", tier: "lifecyclestage" },
} as const satisfies ContractInput;

/** Accounts (one row per billing customer) to Salesforce Account by external id, with a restricted picklist. */
export const SALESFORCE_ACCOUNTS = {
  name: "risk_to_salesforce",
  key: "billing_customer_id",
  destination: { type: "salesforce", object: "Account", match: { field: "Billing_Customer_Id__c" } },
  fields: { band: { to: "Churn_Risk_Band__c", allowed: ["low", "medium", "high"] }, reason: "Risk_Reason_Code__c" },
} as const satisfies ContractInput;

/** A contract spec: the base with `overrides` on top, parsed (so defaults are filled and mistakes throw). */
export function contractSpec(base: ContractInput, overrides: Partial<ContractInput> = {}): ContractSpec {
  return contractSchema.parse({ ...base, ...overrides });
}

/** A contract declared on the model `model` (its relation as the warehouse names it). */
export function contractOn(model: { name: string; relation?: string }, base: ContractInput = HUBSPOT_PEOPLE, overrides: Partial<ContractInput> = {}): Contract {
  return {
    spec: contractSpec(base, overrides),
    model: { uniqueId: `model.t.${model.name}`, name: model.name, relation: model.relation ?? `"${model.name}"`, file: `models/${model.name}.yml` },
  };
}
