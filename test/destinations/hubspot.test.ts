/**
 * The HubSpot destination through the official SDK against the emulator: contacts, companies and custom objects,
 * 207 per-record errors, the mapping check and drift from the properties API, read-back, clear/delete, list
 * memberships (audience mode), OAuth with refresh on 401, and rate-limit headers reaching the pacer.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import type { Contract } from "../../src/contract/load.ts";
import { type ContractInput } from "../../src/contract/schema.ts";
import { createDestination, schemaDrift } from "../../src/destinations/index.ts";
import { createHubSpotClient } from "../../src/destinations/hubspot/client.ts";
import { HubSpotDestination, type HubSpotTarget } from "../../src/destinations/hubspot/destination.ts";
import { startHubSpotEmulator, type HubSpotEmulator, type HubSpotEmulatorOptions } from "../../emulators/hubspot/index.ts";
import { pacerFor } from "../../src/engine/pacing.ts";
import { sendRecords } from "../../src/engine/send.ts";
import { DestinationRequestError, type DestinationRecord } from "../../src/destinations/types.ts";
import { contractOn } from "../support/contracts.ts";

const TOKEN = "hubspot-dest-token";
const running: HubSpotEmulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((e) => e.close()));
});

async function emulator(options: HubSpotEmulatorOptions = {}): Promise<HubSpotEmulator> {
  const e = await startHubSpotEmulator({ accessToken: TOKEN, ...options });
  running.push(e);
  return e;
}

function destination(e: HubSpotEmulator, target: Partial<HubSpotTarget> = {}, requestTimeoutMs?: number): HubSpotDestination {
  const connection = { accessToken: TOKEN, basePath: e.url, requestTimeoutMs };
  return new HubSpotDestination(createHubSpotClient(connection), { objectType: "contacts", idProperty: "email", fields: [{ to: "firstname" }], ...target }, connection);
}

function contract(input: Partial<ContractInput> & Pick<ContractInput, "destination" | "fields">): Contract {
  return contractOn({ name: "m" }, { name: "c", key: "k", ...input });
}

async function* once(records: DestinationRecord[]): AsyncIterable<DestinationRecord[]> {
  yield records;
}

const CUSTOM = {
  p_renewals: [
    { name: "renewal_key", type: "string" as const, hasUniqueValue: true },
    { name: "risk_band", type: "enumeration" as const, options: ["low", "medium", "high"] },
    { name: "score", type: "number" as const },
    { name: "computed", type: "string" as const, readOnlyValue: true },
    { name: "owner_name", type: "string" as const },
  ],
};

describe("writes", () => {
  it("upserts contacts, companies by a unique domain, and custom objects, creating then updating", async () => {
    const e = await emulator({ properties: { companies: [{ name: "domain", type: "string", hasUniqueValue: true }], ...CUSTOM } });
    const contacts = destination(e);
    expect(await contacts.write([{ key: "A@x.com", fields: { firstname: "A" } }])).toEqual([{ key: "A@x.com", status: "created", recordId: expect.any(String) as unknown }]);
    expect((await contacts.write([{ key: "a@x.com", fields: { firstname: "A2" } }]))[0]).toMatchObject({ status: "updated" });
    expect(e.findByProperty("contacts", "email", "a@x.com")?.properties.firstname).toBe("A2");

    const companies = destination(e, { objectType: "companies", idProperty: "domain", fields: [{ to: "name" }] });
    expect(await companies.checkMapping()).toEqual([]);
    expect((await companies.write([{ key: "acme.io", fields: { name: "Acme" } }]))[0]).toMatchObject({ status: "created" });
    expect(e.findByProperty("companies", "domain", "acme.io")?.properties.name).toBe("Acme");

    const custom = destination(e, { objectType: "p_renewals", idProperty: "renewal_key", fields: [{ to: "risk_band" }, { to: "score" }] });
    expect(await custom.checkMapping()).toEqual([]);
    const out = await custom.write([
      { key: "r1", fields: { risk_band: "high", score: 0.9 } },
      { key: "r2", fields: { risk_band: "severe", score: 1 } },
      { key: "r3", fields: { risk_band: "low", score: "n/a" } },
    ]);
    expect(out.map((o) => o.status)).toEqual(["created", "failed", "failed"]);
    // 207 per-record errors map back to their rows through objectWriteTraceId, with HubSpot's codes.
    expect(out[1]).toMatchObject({ key: "r2", code: "INVALID_OPTION", message: expect.stringMatching(/severe was not one of the allowed options/) as unknown });
    expect(out[2]).toMatchObject({ key: "r3", code: "INVALID_LONG" });
    expect(e.records("p_renewals")).toHaveLength(1);
  });

  it("drops nothing and fails nothing silently when HubSpot rejects records at random (207)", async () => {
    const e = await emulator({ faults: { recordRejectRate: 0.2, seed: 11 } });
    const rows = Array.from({ length: 500 }, (_, i) => ({ key: `r${i}@x.com`, fields: { firstname: `R${i}` } }));
    const summary = await sendRecords(destination(e), once(rows), {});
    expect(summary.failed).toBeGreaterThan(50);
    expect(summary.created + summary.failed).toBe(500);
    expect(summary.failures.every((f) => f.code === "INJECTED_REJECTION")).toBe(true);
    expect(e.records("contacts")).toHaveLength(summary.created);
  });

  // HubSpot's spec makes `objectWriteTraceId` optional and its documented 207 example echoes none (nor an
  // `errors[].code`): results must still map to their rows, or every write would be reported failed (or worse,
  // misattributed). Same batch both ways; the outcomes per row must not depend on the echo.
  it.each(["echo", "documented"] as const)("maps results and 207 errors to their rows when HubSpot answers %s", async (answers) => {
    const e = await emulator({ answers, properties: CUSTOM });
    const d = destination(e, { objectType: "p_renewals", idProperty: "renewal_key", fields: [{ to: "risk_band" }] });
    await d.write([{ key: "r0", fields: { risk_band: "low" } }]);
    const out = await d.write([
      { key: "r1", fields: { risk_band: "high" } },
      { key: "r2", fields: { risk_band: "severe" } },
      { key: "r0", fields: { risk_band: "medium" } },
      { key: "r3", fields: { risk_band: "nope" } },
    ]);
    expect(out.map((o) => [o.key, o.status])).toEqual([
      ["r1", "created"],
      ["r2", "failed"],
      ["r0", "updated"],
      ["r3", "failed"],
    ]);
    const ids = new Map(e.records("p_renewals").map((r) => [r.properties.renewal_key, r.id]));
    expect(out[0]).toMatchObject({ recordId: ids.get("r1") });
    expect(out[2]).toMatchObject({ recordId: ids.get("r0") });
    // Without a detail code the dead letter's code is HubSpot's documented category, and the message says why.
    expect(out[1]).toMatchObject({ code: answers === "echo" ? "INVALID_OPTION" : "VALIDATION_ERROR", message: expect.stringMatching(/severe was not one of the allowed options/) as unknown });
    const raw = e.calls().filter((c) => c.endpoint === "POST /crm/v3/objects/{objectType}/batch/upsert").length;
    expect(raw).toBe(2);
  });

  it("maps results by email case-insensitively and clears by record id when HubSpot echoes no trace id", async () => {
    const e = await emulator({ answers: "documented" });
    const d = destination(e, { fields: [{ to: "firstname" }, { to: "jobtitle" }] });
    const out = await d.write([
      { key: "Ann@X.com", fields: { firstname: "Ann", jobtitle: "CTO" } },
      { key: "bob@x.com", fields: { firstname: "Bob", jobtitle: "CEO" } },
    ]);
    expect(out.map((o) => [o.key, o.status])).toEqual([
      ["Ann@X.com", "created"],
      ["bob@x.com", "created"],
    ]);
    expect((await d.remove(["ann@x.com"], "clear", ["jobtitle"])).map((o) => o.status)).toEqual(["cleared"]);
    expect(e.findByProperty("contacts", "email", "ann@x.com")?.properties).toMatchObject({ firstname: "Ann", jobtitle: "" });
    expect(e.findByProperty("contacts", "email", "bob@x.com")?.properties).toMatchObject({ jobtitle: "CEO" });
  });

  // HubSpot documents its X-HubSpot-RateLimit-* headers, not Retry-After: throttled calls must land either way.
  it.each([true, false])("lands every row through spurious 429s whether or not HubSpot sends Retry-After (%s)", async (retryAfter) => {
    const e = await emulator({ retryAfter, faults: { rateLimitRate: 0.3, seed: 3 } });
    const rows = Array.from({ length: 400 }, (_, i) => ({ key: `q${i}@x.com`, fields: { firstname: `Q${i}` } }));
    const summary = await sendRecords(destination(e), once(rows), { baseDelayMs: 5 });
    const throttled = e.calls().filter((c) => c.status === 429);
    expect(throttled.length).toBeGreaterThan(0);
    expect([summary.created, summary.failed, summary.notSent]).toEqual([400, 0, 0]);
    expect(e.records("contacts")).toHaveLength(400);
  });

  // The SDK has no timeout of its own: without ours, a call HubSpot never answers holds the run for 10 minutes.
  it("abandons a request with no answer after the request timeout, and the resend lands (no duplicate)", async () => {
    const e = await emulator({ faults: { timeoutRate: 0.2, timeoutMs: 600_000, seed: 5 } });
    const rows = Array.from({ length: 500 }, (_, i) => ({ key: `t${i}@x.com`, fields: { firstname: `T${i}` } }));
    const summary = await sendRecords(destination(e, {}, 300), once(rows), { baseDelayMs: 10 });
    expect(e.calls().filter((c) => c.timedOut).length).toBeGreaterThan(0);
    expect(summary.retries).toBeGreaterThan(0);
    expect([summary.created + summary.updated, summary.failed, summary.notSent]).toEqual([500, 0, 0]);
    expect(e.records("contacts")).toHaveLength(500);
  }, 60_000);
});

// The batch upsert goes out as raw JSON, not through the SDK's typed call: every refusal must still become the
// error the engine acts on (wait, split, stop or retry), and every answer's rate-limit headers must reach the pacer.
describe("batch upsert answers, raw path", () => {
  const ROW = [{ key: "a@x.com", fields: { firstname: "A" } }];

  async function refusal(write: Promise<unknown>): Promise<DestinationRequestError> {
    const error: unknown = await write.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DestinationRequestError);
    return error as DestinationRequestError;
  }

  /** A loopback server answering every call with one fixed status, headers and body (what the emulator never sends). */
  async function fixedAnswer(status: number, body: string): Promise<{ url: string; server: Server }> {
    const server = createServer((req, res) => {
      req.resume();
      req.on("end", () => res.writeHead(status, { "Content-Type": "application/json", "X-HubSpot-RateLimit-Max": "150", "X-HubSpot-RateLimit-Interval-Milliseconds": "10000" }).end(body));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
  }

  it("answers a 429 with Retry-After as a retryable RATE_LIMIT that waits that long, and the pacer sees its headers", async () => {
    const e = await emulator({ limits: { perTenSeconds: 250 }, faults: { rateLimitRate: 1 } });
    const d = destination(e);
    const pacer = pacerFor(d);
    const error = await refusal(d.write(ROW));
    expect(error).toMatchObject({ status: 429, code: "RATE_LIMIT", retryable: true, exhausted: false, splittable: false, retryAfterMs: 1000 });
    expect(error.throttled).toBe(true);
    // The refused call's X-HubSpot-RateLimit-Max corrected the documented 100 per 10 s; nothing was accepted.
    expect(pacer.current.requestsPerWindow).toBe(250);
    expect(pacer.lastAcceptedAt).toBeUndefined();
    expect(e.records("contacts")).toEqual([]);
  });

  it("answers a 429 without Retry-After with the window HubSpot's headers give", async () => {
    const e = await emulator({ retryAfter: false, limits: { windowMs: 4_000 }, faults: { rateLimitRate: 1 } });
    expect(await refusal(destination(e).write(ROW))).toMatchObject({ status: 429, code: "RATE_LIMIT", retryable: true, retryAfterMs: 4_000 });
  });

  it("answers the daily limit's 429 as DAILY_LIMIT: nothing more today, the run stops", async () => {
    const e = await emulator({ limits: { daily: 1 } });
    const d = destination(e);
    const pacer = pacerFor(d);
    expect((await d.write(ROW))[0]).toMatchObject({ status: "created" });
    expect(pacer.current.dailyRemaining).toBe(0);
    // That pacer would now refuse to send at all; a fresh one (another run) has not heard, so HubSpot answers.
    const error = await refusal(destination(e).write([{ key: "b@x.com", fields: { firstname: "B" } }]));
    expect(error).toMatchObject({ status: 429, code: "DAILY_LIMIT", exhausted: true, retryable: false });
    expect(e.findByProperty("contacts", "email", "b@x.com")).toBeUndefined();
  });

  it("answers a server error as retryable, a refused token as exhausted, a network failure as retryable", async () => {
    const e = await emulator({ faults: { serverErrorRate: 1 } });
    const server = await refusal(destination(e).write(ROW));
    expect(server).toMatchObject({ code: "SERVER_ERROR", retryable: true, exhausted: false, message: expect.stringMatching(/^HubSpot 50[23] INTERNAL_ERROR: Injected server error/) as unknown });
    expect([502, 503]).toContain(server.status);

    const other = await emulator({ accessToken: "someone-else" });
    expect(await refusal(destination(other).write(ROW))).toMatchObject({ status: 401, code: "UNAUTHORIZED", exhausted: true, retryable: false });

    const closed = await startHubSpotEmulator({ accessToken: TOKEN });
    await closed.close();
    expect(await refusal(destination(closed).write(ROW))).toMatchObject({ status: undefined, code: "NETWORK", retryable: true });
  });

  it("answers a 400 for the whole batch as splittable, with HubSpot's category as the code", async () => {
    const e = await emulator({ invalidValues: "whole-batch", properties: CUSTOM });
    const d = destination(e, { objectType: "p_renewals", idProperty: "renewal_key", fields: [{ to: "risk_band" }] });
    const error = await refusal(
      d.write([
        { key: "r1", fields: { risk_band: "low" } },
        { key: "r2", fields: { risk_band: "severe" } },
      ]),
    );
    expect(error).toMatchObject({ status: 400, code: "VALIDATION_ERROR", splittable: true, retryable: false, exhausted: false, message: expect.stringMatching(/Property values were not valid/) as unknown });
    // Split by the engine, the valid record lands and the invalid one alone fails.
    const summary = await sendRecords(d, once([{ key: "r1", fields: { risk_band: "low" } }, { key: "r2", fields: { risk_band: "severe" } }]), {});
    expect([summary.created, summary.failed]).toEqual([1, 1]);
    expect(e.records("p_renewals").map((r) => r.properties.renewal_key)).toEqual(["r1"]);
  });

  it.each([
    ["JSON of another shape", '{"status":"COMPLETE"}'],
    ["not JSON", "<html>upstream hiccup</html>"],
  ])("fails every record UNEXPECTED_RESPONSE when a 200 answer is %s", async (_what, body) => {
    const { url, server } = await fixedAnswer(200, body);
    try {
      const connection = { accessToken: TOKEN, basePath: url };
      const d = new HubSpotDestination(createHubSpotClient(connection), { objectType: "contacts", idProperty: "email", fields: [{ to: "firstname" }] }, connection);
      const pacer = pacerFor(d);
      const out = await d.write([...ROW, { key: "b@x.com", fields: { firstname: "B" } }]);
      expect(out).toEqual(["a@x.com", "b@x.com"].map((key) => ({ key, status: "failed", code: "UNEXPECTED_RESPONSE", message: "HubSpot's answer did not have the batch-upsert shape" })));
      expect(pacer.current.requestsPerWindow).toBe(150);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("clears through the same path: a throttled clear throws to be retried, a refused one fails its records", async () => {
    const e = await emulator({ properties: CUSTOM });
    const d = destination(e, { objectType: "p_renewals", idProperty: "renewal_key", fields: [{ to: "risk_band" }, { to: "owner_name" }] });
    await d.write([{ key: "r1", fields: { risk_band: "low", owner_name: "Ann" } }]);
    e.setFaults({ rateLimitRate: 1, pathPattern: "/batch/upsert$" });
    expect(await refusal(d.remove(["r1"], "clear", ["owner_name"]))).toMatchObject({ code: "RATE_LIMIT", retryable: true, retryAfterMs: 1000 });
    e.setFaults({ serverErrorRate: 1, pathPattern: "/batch/upsert$" });
    expect(await refusal(d.remove(["r1"], "clear", ["owner_name"]))).toMatchObject({ code: "SERVER_ERROR", retryable: true });
    e.setFaults({});
    // A property that is not writable: HubSpot refuses the clear; the record is reported failed, not cleared.
    const refused = await d.remove(["r1"], "clear", ["computed"]);
    expect(refused).toEqual([{ key: "r1", status: "failed", code: "REJECTED", message: expect.stringMatching(/computed is a read only property/) as unknown }]);
    expect((await d.remove(["r1"], "clear", ["owner_name"]))[0]).toMatchObject({ key: "r1", status: "cleared" });
    expect(e.records("p_renewals")[0]?.properties).toMatchObject({ risk_band: "low", owner_name: "" });
  });
});

describe("mapping check and drift (properties API)", () => {
  it("reports a missing, read-only or mistyped field, a non-unique match field, and contract values HubSpot refuses", async () => {
    const e = await emulator({ properties: CUSTOM });
    const bad = destination(e, {
      objectType: "p_renewals",
      idProperty: "owner_name",
      fields: [{ to: "risk_band", allowed: ["low", "medium", "high", "critical"] }, { to: "computed" }, { to: "nope" }, { to: "score" }],
    });
    expect(await bad.checkMapping({ score: "string", risk_band: "string" })).toEqual([
      "destination.match.field owner_name does not have unique values in HubSpot p_renewals, so it cannot match records",
      "fields: risk_band allows critical in the contract, which HubSpot p_renewals does not accept (its values: low, medium, high)",
      "fields: HubSpot p_renewals field computed is read-only",
      "fields: nope is not a field of HubSpot p_renewals",
      "fields: score is a number field in HubSpot p_renewals; a string column cannot be written to it",
    ]);
    const good = destination(e, { objectType: "p_renewals", idProperty: "renewal_key", fields: [{ to: "risk_band", allowed: ["low", "high"] }, { to: "score" }] });
    expect(await good.checkMapping({ score: "number", risk_band: "string" })).toEqual([]);
    expect(await good.checkMapping()).toEqual([]);
  });

  it("answers a refused describe as the check's problem, and throws a retryable one for the run to retry", async () => {
    const e = await emulator();
    const refused = new HubSpotDestination(createHubSpotClient({ accessToken: "wrong-token", basePath: e.url }), { objectType: "contacts", idProperty: "email", fields: [{ to: "firstname" }] }, {
      accessToken: "wrong-token",
      basePath: e.url,
    });
    expect(await refused.checkMapping()).toEqual([expect.stringMatching(/^cannot read the properties of HubSpot object contacts: HubSpot 401/) as unknown]);
    e.setFaults({ serverErrorRate: 1 });
    await expect(destination(e).checkMapping()).rejects.toMatchObject({ retryable: true });
  });

  it("describes type, writability and enumeration options, and reports drift between two describes", async () => {
    const before = await destination(await emulator({ properties: CUSTOM }), { objectType: "p_renewals", idProperty: "renewal_key" }).describe();
    expect(before.get("risk_band")).toEqual({ type: "enumeration", writable: true, matchable: false, allowed: ["low", "medium", "high"] });
    expect(before.get("renewal_key")).toMatchObject({ type: "string", matchable: true });
    const changed = {
      p_renewals: [
        { name: "renewal_key", type: "string" as const, hasUniqueValue: true },
        { name: "risk_band", type: "enumeration" as const, options: ["low", "high"] },
        { name: "score", type: "string" as const },
        { name: "owner_name", type: "string" as const, readOnlyValue: true },
      ],
    };
    const after = await destination(await emulator({ properties: changed }), { objectType: "p_renewals", idProperty: "renewal_key" }).describe();
    const drift = schemaDrift(before, after, ["risk_band", "score", "owner_name", "computed", "renewal_key"]);
    expect(drift.map((d) => [d.field, d.change])).toEqual([
      ["risk_band", "allowed"],
      ["score", "type"],
      ["owner_name", "writable"],
      ["computed", "removed"],
    ]);
    expect(drift[0]?.droppedValues).toEqual(["medium"]);
  });
});

describe("read-back and removal", () => {
  it("reads current values, record id and last-modified per key, case-insensitively for email", async () => {
    const e = await emulator();
    const d = destination(e, { fields: [{ to: "firstname" }, { to: "lastname" }] });
    await d.write([
      { key: "a@x.com", fields: { firstname: "A", lastname: "One" } },
      { key: "b@x.com", fields: { firstname: "B" } },
    ]);
    const found = await d.readBack(["A@X.com", "b@x.com", "missing@x.com"], ["firstname", "lastname"]);
    expect([...found.keys()]).toEqual(["A@X.com", "b@x.com"]);
    const a = e.findByProperty("contacts", "email", "a@x.com")!;
    expect(found.get("A@X.com")).toEqual({ key: "A@X.com", recordId: a.id, modifiedAt: a.updatedAt, values: { firstname: "A", lastname: "One" } });
    expect(found.get("b@x.com")?.values).toEqual({ firstname: "B", lastname: null });
  });

  it("clears fields on existing records without creating absent ones, and deletes (archives) records", async () => {
    const e = await emulator();
    const d = destination(e, { fields: [{ to: "firstname" }, { to: "jobtitle" }] });
    await d.write([
      { key: "a@x.com", fields: { firstname: "A", jobtitle: "CTO" } },
      { key: "b@x.com", fields: { firstname: "B", jobtitle: "CEO" } },
    ]);
    const cleared = await d.remove(["a@x.com", "ghost@x.com"], "clear", ["jobtitle"]);
    expect(cleared.map((o) => [o.key, o.status])).toEqual([
      ["a@x.com", "cleared"],
      ["ghost@x.com", "absent"],
    ]);
    expect(e.findByProperty("contacts", "email", "a@x.com")?.properties).toMatchObject({ firstname: "A", jobtitle: "" });
    expect(e.findByProperty("contacts", "email", "ghost@x.com")).toBeUndefined();
    const deleted = await d.remove(["b@x.com"], "delete", []);
    expect(deleted).toEqual([{ key: "b@x.com", status: "deleted", recordId: expect.any(String) as unknown }]);
    expect(e.records("contacts").map((r) => r.properties.email)).toEqual(["a@x.com"]);
    expect(e.callCount("POST /crm/v3/objects/{objectType}/batch/archive")).toBe(1);
  });
});

describe("audience mode (lists v3 memberships)", () => {
  it("adds and removes records to a MANUAL list by key, and fails keys with no record", async () => {
    const e = await emulator({ lists: [{ listId: "42", name: "Renewal risk" }, { listId: "7", name: "Everyone", processingType: "DYNAMIC" }] });
    const d = destination(e, { listId: "42" });
    expect(await d.checkMapping()).toEqual([]);
    await d.write([
      { key: "a@x.com", fields: { firstname: "A" } },
      { key: "b@x.com", fields: { firstname: "B" } },
    ]);
    const first = await d.audience(["a@x.com", "b@x.com", "nobody@x.com"], []);
    expect(first.map((o) => [o.key, o.status])).toEqual([
      ["nobody@x.com", "failed"],
      ["a@x.com", "added"],
      ["b@x.com", "added"],
    ]);
    const ids = ["a@x.com", "b@x.com"].map((k) => e.findByProperty("contacts", "email", k)!.id);
    expect(e.listMembers("42")).toEqual(ids);
    const second = await d.audience(["a@x.com"], ["b@x.com"]);
    expect(second.map((o) => [o.key, o.status])).toEqual([
      ["a@x.com", "unchanged"],
      ["b@x.com", "removed"],
    ]);
    expect(e.listMembers("42")).toEqual([ids[0]]);

    expect(await destination(e, { listId: "7" }).checkMapping()).toEqual([
      'destination.list_id 7: HubSpot list "Everyone" is DYNAMIC; audience mode needs a MANUAL or SNAPSHOT list',
    ]);
    expect(await destination(e, { listId: "404" }).checkMapping()).toEqual(["destination.list_id 404: no such HubSpot list"]);
  });
});

describe("credentials from the environment", () => {
  const spec = { destination: { type: "hubspot" as const, object: "contacts", match: { field: "email" } }, fields: { first_name: "firstname" } };

  it("uses OAuth (refresh token) when no private-app token is set, and refreshes once on a 401", async () => {
    const e = await emulator({ oauth: { clientId: "cid", clientSecret: "secret", refreshToken: "refresh-1" } });
    const d = createDestination(contract(spec), {
      HUBSPOT_CLIENT_ID: "cid",
      HUBSPOT_CLIENT_SECRET: "secret",
      HUBSPOT_REFRESH_TOKEN: "refresh-1",
      HUBSPOT_BASE_PATH: e.url,
    }) as HubSpotDestination;
    expect(await d.checkMapping()).toEqual([]);
    expect(d.tokenRefreshes).toBe(1);
    e.expireOAuthTokens();
    expect((await d.write([{ key: "a@x.com", fields: { firstname: "A" } }]))[0]).toMatchObject({ status: "created" });
    expect(d.tokenRefreshes).toBe(2);
    expect(e.oauthGrants()).toBe(2);
    expect(e.calls().map((c) => c.status)).toEqual([200, 200, 401, 200, 200]);
  });

  it("refuses half an OAuth configuration, and no credentials at all, before any call", () => {
    expect(() => createDestination(contract(spec), { HUBSPOT_CLIENT_ID: "cid" })).toThrow(/HUBSPOT_CLIENT_SECRET and HUBSPOT_REFRESH_TOKEN/);
    expect(() => createDestination(contract(spec), {})).toThrow(/HUBSPOT_ACCESS_TOKEN/);
    expect(() => createDestination(contract(spec), { HUBSPOT_ACCESS_TOKEN: "t", HUBSPOT_REQUEST_TIMEOUT_MS: "soon" })).toThrow(/HUBSPOT_REQUEST_TIMEOUT_MS must be a positive whole number of milliseconds \(got soon\)/);
  });

  it("feeds each answer's X-HubSpot-RateLimit-* headers to the pacer (tier and daily quota found at run time)", async () => {
    const e = await emulator({ limits: { perTenSeconds: 250, daily: 500_000 } });
    const d = destination(e);
    const pacer = pacerFor(d);
    expect(pacer.current).toEqual({ requestsPerWindow: 100, windowMs: 10_000, dailyRemaining: undefined });
    await d.write([{ key: "a@x.com", fields: { firstname: "A" } }]);
    expect(pacer.current).toEqual({ requestsPerWindow: 250, windowMs: 10_000, dailyRemaining: 499_999 });
  });
});
