/**
 * Keys mean the same thing everywhere, through the real CLI on DuckDB and PostgreSQL: keys are compared the way the
 * destination compares them (HubSpot emails and unique case-insensitive Salesforce external ids ignore case; a
 * case-sensitive or non-unique external id does not), two rows whose keys collide under that rule are both rejected
 * and never written, a collision never clears the other row's record, and a timestamp key's text does not depend on
 * the syncer's time zone.
 */
import { afterEach, describe, expect, it } from "vitest";
import { startHubSpotEmulator, type HubSpotEmulator } from "../src/emulators/hubspot/index.ts";
import { DEFAULT_SOBJECTS } from "../src/emulators/salesforce/describe.ts";
import { startSalesforceEmulator, type SalesforceEmulator } from "../src/emulators/salesforce/index.ts";
import { integrationPortalProperties } from "../scripts/hubspot-portal.ts";
import { runCli, syncArgs } from "./support/cli.ts";
import { ENGINES, integrationEngine } from "./support/engines.ts";

const TOKEN = "keys-token";
const CONTRACT = "contact_engagement_to_hubspot";
const NODE = "model.activation_integration_tests.contact_engagement";
const AMARA = "amara.singh@fathomrobotics.ai";
const ZOE = "zoe.kim@harborcoffee.com";
const SF = { SALESFORCE_CLIENT_ID: "sf-client", SALESFORCE_CLIENT_SECRET: "the-secret" };

let hubspot: HubSpotEmulator | undefined;
let salesforce: SalesforceEmulator | undefined;
afterEach(async () => {
  await hubspot?.close();
  await salesforce?.close();
  hubspot = salesforce = undefined;
});

/** Salesforce Contact with a unique external id Ext_Key__c, case-sensitive or not, beside the default fields. */
async function startSalesforce(caseSensitive: boolean): Promise<SalesforceEmulator> {
  const contact = [...DEFAULT_SOBJECTS.Contact!, { name: "Ext_Key__c", type: "string" as const, length: 255, externalId: true, unique: true, caseSensitive }];
  salesforce = await startSalesforceEmulator({ clientId: SF.SALESFORCE_CLIENT_ID, clientSecret: SF.SALESFORCE_CLIENT_SECRET, sobjects: { Contact: contact } });
  return salesforce;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests rewrite the contract JSON freely
type ContractJson = Record<string, any>;

function toSalesforce(match: string, key = "email"): (c: ContractJson) => void {
  return (c) => {
    c.key = key;
    c.destination = { type: "salesforce", object: "Contact", match: { field: match }, mode: "upsert", on_removed: "keep" };
    c.fields = { first_name: "FirstName", last_name: "LastName" };
    delete c.gates.max_null_rate;
  };
}

describe.each(ENGINES)("keys on %s", (engineName) => {
  const engine = integrationEngine(engineName, { mutable: [CONTRACT] });
  const target = (edit: (c: ContractJson) => void): Promise<string> => engine.copyArtifacts({ manifest: (m) => edit(m.nodes[NODE].config.meta.activation[0]) });

  async function sync(targetDir: string, env: Record<string, string> = {}) {
    const run = await runCli(syncArgs(targetDir, "--select", CONTRACT, "--json", ...engine.args), {
      HUBSPOT_ACCESS_TOKEN: TOKEN,
      HUBSPOT_BASE_PATH: hubspot?.url ?? "",
      ...(salesforce ? { ...SF, SALESFORCE_LOGIN_URL: salesforce.url } : {}),
      ...engine.env(),
      ...env,
    });
    expect(run.stderr).not.toMatch(/\n\s+at .*\.ts:\d+:\d+/);
    return { exitCode: run.exitCode, outcome: run.stdout.startsWith("{") ? JSON.parse(run.stdout).contracts?.[0] : undefined, output: `${run.stdout}\n${run.stderr}` };
  }

  /** Gives Zoe's row Amara's email in upper case: two rows whose keys differ only in case. */
  const collide = (): Promise<void> => engine.mutate(`update ${engine.model(CONTRACT)} set email = upper('${AMARA}') where email = '${ZOE}'`);

  it("HubSpot email: keys differing only in case are one shared key, both rows rejected and neither written", async () => {
    hubspot = await startHubSpotEmulator({ accessToken: TOKEN, properties: integrationPortalProperties });
    await collide();
    const run = await sync(engine.targetPath());
    expect(run.exitCode, run.output).toBe(4);
    expect(run.outcome.counts).toMatchObject({ eligible: 14, created: 14, rejected: 2 });
    expect(run.outcome.rejected).toEqual([{ key: AMARA, reason: "duplicate_key", rows: 2, rule: "case_insensitive" }]);
    expect(hubspot.findByProperty("contacts", "email", AMARA)).toBeUndefined();
    expect(hubspot.records("contacts")).toHaveLength(14);
  });

  it("HubSpot email: a collision never clears the other row's record, and the ledger keeps the canonical key", async () => {
    hubspot = await startHubSpotEmulator({ accessToken: TOKEN, properties: integrationPortalProperties });
    const mirror = await target((c) => Object.assign(c.destination, { mode: "mirror", on_removed: "clear" }));
    expect((await sync(mirror)).exitCode).toBe(0);
    // Zoe's row now spells Amara's key: Zoe's own key left (its record is cleared), Amara's is shared (left alone).
    await collide();
    const second = await sync(mirror);
    expect(second.outcome.counts).toMatchObject({ rejected: 2, removed: 1, created: 0, updated: 0 });
    expect(hubspot.findByProperty("contacts", "email", AMARA)?.properties.firstname).toBe("Amara");
    expect(hubspot.findByProperty("contacts", "email", ZOE)?.properties.firstname ?? "").toBe("");
    // The colliding row goes: Amara's row is alone again, unchanged, and its record was never touched.
    await engine.mutate(`delete from ${engine.model(CONTRACT)} where email = upper('${AMARA}')`);
    const third = await sync(mirror);
    expect(third.exitCode, third.output).toBe(0);
    expect(third.outcome.counts).toMatchObject({ created: 0, updated: 0, removed: 0, rejected: 0 });
    expect(hubspot.findByProperty("contacts", "email", AMARA)?.properties.firstname).toBe("Amara");
    const keys = (await engine.query(`select sync_key from ${engine.ledgerTable("activation_ledger")} where sync_key <> lower(sync_key)`)).map((r) => r.sync_key);
    expect(keys).toEqual([]);
  });

  it("Salesforce unique case-insensitive external id: keys differing only in case are rejected as shared", async () => {
    await startSalesforce(false);
    await collide();
    const run = await sync(await target(toSalesforce("Ext_Key__c")));
    expect(run.exitCode, run.output).toBe(4);
    expect(run.outcome.rejected).toEqual([{ key: AMARA, reason: "duplicate_key", rows: 2, rule: "case_insensitive" }]);
    expect(run.output).toMatch(/"created": 14/);
    expect(salesforce!.records("Contact").map((r) => String(r.Ext_Key__c).toLowerCase())).not.toContain(AMARA);
  });

  it("Salesforce case-sensitive external id: keys differing only in case are two keys, both sent to two records", async () => {
    await startSalesforce(true);
    await collide();
    const run = await sync(await target(toSalesforce("Ext_Key__c")));
    expect(run.exitCode, run.output).toBe(0);
    expect(run.outcome.counts).toMatchObject({ eligible: 16, created: 16, rejected: 0 });
    const keys = salesforce!.records("Contact").map((r) => String(r.Ext_Key__c));
    expect(keys).toContain(AMARA);
    expect(keys).toContain(AMARA.toUpperCase());
  });

  it("a timestamp key renders the same under TZ=Asia/Kolkata and TZ=UTC: the second run changes nothing", async () => {
    await startSalesforce(false);
    // A timestamptz key, distinct per row (minutes before now, so the contract's freshness still holds).
    await engine.mutate(`alter table ${engine.model(CONTRACT)} alter column scored_at type timestamptz`);
    await engine.mutate(
      `update ${engine.model(CONTRACT)} set scored_at = current_timestamp - interval '1 minute' * s.n
        from (select email as e, row_number() over (order by email) as n from ${engine.model(CONTRACT)}) as s where email = s.e`,
    );
    const keyed = await engine.copyArtifacts({
      manifest: (m) => {
        toSalesforce("Ext_Id__c", "scored_at")(m.nodes[NODE].config.meta.activation[0]);
        // The key's unique and not_null tests (launch readiness), as if declared on scored_at.
        for (const node of Object.values(m.nodes) as ContractJson[]) {
          if (node.resource_type === "test" && node.attached_node === NODE && node.column_name === "email") {
            node.column_name = "scored_at";
            if (node.test_metadata?.kwargs) node.test_metadata.kwargs.column_name = "scored_at";
          }
        }
      },
    });
    const first = await sync(keyed, { TZ: "Asia/Kolkata" });
    expect(first.exitCode, first.output).toBe(0);
    expect(first.outcome.counts).toMatchObject({ created: 16 });
    // UTC whatever the syncer's zone (Asia/Kolkata would render +05:30).
    for (const r of salesforce!.records("Contact")) expect(String(r.Ext_Id__c)).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?\+00$/);
    const second = await sync(keyed, { TZ: "UTC" });
    expect(second.exitCode, second.output).toBe(0);
    expect(second.outcome.counts).toMatchObject({ created: 0, updated: 0, unchanged: 16, removed: 0 });
  });
});
