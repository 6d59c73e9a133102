/**
 * The Braze destination (plain fetch) against the loopback emulator, through the engine where the engine decides:
 * batching at 75, per-index errors to per-record failures, a 400 split, 429s paced and retried, delete and clear,
 * subscription-group audience, read-back by external_id / email / alias, the custom attributes drift check, the
 * contract's Braze-only fields, credentials from the environment, and no API key in any error.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Contract } from "../../src/contract/load.ts";
import { contractSchema, type ContractInput } from "../../src/contract/schema.ts";
import { BrazeHttp } from "../../src/destinations/braze/client.ts";
import { BrazeDestination, type BrazeTarget } from "../../src/destinations/braze/destination.ts";
import { createDestination, schemaDrift } from "../../src/destinations/index.ts";
import type { DestinationRecord } from "../../src/destinations/types.ts";
import { startBrazeEmulator, type BrazeEmulator, type BrazeEmulatorOptions } from "../../emulators/braze/index.ts";
import { pacerFor } from "../../src/engine/pacing.ts";
import { sendRecords } from "../../src/engine/send.ts";

const KEY = "braze-dest-secret-key";
const running: BrazeEmulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((e) => e.close()));
});

const ATTRIBUTES = [
  { name: "plan_tier", type: "String" as const },
  { name: "score", type: "Number" as const },
  { name: "seen_at", type: "Time" as const },
];

async function emulator(options: BrazeEmulatorOptions = {}): Promise<BrazeEmulator> {
  const e = await startBrazeEmulator({ apiKey: KEY, attributes: ATTRIBUTES, ...options });
  running.push(e);
  return e;
}

function destination(e: BrazeEmulator, target: Partial<BrazeTarget> = {}, key = KEY): BrazeDestination {
  return new BrazeDestination(new BrazeHttp({ apiKey: key, restEndpoint: e.url }), {
    object: "users",
    matchField: "external_id",
    fields: [{ to: "first_name" }, { to: "plan_tier" }, { to: "score" }],
    ...target,
  });
}

function contract(input: Partial<ContractInput> & Pick<ContractInput, "destination" | "fields">): Contract {
  return { spec: contractSchema.parse({ name: "c", key: "k", ...input }), model: { uniqueId: "model.t.m", name: "m", relation: '"m"', file: "models/m.yml" } };
}

async function* once(records: DestinationRecord[]): AsyncIterable<DestinationRecord[]> {
  yield records;
}

const rows = (n: number, prefix = "u"): (DestinationRecord & { change: "create" })[] =>
  Array.from({ length: n }, (_, i) => ({ key: `${prefix}${i}`, fields: { first_name: `N${i}`, plan_tier: "growth", score: i }, change: "create" as const }));

describe("writes through /users/track", () => {
  it("sends at most 75 attribute objects per request and accounts for every record", async () => {
    const e = await emulator();
    const summary = await sendRecords(destination(e), once(rows(200)), {});
    expect([summary.created, summary.updated, summary.failed, summary.notSent]).toEqual([200, 0, 0, 0]);
    expect(e.calls().map((c) => c.objects)).toEqual([75, 75, 50]);
    expect(e.users()).toHaveLength(200);
    expect(e.findUser({ external_id: "u7" })).toMatchObject({ profile: { first_name: "N7" }, custom_attributes: { plan_tier: "growth", score: 7 } });
    // A row the ledger has sent before is an update (Braze does not say whether it created the profile).
    const again = await destination(e).write([{ key: "u7", fields: { score: 70 } }]);
    expect(again).toEqual([{ key: "u7", status: "updated", recordId: "u7" }]);
    expect(e.findUser({ external_id: "u7" })?.custom_attributes.score).toBe(70);
  });

  it("maps each refused object back to its row by index (a per-record failure), and writes its neighbours", async () => {
    const e = await emulator();
    const records = rows(10);
    records[2]!.fields.score = "high";
    records[5]!.fields.seen_at = "not a time";
    records[9]!.fields.score = "n/a";
    const summary = await sendRecords(destination(e), once(records), {});
    expect([summary.created, summary.failed]).toEqual([7, 3]);
    expect(summary.failures.map((f) => [f.key, f.code])).toEqual([
      ["u2", "INVALID_OBJECT"],
      ["u5", "INVALID_OBJECT"],
      ["u9", "INVALID_OBJECT"],
    ]);
    expect(summary.failures[0]!.message).toMatch(/^Braze refused the attributes: 'score' is not valid/);
    expect(e.users().map((u) => u.external_id).sort()).toEqual(["u0", "u1", "u3", "u4", "u6", "u7", "u8"]);
    expect(e.callCount("POST /users/track")).toBe(1);
  });

  it("fails every row of a batch Braze refused whole (400 naming each object) without splitting it", async () => {
    const e = await emulator();
    const out = await destination(e).write([
      { key: "a", fields: { score: "x" } },
      { key: "b", fields: { score: "y" } },
    ]);
    expect(out.map((o) => o.status)).toEqual(["failed", "failed"]);
    expect(e.calls().map((c) => c.status)).toEqual([400]);
  });

  it("splits a batch refused with a 400 that names no object (a workspace limited to 50 objects) until it lands", async () => {
    const e = await emulator({ batchLimit: { max: 50, per: "total" } });
    const summary = await sendRecords(destination(e), once(rows(150)), {});
    expect([summary.created, summary.failed]).toEqual([150, 0]);
    expect(e.users()).toHaveLength(150);
    const statuses = e.calls().map((c) => `${c.status}:${c.objects}`);
    expect(statuses.filter((s) => s.startsWith("400"))).toEqual(["400:75", "400:75"]);
    expect(statuses.filter((s) => s.startsWith("201")).length).toBe(4);
  });

  it("paces to the X-RateLimit-Limit Braze reports and retries 429s until every row lands", async () => {
    const e = await emulator({ limits: { "users/track": { max: 4, windowMs: 1000 } } });
    const d = destination(e);
    const pacer = pacerFor(d);
    const summary = await sendRecords(d, once(rows(75 * 12)), { baseDelayMs: 20 });
    expect([summary.created, summary.failed, summary.notSent]).toEqual([900, 0, 0]);
    expect(e.users()).toHaveLength(900);
    expect(pacer.current.requestsPerWindow).toBe(4);
    expect(summary.throttled).toBeGreaterThan(0);
    expect(summary.retries).toBeGreaterThanOrEqual(summary.throttled);
    expect(e.calls().filter((c) => c.status === 429)).toHaveLength(summary.throttled);
  }, 60_000);

  it("retries 5xx and abandoned requests; a resent batch lands once (no duplicate users)", async () => {
    const e = await emulator({ faults: { serverErrorRate: 0.2, timeoutRate: 0.15, timeoutMs: 60_000, seed: 3 } });
    const d = new BrazeDestination(new BrazeHttp({ apiKey: KEY, restEndpoint: e.url, requestTimeoutMs: 300 }), { object: "users", matchField: "external_id", fields: [] });
    const summary = await sendRecords(d, once(rows(600)), { baseDelayMs: 10 });
    expect([summary.created, summary.failed, summary.notSent]).toEqual([600, 0, 0]);
    expect(summary.retries).toBeGreaterThan(0);
    expect(e.calls().some((c) => c.timedOut)).toBe(true);
    expect(e.users()).toHaveLength(600);
  }, 60_000);

  it("creates alias-only users by alias name and label in upsert mode, and never creates one in update mode", async () => {
    const e = await emulator();
    const alias = destination(e, { matchField: "user_alias", aliasLabel: "crm_id" });
    await alias.write([{ key: "crm-1", fields: { plan_tier: "starter" } }]);
    expect(e.findUser({ alias: { alias_name: "crm-1", alias_label: "crm_id" } })?.custom_attributes.plan_tier).toBe("starter");
    const updateOnly = destination(e, { matchField: "user_alias", aliasLabel: "crm_id", updateOnly: true });
    await updateOnly.write([{ key: "crm-2", fields: { plan_tier: "starter" } }, { key: "crm-1", fields: { plan_tier: "growth" } }]);
    expect(e.users()).toHaveLength(1);
    expect(e.users()[0]!.custom_attributes.plan_tier).toBe("growth");
  });

  it("sends null for a cleared value (Braze removes the attribute)", async () => {
    const e = await emulator();
    const d = destination(e);
    await d.write([{ key: "u1", fields: { plan_tier: "growth", score: 2 } }]);
    await d.write([{ key: "u1", fields: { plan_tier: null, score: 3 } }]);
    expect(e.findUser({ external_id: "u1" })?.custom_attributes).toEqual({ score: 3 });
  });
});

describe("read-back", () => {
  it("reads by external_id 50 at a time, exactly (case-sensitive), with profile fields and custom attributes", async () => {
    const e = await emulator();
    const d = destination(e);
    await d.write(rows(75).slice(0, 75));
    const keys = [...rows(75).map((r) => r.key), "U1", "nobody"];
    const found = await d.readBack(keys, ["first_name", "score", "seen_at"]);
    expect(found.size).toBe(75);
    expect(found.has("U1")).toBe(false);
    expect(found.get("u3")).toEqual({ key: "u3", recordId: e.findUser({ external_id: "u3" })!.braze_id, modifiedAt: "", values: { first_name: "N3", score: 3, seen_at: null } });
    expect(e.callCount("POST /users/export/ids")).toBe(2);
  });

  it("reads by email case-insensitively, one address per request, and reports every user sharing an address", async () => {
    const e = await emulator();
    const d = destination(e, { matchField: "email" });
    expect(d.normalizeKey("Ann@X.io")).toBe("ann@x.io");
    await d.write([{ key: "Ann@X.io", fields: { plan_tier: "growth" } }, { key: "bo@x.io", fields: { plan_tier: "starter" } }]);
    const found = await d.readBack(["ann@x.io", "ANN@x.io", "bo@x.io", "cy@x.io"], ["plan_tier"]);
    expect([...found.keys()]).toEqual(["ann@x.io", "ANN@x.io", "bo@x.io"]);
    expect(found.get("ANN@x.io")?.values).toEqual({ plan_tier: "growth" });
    expect(e.callCount("POST /users/export/ids")).toBe(3);
    // A second profile with bo's address (another integration created it): the key now matches two users.
    await new BrazeHttp({ apiKey: KEY, restEndpoint: e.url }).send("POST", "/users/track", { attributes: [{ external_id: "other", email: "BO@x.io" }] });
    const twice = (await d.readBack(["bo@x.io"], []))!.get("bo@x.io")!;
    expect(twice.duplicates).toHaveLength(2);
    const removed = await d.remove(["bo@x.io"], "delete", []);
    expect(removed[0]).toMatchObject({ status: "failed", code: "DUPLICATE_USERS" });
    expect(e.users()).toHaveLength(3);
  });

  it("reads by alias name under the contract's label only", async () => {
    const e = await emulator();
    const d = destination(e, { matchField: "user_alias", aliasLabel: "crm_id" });
    await d.write([{ key: "x-1", fields: { score: 1 } }]);
    await destination(e, { matchField: "user_alias", aliasLabel: "other" }).write([{ key: "x-2", fields: { score: 2 } }]);
    const found = await d.readBack(["x-1", "x-2"], ["score"]);
    expect([...found.keys()]).toEqual(["x-1"]);
    expect(found.get("x-1")?.values.score).toBe(1);
  });
});

describe("removal and audience", () => {
  it("deletes the users of keys by braze_id (50 per request), and reports keys with no user as absent", async () => {
    const e = await emulator();
    const d = destination(e);
    await d.write(rows(60));
    const keys = [...rows(60).map((r) => r.key), "ghost"];
    const out = await d.remove(keys, "delete", []);
    expect(out.filter((o) => o.status === "deleted")).toHaveLength(60);
    expect(out.at(-1)).toEqual({ key: "ghost", status: "absent" });
    expect(e.users()).toEqual([]);
    expect(e.callCount("POST /users/delete")).toBe(2);
  });

  it("clears the mapped attributes (null) on existing users without creating absent ones", async () => {
    const e = await emulator();
    const d = destination(e);
    await d.write([{ key: "u1", fields: { first_name: "A", plan_tier: "growth", score: 1 } }]);
    const out = await d.remove(["u1", "ghost"], "clear", ["plan_tier", "score"]);
    expect(out.map((o) => o.status)).toEqual(["cleared", "absent"]);
    expect(e.users()).toHaveLength(1);
    expect(e.findUser({ external_id: "u1" })).toMatchObject({ profile: { first_name: "A" }, custom_attributes: {} });
  });

  it("subscribes and unsubscribes users to the contract's subscription group, and fails keys with no user", async () => {
    const e = await emulator({ subscriptionGroups: ["grp-1"] });
    const d = destination(e, { listId: "grp-1" });
    await d.write([{ key: "a", fields: {} }, { key: "b", fields: {} }]);
    const first = await d.audience(["a", "b", "nobody"], []);
    expect(first.map((o) => [o.key, o.status])).toEqual([
      ["nobody", "failed"],
      ["a", "added"],
      ["b", "added"],
    ]);
    expect(e.subscribed("grp-1").sort()).toEqual(["a", "b"]);
    expect(e.findUser({ external_id: "nobody" })).toBeUndefined();
    const second = await d.audience([], ["b"]);
    expect(second).toEqual([{ key: "b", status: "removed", recordId: e.findUser({ external_id: "b" })!.braze_id }]);
    expect(e.subscribed("grp-1")).toEqual(["a"]);
    const unknown = await destination(e, { listId: "grp-x" }).audience(["a"], []);
    expect(unknown[0]).toMatchObject({ status: "failed", code: "INVALID_OBJECT", message: expect.stringMatching(/grp-x/) as unknown });
  });
});

describe("mapping check and drift (GET /custom_attributes)", () => {
  it("stops on an attribute Braze does not list, a mistyped column, a blocklisted attribute, another object and unless_edited", async () => {
    const e = await emulator({ attributes: [...ATTRIBUTES, { name: "legacy", type: "String", status: "Blocklisted" }] });
    const d = destination(e, {
      object: "contacts",
      fields: [{ to: "plan_tier" }, { to: "score" }, { to: "new_attr" }, { to: "legacy" }, { to: "first_name", overwrite: "unless_edited" }],
    });
    expect(await d.checkMapping({ score: "string" })).toEqual([
      "destination.object contacts: Braze syncs user profiles, so the object must be users",
      "fields: first_name overwrite unless_edited needs the destination's last-modified time, which Braze does not report; use always or if_empty",
      "fields: score is a Number field in Braze users; a string column cannot be written to it",
      "fields: new_attr is not a field of Braze users",
      "fields: Braze users field legacy is read-only",
    ]);
    expect(await destination(e, { fields: [{ to: "plan_tier" }, { to: "new_attr" }], createAttributes: true }).checkMapping()).toEqual([]);
    expect(await destination(e, { matchField: "phone" }).checkMapping()).toEqual(["destination.match.field phone: Braze matches users by external_id, email, user_alias", "destination.match.field phone does not have unique values in Braze users, so it cannot match records"]);
  });

  it("follows the Link header through every page, and reports drift between two describes", async () => {
    const many = Array.from({ length: 130 }, (_, i) => ({ name: `a_${String(i).padStart(3, "0")}`, type: "String" as const }));
    const e = await emulator({ attributes: [...ATTRIBUTES, ...many] });
    const d = destination(e, { fields: [{ to: "a_129" }, { to: "score" }] });
    const before = await d.describe();
    expect(e.callCount("GET /custom_attributes")).toBe(3);
    expect(before.get("a_129")).toEqual({ type: "String", writable: true, matchable: false });
    expect(await d.checkMapping()).toEqual([]);
    e.defineAttribute({ name: "score", type: "String" });
    e.defineAttribute({ name: "a_129", type: "String", status: "Blocklisted" });
    const after = await d.describe();
    expect(schemaDrift(before, after, ["score", "a_129"]).map((x) => [x.field, x.change])).toEqual([
      ["score", "type"],
      ["a_129", "writable"],
    ]);
  });
});

describe("contract fields, credentials and secrets", () => {
  const braze = { type: "braze" as const, object: "users", match: { field: "external_id" } };

  it("accepts alias_label and create_attributes for Braze only, and Braze's match fields only", () => {
    const parse = (destination: Record<string, unknown>) => contractSchema.safeParse({ name: "c", key: "k", destination, fields: { a: "b" } });
    const messages = (destination: Record<string, unknown>) => {
      const r = parse(destination);
      return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
    };
    expect(messages({ ...braze, match: { field: "user_alias", alias_label: "crm_id" }, create_attributes: true })).toEqual([]);
    expect(messages({ ...braze, match: { field: "user_alias" } })).toEqual(["destination.match.alias_label: match field user_alias needs the alias_label (the sync key is the alias name)"]);
    expect(messages({ ...braze, match: { field: "external_id", alias_label: "x" } })).toEqual(["destination.match.alias_label: alias_label applies to match field user_alias only"]);
    expect(messages({ ...braze, match: { field: "phone" } })).toEqual(["destination.match.field: Braze matches users by external_id | email | user_alias (got phone)"]);
    expect(messages({ type: "hubspot", object: "contacts", match: { field: "email", alias_label: "x" }, create_attributes: false })).toEqual([
      "destination.match.alias_label: alias_label applies to type: braze with match field user_alias only",
      "destination.create_attributes: create_attributes applies to type: braze only",
    ]);
  });

  it("builds the destination from BRAZE_API_KEY and BRAZE_REST_ENDPOINT, and refuses missing or malformed ones", async () => {
    const e = await emulator();
    const c = contract({ destination: { ...braze, create_attributes: true }, fields: { tier: "plan_tier", fresh: "brand_new" } });
    const d = createDestination(c, { BRAZE_API_KEY: KEY, BRAZE_REST_ENDPOINT: `${e.url}/` });
    expect(d.description).toBe("braze users by external_id");
    expect(d.maxBatchSize).toBe(75);
    expect(d.limits).toEqual({ requestsPerWindow: 3000, windowMs: 3000, concurrency: 16 });
    expect(await d.checkMapping()).toEqual([]);
    expect(await destination(e, { fields: [{ to: "brand_new" }] }).checkMapping()).toEqual(["fields: brand_new is not a field of Braze users"]);
    expect(() => createDestination(c, { BRAZE_REST_ENDPOINT: e.url })).toThrow(/set BRAZE_API_KEY/);
    expect(() => createDestination(c, { BRAZE_API_KEY: KEY })).toThrow(/set BRAZE_REST_ENDPOINT/);
    expect(() => createDestination(c, { BRAZE_API_KEY: KEY, BRAZE_REST_ENDPOINT: "rest.iad-01.braze.com" })).toThrow(/BRAZE_REST_ENDPOINT is not a URL/);
    expect(() => createDestination(c, { BRAZE_API_KEY: KEY, BRAZE_REST_ENDPOINT: e.url, BRAZE_REQUEST_TIMEOUT_MS: "0" })).toThrow(/BRAZE_REQUEST_TIMEOUT_MS must be a positive whole number/);
  });

  it("ends the run on a refused key (401, not retried) and never puts the key in an error", async () => {
    const e = await emulator();
    const wrong = "wrong-secret-key-123";
    const d = destination(e, {}, wrong);
    const summary = await sendRecords(d, once(rows(75)), {});
    expect([summary.created, summary.failed, summary.notSent]).toEqual([0, 0, 75]);
    expect(summary.stopped).toMatch(/Braze 401/);
    expect(e.callCount("POST /users/track")).toBe(1);
    const problems = await d.checkMapping();
    expect(problems).toEqual([expect.stringMatching(/^cannot list the custom attributes of the Braze workspace: Braze 401/) as unknown]);
    // A refused connection: a network error naming neither the key nor more than the path.
    await e.close();
    running.splice(running.indexOf(e), 1);
    const unreachable = await destination(e, {}, wrong).write([{ key: "a", fields: {} }]).catch((error: unknown) => error as Error);
    expect(unreachable).toMatchObject({ code: "NETWORK", retryable: true });
    for (const text of [summary.stopped!, ...problems, (unreachable as Error).message]) {
      expect(text).not.toContain(wrong);
      expect(text).not.toContain(KEY);
    }
  });
});
