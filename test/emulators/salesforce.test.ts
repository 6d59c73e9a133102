// The Salesforce emulator driven through the official jsforce client, as the syncer will use it.
import jsforce from "jsforce";
import { afterEach, describe, expect, it } from "vitest";
import { startSalesforceEmulator, type SalesforceEmulator, type SalesforceEmulatorOptions } from "../../emulators/salesforce/index.ts";
import { DEFAULT_SOBJECTS } from "../../emulators/salesforce/describe.ts";

/** Billing_Customer_Id__c as a unique external id (case-insensitive: Salesforce's default for a unique text field). */
const UNIQUE_BILLING_ID = { name: "Billing_Customer_Id__c", type: "string" as const, length: 80, externalId: true, unique: true };

type Conn = InstanceType<typeof jsforce.Connection>;
interface SaveResultLike {
  id?: string | null;
  success: boolean;
  created?: boolean;
  errors: { statusCode: string; message: string; fields: string[] }[];
}

const running: SalesforceEmulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((e) => e.close()));
});

async function start(opts: SalesforceEmulatorOptions = {}): Promise<{ emu: SalesforceEmulator; conn: Conn }> {
  const emu = await startSalesforceEmulator(opts);
  running.push(emu);
  return { emu, conn: new jsforce.Connection({ instanceUrl: emu.url, accessToken: emu.accessToken, version: "60.0" }) };
}

function jwt(claims: Record<string, unknown>): string {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
  return `${b64({ alg: "RS256" })}.${b64(claims)}.not-a-real-signature`;
}

async function rejection(p: PromiseLike<unknown>): Promise<Error & { errorCode?: string; name: string; data?: unknown }> {
  try {
    await p;
  } catch (e) {
    return e as Error & { errorCode?: string };
  }
  throw new Error("expected the call to fail");
}

const UPSERT = "PATCH /services/data/{v}/composite/sobjects/{sobject}/{field}";

describe("OAuth", () => {
  it("issues tokens for client_credentials through conn.authorize and serves data with them", async () => {
    const { emu } = await start({ clientId: "cid", clientSecret: "secret" });
    const conn = new jsforce.Connection({ oauth2: { clientId: "cid", clientSecret: "secret", loginUrl: emu.url }, version: "60.0" });
    const user = await conn.authorize({ grant_type: "client_credentials" });
    expect(user.organizationId).toMatch(/^00D[0-9A-Za-z]{15}$/);
    expect(user.id).toMatch(/^005[0-9A-Za-z]{15}$/);
    expect(conn.instanceUrl).toBe(emu.url);
    const res = await conn.query("SELECT Id FROM Account");
    expect(res.totalSize).toBe(0);
  });

  it("rejects a wrong client secret with invalid_client", async () => {
    const { emu } = await start();
    const conn = new jsforce.Connection({ oauth2: { clientId: "emulator-client", clientSecret: "wrong", loginUrl: emu.url } });
    const err = await rejection(conn.authorize({ grant_type: "client_credentials" }));
    expect(err.name).toBe("invalid_client");
  });

  it("accepts a JWT bearer assertion and checks its claims", async () => {
    const { emu } = await start();
    const conn = new jsforce.Connection({ loginUrl: emu.url, version: "60.0" });
    const grant = "urn:ietf:params:oauth:grant-type:jwt-bearer";
    const exp = Math.floor(Date.now() / 1000) + 300;
    const good = { iss: "emulator-client", sub: "integration@example.com", aud: emu.url, exp };
    await conn.authorize({ grant_type: grant, assertion: jwt(good) });
    expect(conn.accessToken).toBeTruthy();
    await expect(conn.sobject("Account").describe()).resolves.toMatchObject({ name: "Account" });

    const expired = await rejection(conn.authorize({ grant_type: grant, assertion: jwt({ ...good, exp: exp - 600 }) }));
    expect(expired.name).toBe("invalid_grant");
    const wrongIssuer = await rejection(conn.authorize({ grant_type: grant, assertion: jwt({ ...good, iss: "someone-else" }) }));
    expect(wrongIssuer.name).toBe("invalid_client");
    const noSubject = await rejection(conn.authorize({ grant_type: grant, assertion: jwt({ ...good, sub: undefined }) }));
    expect(noSubject.name).toBe("invalid_grant");
    const garbage = await rejection(conn.authorize({ grant_type: grant, assertion: "nope" }));
    expect(garbage.name).toBe("invalid_grant");
  });

  it("expires tokens with 401 INVALID_SESSION_ID, and a refreshFn recovers", async () => {
    const { emu } = await start({ accessTokenTtlMs: 100 });
    const login = new jsforce.Connection({ oauth2: { clientId: "emulator-client", clientSecret: "emulator-secret", loginUrl: emu.url } });
    await login.authorize({ grant_type: "client_credentials" });
    await new Promise((r) => setTimeout(r, 150));

    const stale = new jsforce.Connection({ instanceUrl: emu.url, accessToken: login.accessToken ?? "", version: "60.0" });
    const err = await rejection(stale.query("SELECT Id FROM Account"));
    expect(err.errorCode).toBe("INVALID_SESSION_ID");
    expect(emu.calls().at(-1)?.status).toBe(401);

    let refreshes = 0;
    const refreshing = new jsforce.Connection({
      instanceUrl: emu.url,
      accessToken: login.accessToken ?? "",
      version: "60.0",
      refreshFn: (_c, callback) => {
        refreshes += 1;
        login.authorize({ grant_type: "client_credentials" }).then(
          () => callback(null, login.accessToken ?? ""),
          (e: Error) => callback(e),
        );
      },
    });
    await expect(refreshing.query("SELECT Id FROM Account")).resolves.toMatchObject({ totalSize: 0 });
    expect(refreshes).toBe(1);
  });

  it("refuses data requests without a bearer token", async () => {
    const { emu } = await start();
    const res = await fetch(`${emu.url}/services/data/v60.0/limits`);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual([{ message: "Session expired or invalid", errorCode: "INVALID_SESSION_ID" }]);
  });
});

describe("sObject Collections upsert", () => {
  it("creates then updates by external id, case-insensitively (a unique, case-insensitive field), with system fields", async () => {
    const { emu, conn } = await start({ sobjects: { Account: [...DEFAULT_SOBJECTS.Account!, UNIQUE_BILLING_ID] } });
    const created = (await conn.sobject("Account").upsert(
      [
        { Billing_Customer_Id__c: "c-1", Churn_Risk_Band__c: "low" },
        { Billing_Customer_Id__c: "c-2", Churn_Risk_Band__c: "high", Churn_Risk_Score__c: 0.9 },
      ],
      "Billing_Customer_Id__c",
    )) as SaveResultLike[];
    expect(created.map((r) => [r.success, r.created])).toEqual([
      [true, true],
      [true, true],
    ]);
    expect(created[0]?.id).toMatch(/^001\d{12}[A-Z0-5]{3}$/);
    const before = emu.records("Account").find((r) => r.Id === created[0]?.id);
    expect(before).toMatchObject({ Churn_Risk_Band__c: "low", CreatedDate: expect.stringMatching(/\+0000$/) as unknown });

    const updated = (await conn.sobject("Account").upsert([{ Billing_Customer_Id__c: "C-1", Churn_Risk_Band__c: "medium" }], "Billing_Customer_Id__c")) as SaveResultLike[];
    expect(updated).toEqual([{ id: created[0]?.id, success: true, errors: [], created: false }]);
    const after = emu.records("Account").find((r) => r.Id === created[0]?.id);
    expect(after?.Churn_Risk_Band__c).toBe("medium");
    expect(String(after?.SystemModstamp) > String(before?.SystemModstamp)).toBe(true);
    expect(emu.records("Account")).toHaveLength(2);
    expect(emu.callCount(UPSERT)).toBe(2);
    expect(emu.calls().at(-1)).toMatchObject({ method: "PATCH", path: "/services/data/v60.0/composite/sobjects/Account/Billing_Customer_Id__c", status: 200, records: 1 });
  });

  it("matches external ids exactly unless the field is unique and not case-sensitive (as its describe says)", async () => {
    for (const [fields, expected] of [
      [DEFAULT_SOBJECTS.Account!, "created"],
      [[...DEFAULT_SOBJECTS.Account!, { ...UNIQUE_BILLING_ID, caseSensitive: true }], "created"],
      [[...DEFAULT_SOBJECTS.Account!, UNIQUE_BILLING_ID], "updated"],
    ] as const) {
      const { emu, conn } = await start({ sobjects: { Account: [...fields] } });
      const described = (await conn.sobject("Account").describe()).fields.find((f) => f.name === "Billing_Customer_Id__c");
      await conn.sobject("Account").upsert([{ Billing_Customer_Id__c: "c-1", Churn_Risk_Band__c: "low" }], "Billing_Customer_Id__c");
      const [second] = (await conn.sobject("Account").upsert([{ Billing_Customer_Id__c: "C-1", Churn_Risk_Band__c: "high" }], "Billing_Customer_Id__c")) as SaveResultLike[];
      expect(second?.created ? "created" : "updated", JSON.stringify(described)).toBe(expected);
      expect(emu.records("Account")).toHaveLength(expected === "created" ? 2 : 1);
    }
  });

  it("maps each per-record error to its record, in order, and writes only the good ones", async () => {
    const { emu, conn } = await start();
    // Ext_Id__c is not unique: two records may hold one value, and a key matching both is ambiguous.
    const a = emu.insertRecord("Contact", { Ext_Id__c: "dup", LastName: "A" });
    const b = emu.insertRecord("Contact", { Ext_Id__c: "dup", LastName: "B" });
    const results = (await conn.sobject("Contact").upsert(
      [
        { Ext_Id__c: "ok-1", LastName: "Good" },
        { Ext_Id__c: "bad-field", LastName: "X", Nope__c: 1 },
        { Ext_Id__c: "readonly", LastName: "X", CreatedDate: "2024-01-01T00:00:00.000+0000" },
        { Ext_Id__c: "too-long", LastName: "x".repeat(81) },
        { Ext_Id__c: "no-name", FirstName: "Nameless" },
        { Ext_Id__c: "twice", LastName: "First" },
        { Ext_Id__c: "twice", LastName: "Second" },
        { Ext_Id__c: "dup", LastName: "Ambiguous" },
        { Ext_Id__c: "bad-email", LastName: "X", Email: "not-an-email" },
        { Ext_Id__c: "ok-2", LastName: "Good too" },
      ],
      "Ext_Id__c",
    )) as SaveResultLike[];
    expect(results.map((r) => (r.success ? "ok" : r.errors.map((e) => e.statusCode).join("+")))).toEqual([
      "ok",
      "INVALID_FIELD",
      "INVALID_FIELD_FOR_INSERT_UPDATE",
      "STRING_TOO_LONG",
      "REQUIRED_FIELD_MISSING",
      "DUPLICATE_VALUE",
      "DUPLICATE_VALUE",
      "DUPLICATE_EXTERNAL_ID",
      "INVALID_EMAIL_ADDRESS",
      "ok",
    ]);
    expect(results[5]?.errors[0]?.message).toBe("Duplicate external id specified: twice");
    expect(results[7]?.errors[0]).toEqual({
      statusCode: "DUPLICATE_EXTERNAL_ID",
      message: `Ext Id: more than one record found for external id field: [${a.Id}, ${b.Id}]`,
      fields: ["Ext_Id__c"],
    });
    expect(results[4]?.errors[0]?.fields).toEqual(["LastName"]);
    const keys = emu.records("Contact").map((r) => r.Ext_Id__c);
    expect(keys.sort()).toEqual(["dup", "dup", "ok-1", "ok-2"]);
    expect(emu.records("Contact").filter((r) => r.LastName === "Ambiguous")).toHaveLength(0);
  });

  it("rejects a bad restricted-picklist value per record", async () => {
    const { conn } = await start();
    const [r] = (await conn.sobject("Account").upsert([{ Billing_Customer_Id__c: "p", Churn_Risk_Band__c: "severe" }], "Billing_Customer_Id__c")) as SaveResultLike[];
    expect(r?.errors[0]).toMatchObject({ statusCode: "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", fields: ["Churn_Risk_Band__c"] });
  });

  it("rolls everything back with allOrNone and marks the good records ALL_OR_NONE_OPERATION_ROLLED_BACK", async () => {
    const { emu, conn } = await start();
    const seeded = emu.insertRecord("Account", { Billing_Customer_Id__c: "keep", Churn_Risk_Band__c: "low" });
    const results = (await conn.sobject("Account").upsert(
      [
        { Billing_Customer_Id__c: "keep", Churn_Risk_Band__c: "high" },
        { Billing_Customer_Id__c: "new", Churn_Risk_Band__c: "low" },
        { Billing_Customer_Id__c: "broken", Churn_Risk_Band__c: "nope" },
      ],
      "Billing_Customer_Id__c",
      { allOrNone: true },
    )) as SaveResultLike[];
    expect(results.map((r) => r.errors[0]?.statusCode)).toEqual([
      "ALL_OR_NONE_OPERATION_ROLLED_BACK",
      "ALL_OR_NONE_OPERATION_ROLLED_BACK",
      "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
    ]);
    expect(results.every((r) => !r.success)).toBe(true);
    expect(emu.records("Account")).toEqual([seeded]);
  });

  it("refuses more than 200 records with EXCEEDED_ID_LIMIT and writes nothing", async () => {
    const { emu, conn } = await start();
    const records = Array.from({ length: 201 }, (_, i) => ({ Billing_Customer_Id__c: `k${i}` }));
    const err = await rejection(conn.sobject("Account").upsert(records, "Billing_Customer_Id__c"));
    expect(err.errorCode).toBe("EXCEEDED_ID_LIMIT");
    expect(emu.records("Account")).toHaveLength(0);
    expect(emu.calls().at(-1)?.status).toBe(400);
  });

  it("rejects upsert on a field that is not an external id", async () => {
    const { conn } = await start();
    const err = await rejection(conn.sobject("Account").upsert([{ Name: "x" }], "Name"));
    expect(err.errorCode).toBe("INVALID_FIELD");
  });
});

describe("single-record upsert", () => {
  it("answers 201 on create, 200 on update and 300 (MULTIPLE_CHOICES, nothing written) on several matches", async () => {
    const { emu, conn } = await start();
    const created = (await conn.sobject("Account").upsert({ Billing_Customer_Id__c: "one", Churn_Risk_Band__c: "low" }, "Billing_Customer_Id__c")) as SaveResultLike;
    expect(created).toMatchObject({ success: true, created: true });
    expect(emu.calls().at(-1)?.status).toBe(201);
    const updated = (await conn.sobject("Account").upsert({ Billing_Customer_Id__c: "one", Churn_Risk_Band__c: "high" }, "Billing_Customer_Id__c")) as SaveResultLike;
    expect(updated).toMatchObject({ id: created.id, success: true, created: false });
    expect(emu.calls().at(-1)?.status).toBe(200);

    const x = emu.insertRecord("Account", { Billing_Customer_Id__c: "two", Churn_Risk_Band__c: "low" });
    const y = emu.insertRecord("Account", { Billing_Customer_Id__c: "two", Churn_Risk_Band__c: "low" });
    const err = await rejection(conn.sobject("Account").upsert({ Billing_Customer_Id__c: "two", Churn_Risk_Band__c: "high" }, "Billing_Customer_Id__c"));
    expect(err.errorCode).toBe("MULTIPLE_CHOICES");
    expect(err.data).toEqual([`/services/data/v60.0/sobjects/Account/${x.Id}`, `/services/data/v60.0/sobjects/Account/${y.Id}`]);
    expect(emu.records("Account").filter((r) => r.Billing_Customer_Id__c === "two").map((r) => r.Churn_Risk_Band__c)).toEqual(["low", "low"]);
  });

  it("answers 400 with the error body for an invalid record", async () => {
    const { emu, conn } = await start();
    const err = await rejection(conn.sobject("Contact").upsert({ Ext_Id__c: "c", FirstName: "No last name" }, "Ext_Id__c"));
    expect(err.errorCode).toBe("REQUIRED_FIELD_MISSING");
    expect(emu.records("Contact")).toHaveLength(0);
  });
});

describe("describe", () => {
  it("describes objects through jsforce with Salesforce's field keys", async () => {
    const { conn } = await start({ sobjects: { Renewal__c: [{ name: "Key__c", type: "string", externalId: true, unique: true, length: 20 }] } });
    const account = await conn.sobject("Account").describe();
    const band = account.fields.find((f) => f.name === "Churn_Risk_Band__c");
    expect(band).toMatchObject({
      type: "picklist",
      restrictedPicklist: true,
      nillable: true,
      createable: true,
      updateable: true,
      externalId: false,
      calculated: false,
      caseSensitive: false,
      picklistValues: [
        { active: true, value: "low", label: "low", defaultValue: false, validFor: null },
        { active: true, value: "medium", label: "medium", defaultValue: false, validFor: null },
        { active: true, value: "high", label: "high", defaultValue: false, validFor: null },
      ],
    });
    expect(account.fields.find((f) => f.name === "Billing_Customer_Id__c")).toMatchObject({ externalId: true, idLookup: true, unique: false, length: 80 });
    expect(account.fields.find((f) => f.name === "SystemModstamp")).toMatchObject({ type: "datetime", createable: false, updateable: false });
    const contact = await conn.sobject("Contact").describe();
    expect(contact.fields.find((f) => f.name === "LastName")).toMatchObject({ nillable: false, createable: true });
    expect(contact.fields.find((f) => f.name === "Email")).toMatchObject({ type: "email" });
    const custom = await conn.sobject("Renewal__c").describe();
    expect(custom).toMatchObject({ name: "Renewal__c", custom: true });
    expect(custom.fields.find((f) => f.name === "Key__c")).toMatchObject({ externalId: true, unique: true, length: 20 });
    expect(await rejection(conn.sobject("Nope__c").describe())).toMatchObject({ errorCode: "NOT_FOUND" });
  });

  it("honours If-Modified-Since with 304 until touchDescribe", async () => {
    const { emu } = await start();
    const url = `${emu.url}/services/data/v60.0/sobjects/Account/describe`;
    const auth = { Authorization: `Bearer ${emu.accessToken}` };
    const first = await fetch(url, { headers: auth });
    expect(first.status).toBe(200);
    const lastModified = first.headers.get("last-modified") ?? "";
    expect(Date.parse(lastModified)).not.toBeNaN();
    expect(first.headers.get("sforce-limit-info")).toMatch(/^api-usage=\d+\/\d+$/);

    const cached = await fetch(url, { headers: { ...auth, "If-Modified-Since": lastModified } });
    expect(cached.status).toBe(304);
    expect(await cached.text()).toBe("");

    emu.touchDescribe("Account");
    const fresh = await fetch(url, { headers: { ...auth, "If-Modified-Since": lastModified } });
    expect(fresh.status).toBe(200);
    expect(Date.parse(fresh.headers.get("last-modified") ?? "")).toBeGreaterThan(Date.parse(lastModified));
    const contact = await fetch(url.replace("Account", "Contact"), { headers: { ...auth, "If-Modified-Since": lastModified } });
    expect(contact.status).toBe(304);
  });
});

describe("query", () => {
  it("reads records back by keys, with IN, =, escaped quotes and no WHERE", async () => {
    const { emu, conn } = await start();
    emu.insertRecord("Account", { Billing_Customer_Id__c: "a", Churn_Risk_Band__c: "low" });
    emu.insertRecord("Account", { Billing_Customer_Id__c: "b", Churn_Risk_Band__c: "high" });
    emu.insertRecord("Account", { Billing_Customer_Id__c: "o'brien", Churn_Risk_Band__c: "medium" });
    const byIn = await conn.query<{ Billing_Customer_Id__c: string; Churn_Risk_Band__c: string }>(
      "SELECT Billing_Customer_Id__c, Churn_Risk_Band__c FROM Account WHERE Billing_Customer_Id__c IN ('A', 'b', 'zzz')",
    );
    expect(byIn.totalSize).toBe(2);
    expect(byIn.records.map((r) => [r.Billing_Customer_Id__c, r.Churn_Risk_Band__c])).toEqual([
      ["a", "low"],
      ["b", "high"],
    ]);
    expect(byIn.records[0]).toMatchObject({ attributes: { type: "Account", url: expect.stringMatching(/^\/services\/data\/v60\.0\/sobjects\/Account\/001/) as unknown } });
    const escaped = await conn.query("SELECT Id, Churn_Risk_Band__c FROM Account WHERE Billing_Customer_Id__c = 'o\\'brien'");
    expect(escaped.records).toHaveLength(1);
    expect(escaped.records[0]).toMatchObject({ Churn_Risk_Band__c: "medium" });
    const all = await conn.query("select Id from Account");
    expect(all.totalSize).toBe(3);
  });

  it("pages over 2000 rows with nextRecordsUrl", async () => {
    const { emu, conn } = await start();
    for (let i = 0; i < 4500; i++) emu.insertRecord("Contact", { Ext_Id__c: `k${i}`, LastName: `L${i}` });
    const first = await conn.query("SELECT Id, Ext_Id__c FROM Contact", { autoFetch: false });
    expect(first).toMatchObject({ totalSize: 4500, done: false });
    expect(first.records).toHaveLength(2000);
    expect(first.nextRecordsUrl).toMatch(/\/services\/data\/v60\.0\/query\/01g[0-9A-Za-z]{15}-2000$/);

    const records: { Ext_Id__c: string }[] = [];
    await new Promise<void>((resolve, reject) => {
      conn
        .query<{ Ext_Id__c: string }>("SELECT Ext_Id__c FROM Contact")
        .on("record", (r: { Ext_Id__c: string }) => records.push(r))
        .on("end", () => resolve())
        .on("error", reject)
        .run({ autoFetch: true, maxFetch: 10_000 });
    });
    expect(records).toHaveLength(4500);
    expect(new Set(records.map((r) => r.Ext_Id__c)).size).toBe(4500);
    expect(emu.callCount("GET /services/data/{v}/query/{locator}")).toBe(2);
  });

  it("rejects SOQL outside the supported subset with MALFORMED_QUERY", async () => {
    const { conn } = await start();
    expect(await rejection(conn.query("SELECT Id FROM Account ORDER BY Name"))).toMatchObject({ errorCode: "MALFORMED_QUERY" });
    expect(await rejection(conn.query("SELECT Id FROM Account WHERE Name = 'unterminated"))).toMatchObject({ errorCode: "MALFORMED_QUERY" });
    expect(await rejection(conn.query("SELECT Bogus__c FROM Account"))).toMatchObject({ errorCode: "INVALID_FIELD" });
  });
});

describe("Bulk API 2.0 ingest", () => {
  it("upserts ~5,000 CSV rows and maps successes and failures to the result files", async () => {
    const { emu, conn } = await start({ bulk: { processingDelayMs: 50 } });
    const existing = emu.insertRecord("Account", { Billing_Customer_Id__c: "b-0", Churn_Risk_Band__c: "low", Risk_Reason_Code__c: "old reason", Name: "Keep me" });
    const lines = ["Billing_Customer_Id__c,Churn_Risk_Band__c,Risk_Reason_Code__c,Name"];
    for (let i = 0; i < 5000; i++) {
      const band = i % 500 === 7 ? "severe" : ["low", "medium", "high"][i % 3];
      // Row 0 updates the seeded record: #N/A clears a field, an empty cell leaves Name alone.
      if (i === 0) lines.push(`b-0,high,#N/A,`);
      else if (i === 1) lines.push(`b-1,low,"reason, with ""quotes""\nand a newline",Quoted`);
      else lines.push(`b-${i},${band},r${i},Account ${i}`);
    }
    const results = await conn.bulk2.loadAndWaitForResults({
      object: "Account",
      operation: "upsert",
      externalIdFieldName: "Billing_Customer_Id__c",
      input: lines.join("\n") + "\n",
      pollInterval: 50,
      pollTimeout: 20_000,
    });
    expect(results.failedResults).toHaveLength(10);
    expect(results.successfulResults).toHaveLength(4990);
    expect(results.unprocessedRecords).toEqual([]);
    const failed = results.failedResults.map((r) => r as unknown as Record<string, string>);
    expect(failed.map((r) => r.Billing_Customer_Id__c)).toEqual(Array.from({ length: 10 }, (_, k) => `b-${k * 500 + 7}`));
    expect(failed[0]?.sf__Error).toMatch(/^INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST:.*severe:Churn_Risk_Band__c --$/);
    expect(failed[0]?.sf__Id).toBe("");

    const ok = results.successfulResults.map((r) => r as unknown as Record<string, string>);
    expect(ok[0]).toMatchObject({ sf__Id: existing.Id, sf__Created: "false", Billing_Customer_Id__c: "b-0" });
    expect(ok[1]).toMatchObject({ sf__Created: "true", Risk_Reason_Code__c: 'reason, with "quotes"\nand a newline' });

    const stored = emu.records("Account");
    expect(stored).toHaveLength(4990); // the seed + 4,999 new rows - 10 failures
    expect(stored.find((r) => r.Id === existing.Id)).toMatchObject({ Churn_Risk_Band__c: "high", Risk_Reason_Code__c: null, Name: "Keep me" });
    expect(stored.find((r) => r.Billing_Customer_Id__c === "b-1")?.Risk_Reason_Code__c).toBe('reason, with "quotes"\nand a newline');
    expect(stored.some((r) => r.Billing_Customer_Id__c === "b-7")).toBe(false);
    expect(emu.calls().find((c) => c.endpoint === "PUT /services/data/{v}/jobs/ingest/{id}/batches")).toMatchObject({ status: 201, records: 5000 });
  });

  it("goes through Open -> UploadComplete/InProgress -> JobComplete with counts", async () => {
    const { emu, conn } = await start({ bulk: { processingDelayMs: 300 } });
    const job = conn.bulk2.createJob({ object: "Contact", operation: "insert" });
    const opened = await job.open();
    expect(opened).toMatchObject({ state: "Open", object: "Contact", operation: "insert", contentType: "CSV", lineEnding: "LF", columnDelimiter: "COMMA", apiVersion: 60 });
    await job.uploadData("LastName,Email\nOne,one@example.com\n,two@example.com\n");
    await job.close();
    const during = await job.check();
    expect(["UploadComplete", "InProgress"]).toContain(during.state);
    expect(emu.records("Contact")).toHaveLength(0);
    await job.poll(50, 5000);
    const done = await job.check();
    expect(done).toMatchObject({ state: "JobComplete", numberRecordsProcessed: 2, numberRecordsFailed: 1 });
    const failed = await job.getFailedResults();
    expect((failed[0] as unknown as Record<string, string>).sf__Error).toMatch(/^REQUIRED_FIELD_MISSING:/);
    await job.delete();
    expect(await rejection(job.check())).toMatchObject({ errorCode: "NOT_FOUND" });
  });

  it("fails the job when the CSV header names an unknown field, writing nothing", async () => {
    const { emu, conn } = await start({ bulk: { processingDelayMs: 10 } });
    const err = await rejection(
      conn.bulk2.loadAndWaitForResults({
        object: "Account",
        operation: "upsert",
        externalIdFieldName: "Billing_Customer_Id__c",
        input: "Billing_Customer_Id__c,Nope__c\nx,1\n",
        pollInterval: 20,
        pollTimeout: 5000,
      }),
    );
    expect(err.message).toContain("InvalidBatch : Field name not found : Nope__c");
    expect(emu.records("Account")).toHaveLength(0);
  });

  it("aborts an open job and reports its rows as unprocessed", async () => {
    const { emu, conn } = await start({ bulk: { processingDelayMs: 10_000 } });
    const job = conn.bulk2.createJob({ object: "Account", operation: "upsert", externalIdFieldName: "Ext_Id__c" });
    await job.open();
    await job.uploadData("Ext_Id__c,Name\ne1,A\ne2,B\n");
    await job.close();
    await job.abort();
    expect((await job.check()).state).toBe("Aborted");
    const unprocessed = await job.getUnprocessedRecords();
    expect(unprocessed).toEqual([
      { Ext_Id__c: "e1", Name: "A" },
      { Ext_Id__c: "e2", Name: "B" },
    ]);
    expect(emu.records("Account")).toHaveLength(0);
  });
});

describe("limits", () => {
  it("sends Sforce-Limit-Info and answers 403 REQUEST_LIMIT_EXCEEDED once the daily allowance is spent", async () => {
    const { emu, conn } = await start({ limits: { dailyApiRequests: 3 } });
    await conn.query("SELECT Id FROM Account");
    expect(conn.limitInfo).toEqual({ apiUsage: { used: 1, limit: 3 } });
    const limits = await conn.request<{ DailyApiRequests: { Max: number; Remaining: number } }>("/limits");
    expect(limits.DailyApiRequests).toEqual({ Max: 3, Remaining: 1 });
    await conn.sobject("Account").upsert([{ Billing_Customer_Id__c: "in" }], "Billing_Customer_Id__c");
    const err = await rejection(conn.sobject("Account").upsert([{ Billing_Customer_Id__c: "out" }], "Billing_Customer_Id__c"));
    expect(err.errorCode).toBe("REQUEST_LIMIT_EXCEEDED");
    expect(err.message).toBe("TotalRequests Limit exceeded.");
    expect(emu.calls().at(-1)?.status).toBe(403);
    expect(emu.records("Account").map((r) => r.Billing_Customer_Id__c)).toEqual(["in"]);
  });

  it("refuses requests beyond maxConcurrent while others are in flight", async () => {
    const { emu, conn } = await start({ limits: { maxConcurrent: 1 }, faults: { timeoutRate: 1, timeoutMs: 2_000 } });
    const abort = new AbortController();
    const held = fetch(`${emu.url}/services/data/v60.0/limits`, { headers: { Authorization: `Bearer ${emu.accessToken}` }, signal: abort.signal }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 100));
    emu.setFaults({});
    const err = await rejection(conn.sobject("Account").upsert([{ Billing_Customer_Id__c: "x" }], "Billing_Customer_Id__c"));
    expect(err).toMatchObject({ errorCode: "REQUEST_LIMIT_EXCEEDED", message: "ConcurrentPerOrgLongTxn Limit exceeded." });
    abort.abort();
    await held;
    await new Promise((r) => setTimeout(r, 50));
    await conn.sobject("Account").upsert([{ Billing_Customer_Id__c: "x" }], "Billing_Customer_Id__c");
    expect(emu.records("Account")).toHaveLength(1);
  });

  it("throttles per window with 429 (or 403) and recovers when the window passes", async () => {
    const { emu, conn } = await start({ limits: { perWindow: 2, windowMs: 300, throttleStatus: 429 } });
    const write = (k: string) => conn.sobject("Account").upsert([{ Billing_Customer_Id__c: k }], "Billing_Customer_Id__c");
    await write("a");
    await write("b");
    const err = await rejection(write("c"));
    expect(err.errorCode).toBe("REQUEST_LIMIT_EXCEEDED");
    expect(emu.calls().at(-1)?.status).toBe(429);
    await new Promise((r) => setTimeout(r, 350));
    await write("d");
    expect(emu.records("Account").map((r) => r.Billing_Customer_Id__c)).toEqual(["a", "b", "d"]);

    const { emu: emu403, conn: conn403 } = await start({ limits: { perWindow: 1, windowMs: 60_000 } });
    await conn403.query("SELECT Id FROM Account");
    await rejection(conn403.sobject("Account").upsert([{ Billing_Customer_Id__c: "x" }], "Billing_Customer_Id__c"));
    expect(emu403.calls().at(-1)?.status).toBe(403);
  });
});

describe("other collections writes", () => {
  it("creates, updates and deletes through jsforce's composite calls", async () => {
    const { emu, conn } = await start();
    const created = (await conn.sobject("Contact").create([{ LastName: "A", Email: "a@example.com" }, { FirstName: "no last name" }])) as SaveResultLike[];
    expect(created.map((r) => r.success)).toEqual([true, false]);
    expect(created[1]?.errors[0]?.statusCode).toBe("REQUIRED_FIELD_MISSING");
    const id = created[0]?.id ?? "";
    const updated = (await conn.sobject("Contact").update([{ Id: id, Title: "CTO" }, { Id: "003000000000999AAA", Title: "x" }])) as SaveResultLike[];
    expect(updated.map((r) => r.success)).toEqual([true, false]);
    expect(updated[1]?.errors[0]?.statusCode).toBe("ENTITY_IS_DELETED");
    // 15-char ids are accepted like Salesforce's.
    await expect(conn.sobject("Contact").retrieve(id.slice(0, 15))).resolves.toMatchObject({ Id: id, Title: "CTO", LastName: "A" });
    const deleted = (await conn.sobject("Contact").destroy([id])) as SaveResultLike[];
    expect(deleted).toEqual([{ id, success: true, errors: [] }]);
    expect(emu.records("Contact")).toHaveLength(0);
  });
});

describe("faults", () => {
  const write = (conn: Conn, k = "k") => conn.sobject("Account").upsert([{ Billing_Customer_Id__c: k }], "Billing_Customer_Id__c");

  it("answers 5xx without writing", async () => {
    const { emu, conn } = await start({ faults: { serverErrorRate: 1 } });
    const err = await rejection(write(conn));
    expect(["SERVER_UNAVAILABLE", "UNKNOWN_EXCEPTION"]).toContain(err.errorCode);
    expect([500, 503]).toContain(emu.calls().at(-1)?.status);
    expect(emu.records("Account")).toHaveLength(0);
  });

  it("drops the connection before the write by default, after it when configured", async () => {
    const { emu, conn } = await start({ faults: { dropConnectionRate: 1 } });
    await rejection(write(conn, "before"));
    expect(emu.calls().at(-1)?.status).toBe(0);
    expect(emu.records("Account")).toHaveLength(0);
    emu.setFaults({ dropConnectionRate: 1, dropConnectionPhase: "after-write" });
    await rejection(write(conn, "after"));
    expect(emu.records("Account").map((r) => r.Billing_Customer_Id__c)).toEqual(["after"]);
  });

  it("holds a request past the client timeout without writing", async () => {
    const { emu, conn } = await start({ faults: { timeoutRate: 1, timeoutMs: 400 } });
    const body = JSON.stringify({ allOrNone: false, records: [{ attributes: { type: "Account" }, Billing_Customer_Id__c: "slow" }] });
    const err = await rejection(
      conn.request(
        { method: "PATCH", url: "/composite/sobjects/Account/Billing_Customer_Id__c", body, headers: { "content-type": "application/json" } },
        { timeout: 150 },
      ),
    );
    // The client gave up (abort) before the emulator's hold ended; after it ends, still nothing was written.
    expect(err.message).toMatch(/abort|timeout/i);
    await new Promise((r) => setTimeout(r, 500));
    expect(emu.records("Account")).toHaveLength(0);
    expect(emu.calls().at(-1)).toMatchObject({ endpoint: UPSERT, status: 0 });
  });

  it("injects UNABLE_TO_LOCK_ROW and record rejections per record, reproducibly from the seed", async () => {
    const { emu, conn } = await start({ faults: { lockRowRate: 1 } });
    const [locked] = (await write(conn)) as SaveResultLike[];
    expect(locked?.errors[0]?.statusCode).toBe("UNABLE_TO_LOCK_ROW");
    emu.setFaults({ recordRejectRate: 1 });
    const [rejected] = (await write(conn)) as SaveResultLike[];
    expect(rejected?.errors[0]?.statusCode).toBe("FIELD_CUSTOM_VALIDATION_EXCEPTION");
    expect(emu.records("Account")).toHaveLength(0);

    const outcome = async () => {
      emu.reset();
      emu.setFaults({ recordRejectRate: 0.5, seed: 42 });
      const records = Array.from({ length: 40 }, (_, i) => ({ Billing_Customer_Id__c: `s${i}` }));
      const results = (await conn.sobject("Account").upsert(records, "Billing_Customer_Id__c")) as SaveResultLike[];
      return results.map((r) => r.success);
    };
    const first = await outcome();
    expect(first.filter(Boolean).length).toBeGreaterThan(5);
    expect(first.filter((s) => !s).length).toBeGreaterThan(5);
    expect(await outcome()).toEqual(first);
  });
});

describe("person edits and call log", () => {
  it("editAsPerson bumps LastModifiedDate and SystemModstamp and marks another user", async () => {
    const { emu, conn } = await start();
    const [r] = (await conn.sobject("Account").upsert([{ Billing_Customer_Id__c: "e", Churn_Risk_Band__c: "low" }], "Billing_Customer_Id__c")) as SaveResultLike[];
    const id = r?.id ?? "";
    const before = emu.records("Account")[0];
    emu.editAsPerson("Account", id, { Churn_Risk_Band__c: "high" });
    const after = emu.records("Account")[0];
    expect(after?.Churn_Risk_Band__c).toBe("high");
    expect(String(after?.SystemModstamp) > String(before?.SystemModstamp)).toBe(true);
    expect(String(after?.LastModifiedDate) > String(before?.LastModifiedDate)).toBe(true);
    expect(after?.LastModifiedById).not.toBe(before?.LastModifiedById);
    const read = await conn.query<{ SystemModstamp: string }>(`SELECT Id, SystemModstamp FROM Account WHERE Id = '${id.slice(0, 15)}'`);
    expect(read.records[0]?.SystemModstamp).toBe(after?.SystemModstamp);
  });

  it("logs calls with route templates and resets state", async () => {
    const { emu, conn } = await start();
    await conn.sobject("Account").describe();
    await conn.query("SELECT Id FROM Account");
    await conn.sobject("Account").upsert([{ Billing_Customer_Id__c: "z" }], "Billing_Customer_Id__c");
    expect(emu.calls().map((c) => c.endpoint)).toEqual([
      "GET /services/data/{v}/sobjects/{sobject}/describe",
      "GET /services/data/{v}/query",
      UPSERT,
    ]);
    expect(emu.callCount()).toBe(3);
    emu.reset();
    expect(emu.callCount()).toBe(0);
    expect(emu.records("Account")).toHaveLength(0);
    await expect(conn.query("SELECT Id FROM Account")).resolves.toMatchObject({ totalSize: 0 });
  });
});
