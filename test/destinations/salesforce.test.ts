/**
 * The Salesforce destination through jsforce against the emulator: sObject Collections upsert in chunks of 200,
 * per-record errors, DUPLICATE_EXTERNAL_ID never guessed, Bulk API 2.0 above the threshold, describe with
 * If-Modified-Since, the mapping check, read-back and removal, OAuth client credentials and JWT with refresh on
 * 401, and the daily limit (403) versus throttling (429).
 */
import { generateKeyPairSync } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import type { Contract } from "../../src/contract/load.ts";
import { contractSchema } from "../../src/contract/schema.ts";
import { createDestination } from "../../src/destinations/index.ts";
import { SalesforceDestination } from "../../src/destinations/salesforce/destination.ts";
import type { DestinationRecord } from "../../src/destinations/types.ts";
import { startSalesforceEmulator, type SalesforceEmulator, type SalesforceEmulatorOptions } from "../../emulators/salesforce/index.ts";
import { pacerFor } from "../../src/engine/pacing.ts";
import { sendRecords } from "../../src/engine/send.ts";
import { SALESFORCE_ACCOUNTS, contractOn } from "../support/contracts.ts";

const running: SalesforceEmulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((e) => e.close()));
});

const UPSERT = "PATCH /services/data/{v}/composite/sobjects/{sobject}/{field}";
const BULK_UPLOAD = "PUT /services/data/{v}/jobs/ingest/{id}/batches";

const contract: Contract = contractOn({ name: "risk" }, SALESFORCE_ACCOUNTS);

async function start(options: SalesforceEmulatorOptions = {}, env: Record<string, string> = {}): Promise<{ emu: SalesforceEmulator; destination: SalesforceDestination }> {
  const emu = await startSalesforceEmulator({ bulk: { processingDelayMs: 20 }, ...options });
  running.push(emu);
  const destination = createDestination(contract, { SALESFORCE_INSTANCE_URL: emu.url, SALESFORCE_ACCESS_TOKEN: emu.accessToken, ...env }) as SalesforceDestination;
  return { emu, destination };
}

function accounts(count: number, band = (i: number) => ["low", "medium", "high"][i % 3]!): DestinationRecord[] {
  return Array.from({ length: count }, (_, i) => ({ key: `b-${i}`, fields: { Churn_Risk_Band__c: band(i), Risk_Reason_Code__c: `r${i}` } }));
}

async function* stream(records: DestinationRecord[]): AsyncIterable<DestinationRecord[]> {
  for (let i = 0; i < records.length; i += 500) yield records.slice(i, i + 500);
}

describe("sObject Collections upsert", () => {
  it("upserts by external id in requests of at most 200 with allOrNone false, creating then updating", async () => {
    const { emu, destination } = await start();
    const first = await sendRecords(destination, stream(accounts(450)), {});
    expect(first).toMatchObject({ created: 450, updated: 0, failed: 0, notSent: 0, bulk: false });
    expect(emu.calls().filter((c) => c.endpoint === UPSERT).map((c) => c.records)).toEqual([200, 200, 50]);
    const second = await sendRecords(destination, stream(accounts(450, () => "high")), {});
    expect(second).toMatchObject({ created: 0, updated: 450 });
    expect(emu.records("Account").every((r) => r.Churn_Risk_Band__c === "high")).toBe(true);
    expect(emu.callCount(BULK_UPLOAD)).toBe(0);
  });

  it("fails bad records alone, and never resolves a key matching two records by guessing", async () => {
    const { emu, destination } = await start();
    const a = emu.insertRecord("Account", { Billing_Customer_Id__c: "dup", Risk_Reason_Code__c: "keep" });
    const b = emu.insertRecord("Account", { Billing_Customer_Id__c: "dup", Risk_Reason_Code__c: "keep" });
    const out = await destination.write([
      { key: "ok", fields: { Churn_Risk_Band__c: "low" } },
      { key: "dup", fields: { Risk_Reason_Code__c: "overwritten?" } },
      { key: "bad", fields: { Churn_Risk_Band__c: "severe" } },
    ]);
    expect(out[0]).toMatchObject({ key: "ok", status: "created" });
    expect(out[1]).toMatchObject({ key: "dup", status: "failed", code: "DUPLICATE_EXTERNAL_ID" });
    expect((out[1] as { message: string }).message).toContain(`[${a.Id}, ${b.Id}]`);
    expect(out[2]).toMatchObject({ key: "bad", status: "failed", code: "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST" });
    expect(emu.records("Account").filter((r) => r.Billing_Customer_Id__c === "dup").map((r) => r.Risk_Reason_Code__c)).toEqual(["keep", "keep"]);
    // The read-back reports both matches, so nothing downstream picks one.
    expect((await destination.readBack(["dup"], [])).get("dup")?.duplicates).toEqual([a.Id, b.Id]);
  });

  it("retries a 429 throttle and lands every row; treats 403 REQUEST_LIMIT_EXCEEDED with no quota left as the end of the run", async () => {
    const throttled = await start({ limits: { perWindow: 2, windowMs: 300, throttleStatus: 429 } });
    const ok = await sendRecords(throttled.destination, stream(accounts(1000)), { baseDelayMs: 20, maxDelayMs: 300 });
    expect(ok).toMatchObject({ created: 1000, failed: 0, notSent: 0 });
    expect(throttled.emu.calls().some((c) => c.status === 429)).toBe(true);

    const daily = await start({ limits: { dailyApiRequests: 3 } });
    const stopped = await sendRecords(daily.destination, stream(accounts(1000)), { baseDelayMs: 1, concurrency: 1 });
    expect(stopped.created).toBe(600);
    expect(stopped.notSent).toBe(400);
    expect(stopped.stopped).toMatch(/daily limit/i);
    // Sforce-Limit-Info said 3/3 after the third request: the fourth was never sent.
    expect(daily.emu.calls().filter((c) => c.status === 403)).toHaveLength(0);
  });
});

describe("a 429 storm", () => {
  // Salesforce sends no Retry-After and documents no per-second rate: an org that throttles far below the pacer's
  // rate (one request per 2 s here, four batches in flight) keeps refusing for as long as the batches ahead of a
  // batch need. A bound on the *number* of 429s per batch is spent in about a second whatever the org needs (sooner,
  // the more batches compete): the third batch's rows used to fail (200 of 1,000 in a loaded CI run). The pacer now
  // learns the org's rate from the 429s and a batch waits while the org still accepts requests.
  it("converges on an org far below the pacer's rate, through event-loop stalls: every row lands once, none fails", async () => {
    const { emu, destination } = await start({ limits: { perWindow: 1, windowMs: 2000, throttleStatus: 429 } });
    const stall = (ms: number): void => {
      const until = Date.now() + ms;
      while (Date.now() < until); // a loaded machine: the event loop does nothing else meanwhile
    };
    const summary = await sendRecords(destination, stream(accounts(600)), {
      baseDelayMs: 20,
      maxDelayMs: 500,
      onAcknowledged: () => {
        stall(150);
        return Promise.resolve();
      },
    });
    expect(summary).toMatchObject({ created: 600, failed: 0, notSent: 0 });
    expect(emu.records("Account")).toHaveLength(600);
    const refused = emu.calls().filter((c) => c.status === 429).length;
    expect(refused).toBeGreaterThan(0);
    expect(summary.throttled).toBe(refused);
    // The org reports no rate: the pacer's ceiling is the one it learned from the 429s.
    expect(pacerFor(destination).current.requestsPerWindow).toBeLessThan(Infinity);
  }, 60_000);
});

describe("Bulk API 2.0", () => {
  it("switches to a bulk job at the threshold and maps successes and failures back to keys", async () => {
    const { emu, destination } = await start({}, { SALESFORCE_BULK_THRESHOLD: "300" });
    emu.insertRecord("Account", { Billing_Customer_Id__c: "b-5", Risk_Reason_Code__c: "old" });
    const rows = accounts(1000, (i) => (i % 100 === 7 ? "severe" : "medium"));
    rows[3]!.fields.Risk_Reason_Code__c = 'with, "quotes"\nand a newline';
    const summary = await sendRecords(destination, stream(rows), {});
    expect(summary).toMatchObject({ bulk: true, created: 989, updated: 1, failed: 10, notSent: 0 });
    expect(summary.failures.map((f) => f.key)).toEqual(Array.from({ length: 10 }, (_, k) => `b-${k * 100 + 7}`));
    expect(summary.failures[0]).toMatchObject({ code: "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST" });
    expect(emu.callCount(BULK_UPLOAD)).toBe(1);
    expect(emu.callCount(UPSERT)).toBe(0);
    expect(emu.records("Account").find((r) => r.Billing_Customer_Id__c === "b-3")?.Risk_Reason_Code__c).toBe('with, "quotes"\nand a newline');

    // Below the threshold the same destination stays on Collections.
    const small = await sendRecords(destination, stream(accounts(299)), {});
    expect(small).toMatchObject({ bulk: false, created: 3, updated: 296, failed: 0 }); // the 3 refused above are created now
    expect(emu.callCount(BULK_UPLOAD)).toBe(1);
  });

  it("reports every row of a job Salesforce fails as failed, with the job's reason", async () => {
    const { emu } = await start();
    const destination = createDestination(
      {
        ...contract,
        spec: contractSchema.parse({ ...contract.spec, fields: { x: "Nope__c" } }),
      },
      { SALESFORCE_INSTANCE_URL: emu.url, SALESFORCE_ACCESS_TOKEN: emu.accessToken, SALESFORCE_BULK_THRESHOLD: "10" },
    );
    const summary = await sendRecords(destination, stream(Array.from({ length: 20 }, (_, i) => ({ key: `k${i}`, fields: { Nope__c: "x" } }))), {});
    expect(summary).toMatchObject({ bulk: true, failed: 20, created: 0 });
    expect(summary.failures[0]).toMatchObject({ code: "BULK_JOB_FAILED", message: expect.stringContaining("Nope__c") as unknown });
    expect(emu.records("Account")).toHaveLength(0);
  });
});

describe("describe, mapping check, drift", () => {
  it("answers a refused describe as the check's problem, naming the object", async () => {
    const { destination } = await start({}, { SALESFORCE_ACCESS_TOKEN: "wrong-token" });
    expect(await destination.checkMapping()).toEqual([expect.stringMatching(/^cannot describe Salesforce object Account: /) as unknown]);
  });

  it("describes with If-Modified-Since: 304 reuses the cached describe until the object changes", async () => {
    const { emu, destination } = await start();
    const first = await destination.describe();
    expect(first.get("Churn_Risk_Band__c")).toEqual({ type: "picklist", writable: true, matchable: false, allowed: ["low", "medium", "high"] });
    expect(first.get("Billing_Customer_Id__c")).toMatchObject({ matchable: true });
    expect(first.get("Industry")?.allowed).toBeUndefined(); // not a restricted picklist
    expect(first.get("CreatedDate")?.writable).toBe(false);
    expect(await destination.describe()).toBe(first);
    emu.touchDescribe("Account");
    const third = await destination.describe();
    expect(third).not.toBe(first);
    const describes = emu.calls().filter((c) => c.endpoint === "GET /services/data/{v}/sobjects/{sobject}/describe");
    expect(describes.map((c) => c.status)).toEqual([200, 304, 200]);
  });

  // Last-Modified on describes is not confirmed by Salesforce's docs for every object: without it the destination
  // describes afresh (never serves a stale cached describe), and a changed picklist is seen at once.
  it("works without Last-Modified on describes: no conditional request, every describe fresh", async () => {
    const { emu, destination } = await start({ describeLastModified: false });
    const first = await destination.describe();
    expect(first.get("Billing_Customer_Id__c")).toMatchObject({ matchable: true });
    expect(await destination.checkMapping()).toEqual([]);
    const second = await destination.describe();
    expect(second).not.toBe(first);
    expect(second).toEqual(first);
    const describes = emu.calls().filter((c) => c.endpoint === "GET /services/data/{v}/sobjects/{sobject}/describe");
    expect(describes.map((c) => c.status)).toEqual([200, 200, 200]);
    expect((await destination.write(accounts(3))).map((o) => o.status)).toEqual(["created", "created", "created"]);
  });

  it("checks the match field is an external id, fields exist and are writable, types fit, allowed values are picklist values", async () => {
    const { emu } = await start();
    const bad = createDestination(
      {
        ...contract,
        spec: contractSchema.parse({
          ...contract.spec,
          destination: { type: "salesforce", object: "Account", match: { field: "Name" } },
          fields: { band: { to: "Churn_Risk_Band__c", allowed: ["low", "severe"] }, created: "CreatedDate", score: "Churn_Risk_Score__c", x: "Nope__c" },
        }),
      },
      { SALESFORCE_INSTANCE_URL: emu.url, SALESFORCE_ACCESS_TOKEN: emu.accessToken },
    );
    expect(await bad.checkMapping({ Churn_Risk_Score__c: "string" })).toEqual([
      "destination.match.field Name does not have unique values in Salesforce Account, so it cannot match records",
      "fields: Churn_Risk_Band__c allows severe in the contract, which Salesforce Account does not accept (its values: low, medium, high)",
      "fields: Salesforce Account field CreatedDate is read-only",
      "fields: Churn_Risk_Score__c is a double field in Salesforce Account; a string column cannot be written to it",
      "fields: Nope__c is not a field of Salesforce Account",
    ]);
    const { destination } = await start();
    expect(await destination.checkMapping()).toEqual([]);
  });

  it("refuses a field that cannot be emptied (nillable: false) when a removal of the contract would clear it", async () => {
    const { emu } = await start();
    const toContacts = createDestination(
      {
        ...contract,
        spec: contractSchema.parse({ ...contract.spec, destination: { type: "salesforce", object: "Contact", match: { field: "Ext_Id__c" } }, fields: { last: "LastName", first: "FirstName" } }),
      },
      { SALESFORCE_INSTANCE_URL: emu.url, SALESFORCE_ACCESS_TOKEN: emu.accessToken },
    );
    expect((await toContacts.describe()).get("LastName")).toMatchObject({ clearable: false });
    expect((await toContacts.describe()).get("FirstName")?.clearable).toBeUndefined();
    // No removal clears: nothing to refuse. One does: LastName (required) is named, FirstName (nillable) is not.
    expect(await toContacts.checkMapping()).toEqual([]);
    expect(await toContacts.checkMapping(undefined, "suppression.on_removed.consent is clear (the default)")).toEqual([
      "fields: LastName is required in Salesforce Contact, so it cannot be cleared, yet suppression.on_removed.consent is clear (the default): declare delete (or keep, with a reason) for those removals",
    ]);
  });
});

describe("read-back and removal", () => {
  it("reads values with Id and SystemModstamp, clears fields by Id without creating, deletes", async () => {
    const { emu, destination } = await start();
    await destination.write(accounts(3));
    // Billing_Customer_Id__c is not unique, so Salesforce matches it exactly: B-0 is not b-0's key.
    expect(await destination.keyRule()).toBe("exact");
    const found = await destination.readBack(["B-0", "b-0", "b-1", "b-2", "zzz"], ["Churn_Risk_Band__c", "Risk_Reason_Code__c"]);
    expect([...found.keys()]).toEqual(["b-0", "b-1", "b-2"]);
    const stored = emu.records("Account").find((r) => r.Billing_Customer_Id__c === "b-0")!;
    expect(found.get("b-0")).toEqual({ key: "b-0", recordId: stored.Id, modifiedAt: stored.SystemModstamp, values: { Churn_Risk_Band__c: "low", Risk_Reason_Code__c: "r0" } });

    const cleared = await destination.remove(["b-0", "gone"], "clear", ["Risk_Reason_Code__c"]);
    expect(cleared.map((o) => o.status)).toEqual(["cleared", "absent"]);
    expect(emu.records("Account").find((r) => r.Billing_Customer_Id__c === "b-0")).toMatchObject({ Risk_Reason_Code__c: null, Churn_Risk_Band__c: "low" });
    const deleted = await destination.remove(["b-1"], "delete", []);
    expect(deleted.map((o) => o.status)).toEqual(["deleted"]);
    expect(emu.records("Account").map((r) => r.Billing_Customer_Id__c).sort()).toEqual(["b-0", "b-2"]);
  });
});

describe("OAuth", () => {
  it("authorizes with client credentials and refreshes through jsforce's refreshFn when the token expires", async () => {
    const emu = await startSalesforceEmulator({ clientId: "cid", clientSecret: "secret", accessTokenTtlMs: 300 });
    running.push(emu);
    const destination = createDestination(contract, { SALESFORCE_LOGIN_URL: emu.url, SALESFORCE_CLIENT_ID: "cid", SALESFORCE_CLIENT_SECRET: "secret" }) as SalesforceDestination;
    expect((await destination.write(accounts(1)))[0]).toMatchObject({ status: "created" });
    expect(destination.tokenGrants).toBe(1);
    await new Promise((r) => setTimeout(r, 400));
    expect((await destination.write(accounts(1)))[0]).toMatchObject({ status: "updated" });
    expect(destination.tokenGrants).toBe(2);
    expect(emu.calls().filter((c) => c.status === 401)).toHaveLength(1);
  });

  // Salesforce allows client credentials only on the org's My Domain: no silent fallback to the shared login host.
  it("refuses client credentials without a My Domain URL, or on login/test.salesforce.com, before any call", () => {
    const creds = { SALESFORCE_CLIENT_ID: "cid", SALESFORCE_CLIENT_SECRET: "secret" };
    for (const env of [creds, { ...creds, SALESFORCE_LOGIN_URL: "https://login.salesforce.com" }, { ...creds, SALESFORCE_INSTANCE_URL: "https://TEST.salesforce.com/" }]) {
      expect(() => createDestination(contract, env)).toThrow(/client credentials flow needs your org's My Domain URL .*refuses it on (login|test)\.salesforce\.com/);
    }
    expect(() => createDestination(contract, { ...creds, SALESFORCE_LOGIN_URL: "https://acme.my.salesforce.com" })).not.toThrow();
  });

  it("refuses Id as the match field where a record would have to be created under it (upsert, create, mirror)", () => {
    const destination = { type: "salesforce", object: "Account", match: { field: "Id" } };
    const messages = (extra: Record<string, unknown>) => {
      const r = contractSchema.safeParse({ name: "c", key: "k", destination: { ...destination, ...extra }, fields: { a: "Name" } });
      return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    };
    expect(messages({ mode: "upsert" })).toEqual([expect.stringMatching(/^destination\.match\.field: Id is Salesforce's record id, not an external id: upsert mode/)]);
    expect(messages({ mode: "mirror", on_removed: "clear" })).toHaveLength(1);
    expect(messages({ mode: "update" })).toEqual([]);
    expect(messages({ mode: "upsert", match: { field: "Account_Key__c" } })).toEqual([]);
  });

  it("authorizes with a JWT bearer assertion signed by the private key (PEM in the environment)", async () => {
    const emu = await startSalesforceEmulator({ clientId: "jwt-client" });
    running.push(emu);
    const { privateKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const pem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const destination = createDestination(contract, {
      SALESFORCE_LOGIN_URL: emu.url,
      SALESFORCE_CLIENT_ID: "jwt-client",
      SALESFORCE_USERNAME: "integration@example.com",
      SALESFORCE_JWT_PRIVATE_KEY: pem,
    }) as SalesforceDestination;
    expect(await destination.checkMapping()).toEqual([]);
    expect(destination.tokenGrants).toBe(1);
    expect(emu.calls()[0]).toMatchObject({ endpoint: "POST /services/oauth2/token", status: 200 });
  });

  it("refuses missing credentials and a bad bulk threshold before any call, without echoing secrets", () => {
    expect(() => createDestination(contract, { SALESFORCE_CLIENT_SECRET: "s3cret" })).toThrow(/SALESFORCE_ACCESS_TOKEN and SALESFORCE_INSTANCE_URL/);
    try {
      createDestination(contract, { SALESFORCE_CLIENT_SECRET: "s3cret" });
    } catch (error) {
      expect(String(error)).not.toContain("s3cret");
    }
    expect(() => createDestination(contract, { SALESFORCE_ACCESS_TOKEN: "t", SALESFORCE_INSTANCE_URL: "http://x", SALESFORCE_BULK_THRESHOLD: "many" })).toThrow(
      /SALESFORCE_BULK_THRESHOLD must be a positive whole number/,
    );
  });
});
