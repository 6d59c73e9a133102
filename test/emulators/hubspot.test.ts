// The HubSpot emulator, driven only through the official @hubspot/api-client (no SDK retries
// or limiter), so the wire format is checked by the same deserializers production code uses.
import { Client } from "@hubspot/api-client";
import { afterEach, describe, expect, it } from "vitest";
import { startHubSpotEmulator, type HubSpotEmulator, type HubSpotEmulatorOptions } from "../../emulators/hubspot/index.ts";

const TOKEN = "emulator-token";
const UPSERT = "POST /crm/v3/objects/{objectType}/batch/upsert";
const READ = "POST /crm/v3/objects/{objectType}/batch/read";
const PROPERTIES = "GET /crm/v3/properties/{objectType}";
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let emu: HubSpotEmulator | undefined;

afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

async function setup(opts: HubSpotEmulatorOptions = {}, token = TOKEN): Promise<{ emu: HubSpotEmulator; client: Client }> {
  emu = await startHubSpotEmulator(opts);
  return { emu, client: new Client({ accessToken: token, basePath: emu.url }) };
}

interface ApiError {
  code: number;
  body: Record<string, unknown>;
  headers: Record<string, string>;
}

/** The SDK throws ApiException{code, body, headers} for every non-2xx answer. */
async function apiError(p: Promise<unknown>): Promise<ApiError> {
  try {
    await p;
  } catch (e) {
    const err = e as Partial<ApiError>;
    if (typeof err.code === "number") return err as ApiError;
    throw e;
  }
  throw new Error("expected the SDK call to throw");
}

interface BatchError {
  status: string;
  category: string;
  message: string;
  errors: { message: string; code?: string; _in?: string }[];
  context?: Record<string, string[]>;
}

/** The SDK types 200 and 207 answers as a union; 207 carries numErrors and errors. */
function errorsOf(res: object): BatchError[] {
  return (res as { errors?: BatchError[] }).errors ?? [];
}

const contact = (email: string, properties: Record<string, string> = {}, trace?: string) => ({
  id: email,
  idProperty: "email",
  properties,
  ...(trace ? { objectWriteTraceId: trace } : {}),
});

describe("HubSpot emulator: batch upsert", () => {
  it("creates then updates by email without duplicating records", async () => {
    const { emu, client } = await setup();
    const first = await client.crm.contacts.batchApi.upsert({
      inputs: [contact("ada@example.com", { firstname: "Ada" }), contact("bob@example.com", { firstname: "Bob" })],
    });
    expect(first.results.map((r) => r._new)).toEqual([true, true]);
    expect(first.results[0]?.createdAt).toBeInstanceOf(Date);
    expect(emu.records("contacts")).toHaveLength(2);
    const ada = emu.findByProperty("contacts", "email", "ada@example.com");
    expect(ada?.properties).toMatchObject({ firstname: "Ada", email: "ada@example.com", hs_object_id: ada?.id });

    // Same emails, different case: HubSpot matches emails case-insensitively.
    const second = await client.crm.contacts.batchApi.upsert({
      inputs: [contact("ADA@example.com", { firstname: "Ada L.", lifecyclestage: "customer" }), contact("cy@example.com", { firstname: "Cy" })],
    });
    expect(second.results.map((r) => [r.id === ada?.id, r._new])).toEqual([
      [true, false],
      [false, true],
    ]);
    const updated = emu.findByProperty("contacts", "email", "ada@example.com");
    expect(emu.records("contacts")).toHaveLength(3);
    expect(updated?.properties).toMatchObject({ firstname: "Ada L.", lifecyclestage: "customer" });
    expect(updated?.createdAt).toBe(ada?.createdAt);
    expect(Date.parse(updated?.updatedAt ?? "")).toBeGreaterThan(Date.parse(ada?.updatedAt ?? ""));

    // Without idProperty the id is the record id; null clears a value.
    const byId = await client.crm.contacts.batchApi.upsert({ inputs: [{ id: ada?.id ?? "", properties: { jobtitle: "CTO", firstname: null as unknown as string } }] });
    expect(byId.results[0]?._new).toBe(false);
    expect(emu.findByProperty("contacts", "hs_object_id", ada?.id ?? "")?.properties).toMatchObject({ jobtitle: "CTO", firstname: "" });
    expect(emu.records("contacts")).toHaveLength(3);
  });

  it("upserts companies by a custom unique property, also via query param, custom types and the dated path", async () => {
    const { emu, client } = await setup({
      properties: {
        companies: [{ name: "company_key", type: "string", hasUniqueValue: true }],
        p_renewals: [
          { name: "renewal_key", type: "string", hasUniqueValue: true },
          { name: "amount", type: "number" },
        ],
      },
    });
    const created = await client.crm.companies.batchApi.upsert({
      inputs: [{ id: "acme", idProperty: "company_key", properties: { name: "Acme", numberofemployees: "12" } }],
    });
    expect(created.results[0]?._new).toBe(true);
    const again = await client.crm.companies.batchApi.upsert({
      inputs: [{ id: "acme", idProperty: "company_key", properties: { name: "Acme Inc" } }],
    });
    expect(again.results[0]).toMatchObject({ _new: false, id: created.results[0]?.id });
    expect(emu.records("0-2")).toHaveLength(1);
    expect(emu.findByProperty("companies", "company_key", "acme")?.properties).toMatchObject({ name: "Acme Inc", numberofemployees: "12" });

    const viaQuery = await client.apiRequest({
      method: "POST",
      path: "/crm/v3/objects/companies/batch/upsert",
      qs: { idProperty: "company_key" },
      body: { inputs: [{ id: "acme", properties: { industry: "Retail" } }] },
    });
    expect(viaQuery.status).toBe(200);
    expect(emu.records("companies")).toHaveLength(1);
    expect(emu.findByProperty("companies", "company_key", "acme")?.properties.industry).toBe("Retail");

    const custom = await client.crm.objects.batchApi.upsert("p_renewals", {
      inputs: [{ id: "r-1", idProperty: "renewal_key", properties: { amount: "99.5" } }],
    });
    expect(custom.results[0]?._new).toBe(true);
    const dated = await client.apiRequest({
      method: "POST",
      path: "/crm/objects/2026-03/p_renewals/batch/upsert",
      body: { inputs: [{ id: "r-1", idProperty: "renewal_key", properties: { amount: "120" } }] },
    });
    expect(dated.status).toBe(200);
    expect(((await dated.json()) as { results: { new: boolean }[] }).results[0]?.new).toBe(false);
    expect(emu.records("p_renewals").map((r) => r.properties.amount)).toEqual(["120"]);
    expect(emu.callCount("POST /crm/objects/{version}/{objectType}/batch/upsert")).toBe(1);

    const unknown = await apiError(client.crm.objects.batchApi.upsert("p_nope", { inputs: [] }));
    expect(unknown.code).toBe(400);
    expect(unknown.body).toMatchObject({ status: "error", category: "VALIDATION_ERROR" });
  });

  it("answers 207 per invalid input, mapped by objectWriteTraceId, while valid inputs land", async () => {
    const { emu, client } = await setup();
    const res = await client.crm.contacts.batchApi.upsert({
      inputs: [
        contact("good@example.com", { firstname: "Good", lifecyclestage: "lead" }, "t-good"),
        contact("not-an-email", { firstname: "Bad" }, "t-email"),
        contact("enum@example.com", { lifecyclestage: "champion" }, "t-enum"),
        contact("ro@example.com", { hs_object_id: "5", favourite_colour: "red" }, "t-props"),
        contact("num@example.com", { firstname: "N" }),
      ],
    });
    expect("numErrors" in res && res.numErrors).toBe(3);
    expect(res.results.map((r) => r.objectWriteTraceId)).toEqual(["t-good", undefined]);
    const errors = errorsOf(res);
    const byTrace = new Map(errors.map((e) => [e.context?.objectWriteTraceId?.[0], e]));
    expect(byTrace.get("t-email")).toMatchObject({ status: "error", category: "VALIDATION_ERROR", errors: [{ code: "INVALID_EMAIL", _in: "email" }] });
    const enumError = byTrace.get("t-enum");
    expect(enumError?.errors[0]?.code).toBe("INVALID_OPTION");
    expect(enumError?.message).toContain("champion was not one of the allowed options: [subscriber, lead, marketingqualifiedlead");
    expect(JSON.parse(enumError?.message.replace("Property values were not valid: ", "") ?? "[]")).toEqual([
      expect.objectContaining({ isValid: false, error: "INVALID_OPTION", name: "lifecyclestage" }),
    ]);
    expect(byTrace.get("t-props")?.errors.map((d) => d.code).sort()).toEqual(["PROPERTY_DOESNT_EXIST", "READ_ONLY_VALUE"]);
    expect(emu.records("contacts").map((r) => r.properties.email).sort()).toEqual(["good@example.com", "num@example.com"]);

    // Without a trace id the error names the input by id; a wholly invalid batch is still a 207.
    const allBad = await client.crm.contacts.batchApi.upsert({ inputs: [contact("x@example.com", { lifecyclestage: "nope" })] });
    expect(allBad.results).toEqual([]);
    expect(errorsOf(allBad)[0]?.context).toEqual({ ids: ["x@example.com"] });
  });

  it("validates number, bool, date and datetime values", async () => {
    const { emu, client } = await setup({
      properties: {
        contacts: [
          { name: "score", type: "number" },
          { name: "vip", type: "bool" },
          { name: "renewal_date", type: "date" },
          { name: "last_seen", type: "datetime" },
        ],
      },
    });
    const res = await client.crm.contacts.batchApi.upsert({
      inputs: [
        contact("ok@example.com", { score: "1.5", vip: "true", renewal_date: "1767225600000", last_seen: "2026-01-01T10:00:00Z" }, "ok"),
        contact("a@example.com", { score: "abc" }, "long"),
        contact("b@example.com", { score: "1.2.3" }, "decimal"),
        contact("c@example.com", { vip: "yes" }, "bool"),
        contact("d@example.com", { renewal_date: "1767225600001" }, "date"),
        contact("e@example.com", { last_seen: "yesterday" }, "datetime"),
      ],
    });
    const codes = Object.fromEntries(errorsOf(res).map((e) => [e.context?.objectWriteTraceId?.[0], e.errors[0]?.code]));
    expect(codes).toEqual({ long: "INVALID_LONG", decimal: "INVALID_DECIMAL", bool: "INVALID_BOOLEAN", date: "INVALID_DATE", datetime: "INVALID_DATETIME" });
    expect(emu.records("contacts")).toHaveLength(1);
  });

  it("rejects a batch with duplicate ids as a whole (400, HubSpot's body)", async () => {
    const { emu, client } = await setup();
    const err = await apiError(
      client.crm.contacts.batchApi.upsert({ inputs: [contact("dup@example.com"), contact("other@example.com"), contact("DUP@example.com")] }),
    );
    expect(err.code).toBe(400);
    expect(err.body).toEqual({
      status: "error",
      message: "Duplicate IDs found in batch input: [dup@example.com]. IDs must be unique",
      correlationId: expect.stringMatching(UUID),
      context: { ids: ["dup@example.com"] },
      category: "VALIDATION_ERROR",
    });
    expect(err.headers["content-type"]).toBe("application/json;charset=utf-8");
    expect(emu.records("contacts")).toHaveLength(0);
  });

  it("rejects more than 100 inputs with 400 and writes nothing", async () => {
    const { emu, client } = await setup();
    const inputs = Array.from({ length: 101 }, (_, i) => contact(`u${i}@example.com`));
    const err = await apiError(client.crm.contacts.batchApi.upsert({ inputs }));
    expect(err.code).toBe(400);
    expect(err.body).toMatchObject({ status: "error", category: "VALIDATION_ERROR", message: expect.stringContaining("100") });
    expect(emu.records("contacts")).toHaveLength(0);
    await client.crm.contacts.batchApi.upsert({ inputs: inputs.slice(0, 100) });
    expect(emu.records("contacts")).toHaveLength(100);
    expect(emu.calls().map((c) => [c.inputs, c.status])).toEqual([
      [101, 400],
      [100, 200],
    ]);
  });

  it("refuses to upsert by a non-unique or unknown idProperty", async () => {
    const { emu, client } = await setup();
    const nonUnique = await apiError(client.crm.contacts.batchApi.upsert({ inputs: [{ id: "Ada", idProperty: "firstname", properties: {} }] }));
    expect(nonUnique.code).toBe(400);
    expect(nonUnique.body).toMatchObject({ category: "VALIDATION_ERROR", message: "Unable to perform update/upsert by non-unique firstname property" });
    const unknown = await apiError(client.crm.contacts.batchApi.upsert({ inputs: [{ id: "x", idProperty: "nope", properties: {} }] }));
    expect(unknown.code).toBe(400);
    expect(emu.records("contacts")).toHaveLength(0);
  });

  it("answers 400 in HubSpot's shape for malformed bodies", async () => {
    const { client } = await setup();
    const res = await client.apiRequest({ method: "POST", path: "/crm/v3/objects/contacts/batch/upsert", body: { inputs: [{ id: "a@b.co", properties: { firstname: 3 } }] } });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ status: "error", category: "VALIDATION_ERROR", message: expect.stringContaining("Invalid input JSON") });
  });
});

describe("HubSpot emulator: auth, limits and faults", () => {
  it("answers 401 INVALID_AUTHENTICATION to a wrong token and logs the call", async () => {
    const { emu, client } = await setup({}, "wrong-token");
    const err = await apiError(client.crm.contacts.batchApi.upsert({ inputs: [contact("a@example.com")] }));
    expect(err.code).toBe(401);
    expect(err.body).toMatchObject({ status: "error", category: "INVALID_AUTHENTICATION", correlationId: expect.stringMatching(UUID) });
    expect(emu.records("contacts")).toHaveLength(0);
    expect(emu.calls()).toEqual([expect.objectContaining({ endpoint: UPSERT, status: 401, inputs: 1 })]);
  });

  it("enforces the rolling window: 429 with HubSpot's body, no write, headers count down, recovers", async () => {
    const { emu, client } = await setup({ limits: { perTenSeconds: 5, windowMs: 1000 } });
    const remaining: string[] = [];
    const daily: string[] = [];
    for (let i = 0; i < 5; i++) {
      const info = await client.crm.contacts.batchApi.upsertWithHttpInfo({ inputs: [contact(`c${i}@example.com`)] });
      remaining.push(info.headers["x-hubspot-ratelimit-remaining"] ?? "");
      daily.push(info.headers["x-hubspot-ratelimit-daily-remaining"] ?? "");
      expect(info.headers).toMatchObject({
        "x-hubspot-ratelimit-max": "5",
        "x-hubspot-ratelimit-interval-milliseconds": "1000",
        "x-hubspot-ratelimit-daily": "1000000",
      });
    }
    expect(remaining).toEqual(["4", "3", "2", "1", "0"]);
    expect(daily).toEqual(["999999", "999998", "999997", "999996", "999995"]);

    const err = await apiError(client.crm.contacts.batchApi.upsert({ inputs: [contact("late@example.com")] }));
    expect(err.code).toBe(429);
    expect(err.body).toEqual({
      status: "error",
      message: "You have reached your ten_secondly_rolling limit.",
      errorType: "RATE_LIMIT",
      correlationId: expect.stringMatching(UUID),
      policyName: "TEN_SECONDLY_ROLLING",
    });
    expect(Object.keys(err.body)).toEqual(["status", "message", "errorType", "correlationId", "policyName"]);
    expect(Number(err.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(err.headers["x-hubspot-ratelimit-remaining"]).toBe("0");
    expect(emu.findByProperty("contacts", "email", "late@example.com")).toBeUndefined();
    expect(emu.records("contacts")).toHaveLength(5);

    await new Promise((r) => setTimeout(r, 1100));
    const info = await client.crm.contacts.batchApi.upsertWithHttpInfo({ inputs: [contact("late@example.com")] });
    expect(info.httpStatusCode).toBe(200);
    // The 429 consumed no quota: the window is fresh and the daily count moved by one.
    expect(info.headers["x-hubspot-ratelimit-remaining"]).toBe("4");
    expect(info.headers["x-hubspot-ratelimit-daily-remaining"]).toBe("999994");
    expect(emu.findByProperty("contacts", "email", "late@example.com")).toBeDefined();
    expect(emu.calls().map((c) => c.status)).toEqual([200, 200, 200, 200, 200, 429, 200]);
  });

  it("enforces the daily limit with policyName DAILY", async () => {
    const { emu, client } = await setup({ limits: { daily: 2 } });
    await client.crm.properties.coreApi.getAll("contacts");
    await client.crm.contacts.batchApi.upsert({ inputs: [contact("a@example.com")] });
    const err = await apiError(client.crm.contacts.batchApi.upsert({ inputs: [contact("b@example.com")] }));
    expect(err.code).toBe(429);
    expect(err.body).toEqual({
      status: "error",
      message: "You have reached your daily limit.",
      errorType: "RATE_LIMIT",
      correlationId: expect.stringMatching(UUID),
      policyName: "DAILY",
    });
    expect(err.headers["x-hubspot-ratelimit-daily-remaining"]).toBe("0");
    expect(emu.records("contacts")).toHaveLength(1);
    emu.reset();
    await client.crm.contacts.batchApi.upsert({ inputs: [contact("b@example.com")] });
    expect(emu.records("contacts")).toHaveLength(1);
  });

  it("injects 5xx, spurious 429s and per-record rejections, and can be switched off", async () => {
    const { emu, client } = await setup({ faults: { serverErrorRate: 1, seed: 7 } });
    const err = await apiError(client.crm.contacts.batchApi.upsert({ inputs: [contact("a@example.com")] }));
    expect([502, 503]).toContain(err.code);
    expect(err.body).toMatchObject({ status: "error", correlationId: expect.stringMatching(UUID), category: expect.any(String) });
    expect(emu.records("contacts")).toHaveLength(0);

    emu.setFaults({ rateLimitRate: 1 });
    const limited = await apiError(client.crm.contacts.batchApi.upsert({ inputs: [contact("a@example.com")] }));
    expect(limited.code).toBe(429);
    expect(limited.body).toMatchObject({ policyName: "TEN_SECONDLY_ROLLING", errorType: "RATE_LIMIT" });
    expect(emu.records("contacts")).toHaveLength(0);

    emu.setFaults({ recordRejectRate: 1 });
    const res = await client.crm.contacts.batchApi.upsert({ inputs: [contact("a@example.com", {}, "1"), contact("b@example.com", {}, "2")] });
    expect(res.results).toEqual([]);
    expect(errorsOf(res).map((e) => [e.context?.objectWriteTraceId?.[0], e.category, e.message])).toEqual([
      ["1", "VALIDATION_ERROR", "Injected rejection"],
      ["2", "VALIDATION_ERROR", "Injected rejection"],
    ]);
    expect(emu.records("contacts")).toHaveLength(0);

    emu.setFaults({});
    await client.crm.contacts.batchApi.upsert({ inputs: [contact("a@example.com")] });
    expect(emu.records("contacts")).toHaveLength(1);
    expect(emu.calls().map((c) => c.status)).toEqual([err.code, 429, 207, 200]);
  });

  it("holds each answer for latencyMs (a real API's round trip)", async () => {
    const { emu, client } = await setup({ latencyMs: 150 });
    const started = performance.now();
    await client.crm.contacts.batchApi.upsert({ inputs: [contact("slow@x.com")] });
    expect(performance.now() - started).toBeGreaterThanOrEqual(150);
    expect(emu.findByProperty("contacts", "email", "slow@x.com")).toBeDefined();
  });

  it("replays the same faults for the same seed", async () => {
    const outcome = async (): Promise<number[]> => {
      const { emu, client } = await setup({ faults: { serverErrorRate: 0.5, seed: 42 } });
      for (let i = 0; i < 12; i++) await client.crm.properties.coreApi.getAll("contacts").catch(() => undefined);
      const statuses = emu.calls().map((c) => c.status);
      await emu.close();
      return statuses;
    };
    const a = await outcome();
    const b = await outcome();
    expect(a).toEqual(b);
    expect(a.some((s) => s >= 500) && a.some((s) => s === 200)).toBe(true);
    emu = undefined;
  });
});

describe("HubSpot emulator: reads, properties and the call log", () => {
  it("serves property definitions the SDK deserializes, with options", async () => {
    const { client } = await setup({ properties: { contacts: [{ name: "tier", type: "enumeration", options: ["gold", "silver"] }] } });
    const { results } = await client.crm.properties.coreApi.getAll("contacts");
    const byName = new Map(results.map((p) => [p.name, p]));
    expect(byName.get("email")).toMatchObject({ type: "string", hasUniqueValue: true, hubspotDefined: true });
    expect(byName.get("lifecyclestage")?.options.map((o) => o.value)).toEqual([
      "subscriber",
      "lead",
      "marketingqualifiedlead",
      "salesqualifiedlead",
      "opportunity",
      "customer",
      "evangelist",
      "other",
    ]);
    expect(byName.get("hs_object_id")?.modificationMetadata?.readOnlyValue).toBe(true);
    expect(byName.get("tier")).toMatchObject({ type: "enumeration", hubspotDefined: false, options: [{ value: "gold", hidden: false }, { value: "silver" }] });
    expect(byName.get("tier")?.createdAt).toBeInstanceOf(Date);
    const companies = await client.crm.properties.coreApi.getAll("0-2");
    expect(companies.results.map((p) => p.name)).toEqual(["name", "domain", "industry", "numberofemployees", "hs_object_id"]);
    const one = await client.crm.properties.coreApi.getByName("contacts", "tier");
    expect(one.options).toHaveLength(2);
  });

  it("batch-reads by email with 207 for missing ids", async () => {
    const { client } = await setup();
    await client.crm.contacts.batchApi.upsert({ inputs: [contact("a@example.com", { firstname: "A", lastname: "Z" })] });
    const res = await client.crm.contacts.batchApi.read({
      inputs: [{ id: "A@example.com" }, { id: "ghost@example.com" }, { id: "void@example.com" }],
      idProperty: "email",
      properties: ["firstname"],
      propertiesWithHistory: [],
    });
    expect(res.results).toHaveLength(1);
    expect(res.results[0]?.properties).toEqual({ hs_object_id: res.results[0]?.id, firstname: "A" });
    expect("numErrors" in res && res.numErrors).toBe(1);
    expect(errorsOf(res)[0]).toMatchObject({
      status: "error",
      category: "OBJECT_NOT_FOUND",
      context: { ids: ["ghost@example.com", "void@example.com"] },
    });
    const ok = await client.crm.contacts.batchApi.read({ inputs: [{ id: res.results[0]?.id ?? "" }], properties: [], propertiesWithHistory: [] });
    expect("numErrors" in ok).toBe(false);
    expect(ok.results[0]?.properties).toMatchObject({ email: "a@example.com", lastname: "Z" });
  });

  it("logs every call with its route template and counts per endpoint", async () => {
    const { emu, client } = await setup();
    await client.crm.contacts.batchApi.upsert({ inputs: [contact("a@example.com")] });
    await client.crm.contacts.batchApi.upsert({ inputs: [contact("b@example.com"), contact("c@example.com")] });
    await client.crm.contacts.batchApi.read({ inputs: [{ id: "a@example.com" }], idProperty: "email", properties: [], propertiesWithHistory: [] });
    await client.crm.properties.coreApi.getAll("contacts");
    const missing = await client.apiRequest({ method: "GET", path: "/crm/v3/nothing-here" });
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ status: "error", category: expect.any(String), correlationId: expect.stringMatching(UUID) });
    expect(emu.callCount(UPSERT)).toBe(2);
    expect(emu.callCount(READ)).toBe(1);
    expect(emu.callCount(PROPERTIES)).toBe(1);
    expect(emu.callCount("UNKNOWN")).toBe(1);
    expect(emu.callCount()).toBe(5);
    expect(emu.calls().map((c) => c.inputs)).toEqual([1, 2, 1, undefined, undefined]);
    expect(emu.calls()[0]).toMatchObject({ method: "POST", path: "/crm/v3/objects/contacts/batch/upsert", endpoint: UPSERT, status: 200 });
    emu.reset();
    expect(emu.callCount()).toBe(0);
    expect(emu.records("contacts")).toEqual([]);
  });
});
