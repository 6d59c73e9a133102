/** Contracts read from the manifest: valid shapes load, invalid ones name the file, model, contract and field. */
import { describe, expect, it } from "vitest";
import { loadContracts, selectContracts } from "../../src/contract/load.ts";
import type { Manifest, ManifestNode } from "../../src/dbt/artifacts.ts";
import { BadInputError } from "../../src/errors.ts";

function model(name: string, meta: Record<string, unknown>, where: "config" | "meta" = "config"): ManifestNode {
  return {
    unique_id: `model.shop.${name}`,
    resource_type: "model",
    name,
    patch_path: "shop://models/marts/schema.yml",
    relation_name: `"db"."main"."${name}"`,
    ...(where === "config" ? { config: { meta } } : { meta }),
  };
}

function manifest(...nodes: ManifestNode[]): Manifest {
  return {
    metadata: { dbt_schema_version: "https://schemas.getdbt.com/dbt/manifest/v12.json", invocation_id: "x" },
    nodes: Object.fromEntries(nodes.map((n) => [n.unique_id, n])),
  };
}

const valid = {
  name: "contacts_to_hubspot",
  key: "email",
  destination: { type: "hubspot", object: "contacts", match: { field: "email" } },
  fields: { first_name: "firstname", plan: { to: "plan_tier" } },
};

function errorOf(fn: () => unknown): BadInputError {
  try {
    fn();
  } catch (error) {
    if (error instanceof BadInputError) return error;
    throw error;
  }
  throw new Error("expected a BadInputError");
}

describe("loadContracts", () => {
  it("reads one or several contracts per model, from config.meta or (older dbt) meta", () => {
    const contracts = loadContracts(
      manifest(
        model("contacts", { activation: [valid, { ...valid, name: "contacts_plan_only", fields: { plan: "plan_tier" } }] }),
        model("companies", { activation: { ...valid, name: "companies_to_hubspot" } }, "meta"),
        model("untouched", { owner: "x" }),
      ),
    );
    expect(contracts.map((c) => [c.spec.name, c.model.name])).toEqual([
      ["companies_to_hubspot", "companies"],
      ["contacts_plan_only", "contacts"],
      ["contacts_to_hubspot", "contacts"],
    ]);
    expect(contracts[2]?.model).toMatchObject({ file: "models/marts/schema.yml", relation: '"db"."main"."contacts"' });
  });

  it("names file, model, contract and field for every problem", () => {
    const error = errorOf(() =>
      loadContracts(
        manifest(
          model("contacts", {
            activation: [
              { ...valid, destination: { type: "hubspot", object: "contacts" } },
              { ...valid, name: "typo_contract", fields: { first_name: "firstname" }, feilds: {} },
            ],
          }),
        ),
      ),
    );
    expect(error.message).toBe("invalid activation contracts");
    expect(error.details).toContainEqual(expect.stringMatching(/^models\/marts\/schema\.yml: model contacts, contract contacts_to_hubspot, field destination\.match: /));
    expect(error.details).toContainEqual(expect.stringMatching(/^models\/marts\/schema\.yml: model contacts, contract typo_contract, field \(contract\): .*feilds/));
  });

  it("rejects an unsupported destination, an empty mapping, a bad name and a duplicate name", () => {
    const error = errorOf(() =>
      loadContracts(
        manifest(
          model("a", { activation: [{ ...valid, destination: { type: "marketo", object: "leads", match: { field: "email" } } }] }),
          model("b", { activation: [{ ...valid, name: "B-Sync", fields: {} }] }),
          model("c", { activation: valid }),
          model("d", { activation: valid }),
        ),
      ),
    );
    const text = error.details.join("\n");
    expect(text).toMatch(/model a, contract contacts_to_hubspot, field destination\.type:/);
    expect(text).toMatch(/model b, contract B-Sync, field name: must be lower snake_case/);
    expect(text).toMatch(/model b, contract B-Sync, field fields: map at least one column/);
    expect(text).toMatch(/model d, contract contacts_to_hubspot, field name: also declared on model c/);
  });

  it("refuses another column mapped to the match field (it would move the record the key finds), but not the key itself", () => {
    const salesforce = { ...valid, name: "accounts_to_salesforce", key: "account_id", destination: { type: "salesforce", object: "Account", match: { field: "External_Id__c" } } };
    const error = errorOf(() =>
      loadContracts(
        manifest(
          model("a", { activation: [{ ...valid, fields: { ...valid.fields, work_email: "email" } }] }),
          model("b", { activation: [{ ...salesforce, fields: { legacy_id: "external_id__c" } }] }),
        ),
      ),
    );
    const text = error.details.join("\n");
    expect(text).toMatch(/model a, contract contacts_to_hubspot, field fields\.work_email: maps to email, the match field: the sync key \(email\)/);
    expect(text).toMatch(/model b, contract accounts_to_salesforce, field fields\.legacy_id: maps to external_id__c, the match field/);
    const loaded = loadContracts(
      manifest(model("c", { activation: [{ ...valid, fields: { ...valid.fields, email: "email" } }] }), model("d", { activation: [{ ...salesforce, fields: { account_id: "External_Id__c", name: "Name" } }] })),
    );
    expect(loaded.map((c) => c.spec.name).sort()).toEqual(["accounts_to_salesforce", "contacts_to_hubspot"]);
  });

  it("refuses alert settings the syncer could not honour: email, an unsigned webhook, no channel, alert-only with nowhere to alert", () => {
    const alerting = (name: string, monitoring: Record<string, unknown>) => ({ ...valid, name, monitoring });
    const error = errorOf(() =>
      loadContracts(
        manifest(
          model("a", {
            activation: [
              alerting("by_email", { alert: { slack_webhook_env: "SLACK_URL", email: ["ops@acme.io"] } }),
              alerting("unsigned", { alert: { webhook_env: "HOOK_URL" } }),
              alerting("no_channel", { alert: {} }),
              alerting("alert_only_nowhere", { alert_only: true }),
              alerting("url_in_contract", { alert: { slack_webhook_env: "https://hooks.slack.com/services/T/B/x" } }),
            ],
          }),
        ),
      ),
    );
    const text = error.details.join("\n");
    expect(text).toMatch(/contract by_email, field monitoring\.alert\.email: email alerts cannot be sent by the syncer/);
    expect(text).toMatch(/contract unsigned, field monitoring\.alert\.webhook_secret_env: a webhook is signed/);
    expect(text).toMatch(/contract no_channel, field monitoring\.alert: name at least one channel/);
    expect(text).toMatch(/contract alert_only_nowhere, field monitoring\.alert_only: an alert-only contract sends nothing but alerts/);
    expect(text).toMatch(/contract url_in_contract, field monitoring\.alert\.slack_webhook_env: must be the name of an environment variable/);
    const ok = loadContracts(manifest(model("b", { activation: [alerting("all_channels", { alert: { slack_webhook_env: "S", webhook_env: "W", webhook_secret_env: "WS", pagerduty_routing_key_env: "PD" }, alert_only: true })] })));
    expect(ok[0]!.spec.monitoring?.alert?.pagerduty_routing_key_env).toBe("PD");
  });

  it("selects by name and refuses names that match no contract", () => {
    const contracts = loadContracts(manifest(model("contacts", { activation: valid })));
    expect(selectContracts(contracts, ["contacts_to_hubspot"])).toHaveLength(1);
    expect(() => selectContracts(contracts, ["nope"])).toThrow(/--select names no contract: nope/);
  });
});
