// The Braze emulator against Braze's wire format, driven through the syncer's own HTTP client (BrazeHttp: plain fetch,
// Bearer key), so what is checked here is what the destination parses.
import { afterEach, describe, expect, it } from "vitest";
import { BrazeHttp } from "../../src/destinations/braze/client.ts";
import { nextLink } from "../../src/destinations/braze/destination.ts";
import { startBrazeEmulator, type BrazeEmulator, type BrazeEmulatorOptions } from "../../emulators/braze/index.ts";

const KEY = "braze-emulator-key";
const ALL_INVALID = "Valid data must be provided in the 'attributes', 'events', or 'purchases' fields.";
let emu: BrazeEmulator | undefined;

afterEach(async () => {
  await emu?.close();
  emu = undefined;
});

async function setup(opts: BrazeEmulatorOptions = {}, key = KEY): Promise<{ emu: BrazeEmulator; http: BrazeHttp }> {
  emu = await startBrazeEmulator({ apiKey: KEY, ...opts });
  return { emu, http: new BrazeHttp({ apiKey: key, restEndpoint: emu.url }) };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the tests read Braze's JSON answers freely
type Json = any;

describe("auth", () => {
  it("refuses a missing or wrong key with 401 and no rate-limit headers", async () => {
    const { http } = await setup({}, "wrong-key");
    const answer = await http.send("POST", "/users/track", { attributes: [{ external_id: "u1", plan: "x" }] });
    expect(answer.status).toBe(401);
    expect(answer.headers.get("x-ratelimit-limit")).toBeNull();
    expect(emu!.users()).toEqual([]);
    const anonymous = await fetch(`${emu!.url}/custom_attributes`);
    expect(anonymous.status).toBe(401);
  });
});

describe("POST /users/track", () => {
  it("creates by external_id, updates the same user, and removes an attribute set to null", async () => {
    const { http } = await setup({ attributes: [{ name: "plan_tier", type: "String" }, { name: "score", type: "Number" }] });
    const first = await http.send("POST", "/users/track", { attributes: [{ external_id: "u1", first_name: "Ada", plan_tier: "growth", score: 3 }] });
    expect(first.status).toBe(201);
    expect(first.body).toEqual({ message: "success", attributes_processed: 1 });
    expect(first.headers.get("x-ratelimit-limit")).toBe("3000");
    expect(first.headers.get("x-ratelimit-remaining")).toBe("2999");
    expect(Number(first.headers.get("x-ratelimit-reset"))).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000));
    await http.send("POST", "/users/track", { attributes: [{ external_id: "u1", plan_tier: null, score: 4 }] });
    const user = emu!.findUser({ external_id: "u1" })!;
    expect(emu!.users()).toHaveLength(1);
    expect(user.profile.first_name).toBe("Ada");
    expect(user.custom_attributes).toEqual({ score: 4 });
    // external_id is case-sensitive: another user.
    await http.send("POST", "/users/track", { attributes: [{ external_id: "U1", score: 1 }] });
    expect(emu!.users()).toHaveLength(2);
  });

  it("addresses users by email regardless of case, and updates the most recent with an external_id when several share it", async () => {
    const { http } = await setup();
    await http.send("POST", "/users/track", { attributes: [{ email: "Ann@X.io", tier: "a" }] });
    await http.send("POST", "/users/track", { attributes: [{ email: "ann@x.io", tier: "b" }] });
    expect(emu!.users()).toHaveLength(1);
    expect(emu!.users()[0]!.custom_attributes.tier).toBe("b");
    // A second user with the same address and an external_id: email writes now go to it.
    await http.send("POST", "/users/track", { attributes: [{ external_id: "e-2", email: "ann@x.io" }] });
    await http.send("POST", "/users/track", { attributes: [{ email: "ANN@x.io", tier: "c" }] });
    expect(emu!.findUser({ external_id: "e-2" })!.custom_attributes.tier).toBe("c");
    expect(emu!.users().find((u) => !u.external_id)!.custom_attributes.tier).toBe("b");
  });

  it("creates an alias-only user only with _update_existing_only: false (update-only is the alias default)", async () => {
    const { http } = await setup();
    const alias = { alias_name: "crm-1", alias_label: "crm_id" };
    const ignored = await http.send("POST", "/users/track", { attributes: [{ user_alias: alias, tier: "a" }] });
    expect(ignored.status).toBe(201);
    expect(emu!.users()).toEqual([]);
    await http.send("POST", "/users/track", { attributes: [{ user_alias: alias, _update_existing_only: false, tier: "a" }] });
    expect(emu!.findUser({ alias })?.custom_attributes.tier).toBe("a");
    // external_id with update-only and no such user: nothing created.
    await http.send("POST", "/users/track", { attributes: [{ external_id: "nobody", _update_existing_only: true, tier: "x" }] });
    expect(emu!.users()).toHaveLength(1);
  });

  it("answers refused objects by index (201, errors with type, input_array, index) and writes the others", async () => {
    const { http } = await setup({ attributes: [{ name: "score", type: "Number" }, { name: "seen_at", type: "Time" }], unknownAttributes: "refuse" });
    const answer = await http.send("POST", "/users/track", {
      attributes: [
        { external_id: "ok-1", score: 1 },
        { external_id: "bad-email", email: 42 },
        { external_id: "bad-type", score: "high" },
        { external_id: "ok-2", seen_at: "2026-11-01T10:00:00Z" },
        { external_id: "unknown", mystery: "x" },
        { external_id: "bad-time", seen_at: "yesterday" },
        { score: 1 },
      ],
    });
    expect(answer.status).toBe(201);
    const body = answer.body as Json;
    expect(body.attributes_processed).toBe(2);
    expect(body.errors.map((e: Json) => [e.input_array, e.index])).toEqual([
      ["attributes", 1],
      ["attributes", 2],
      ["attributes", 4],
      ["attributes", 5],
      ["attributes", 6],
    ]);
    expect(body.errors[0].type).toMatch(/email/);
    expect(body.errors[1].type).toMatch(/score.*Number/);
    expect(body.errors[2].type).toMatch(/mystery.*not a known custom attribute/);
    expect(emu!.users().map((u) => u.external_id).sort()).toEqual(["ok-1", "ok-2"]);
  });

  it("creates a custom attribute on first write by default, typed by its value", async () => {
    const { http } = await setup();
    await http.send("POST", "/users/track", { attributes: [{ external_id: "u", lifetime_value: 12.5, vip: true }] });
    expect(emu!.attributes()).toEqual([
      { name: "lifetime_value", type: "Number", status: "Active" },
      { name: "vip", type: "Boolean", status: "Active" },
    ]);
    // Now declared: a later string for it is refused.
    const answer = await http.send("POST", "/users/track", { attributes: [{ external_id: "u", vip: "yes" }, { external_id: "v", vip: false }] });
    expect((answer.body as Json).errors).toEqual([{ type: expect.stringMatching(/vip/) as unknown, input_array: "attributes", index: 0 }]);
  });

  it("refuses a request whose every object is invalid with 400 and the per-index errors, and writes nothing", async () => {
    const { http } = await setup();
    const answer = await http.send("POST", "/users/track", { attributes: [{ external_id: "a", email: false }, { email: "not-an-address" }] });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ message: ALL_INVALID, errors: [{ input_array: "attributes", index: 0 }, { input_array: "attributes", index: 1 }] });
    expect(emu!.users()).toEqual([]);
  });

  it("refuses more than 75 attribute objects with 400 and writes none of them", async () => {
    const { http } = await setup();
    const attributes = Array.from({ length: 76 }, (_, i) => ({ external_id: `u${i}`, n: i }));
    const answer = await http.send("POST", "/users/track", { attributes });
    expect(answer.status).toBe(400);
    expect(emu!.users()).toEqual([]);
    expect((await http.send("POST", "/users/track", { attributes: attributes.slice(0, 75) })).status).toBe(201);
    expect(emu!.users()).toHaveLength(75);
    expect(emu!.calls().map((c) => c.objects)).toEqual([76, 75]);
  });

  it("sets subscription group states inside the attribute object and refuses an unknown group", async () => {
    const { http } = await setup({ subscriptionGroups: ["grp-news"] });
    const answer = await http.send("POST", "/users/track", {
      attributes: [
        { external_id: "a", subscription_groups: [{ subscription_group_id: "grp-news", subscription_state: "subscribed" }] },
        { external_id: "b", subscription_groups: [{ subscription_group_id: "grp-other", subscription_state: "subscribed" }] },
        { external_id: "c", subscription_groups: [{ subscription_group_id: "grp-news", subscription_state: "maybe" }] },
      ],
    });
    expect((answer.body as Json).errors.map((e: Json) => e.index)).toEqual([1, 2]);
    expect(emu!.subscribed("grp-news")).toEqual(["a"]);
    await http.send("POST", "/users/track", { attributes: [{ external_id: "a", subscription_groups: [{ subscription_group_id: "grp-news", subscription_state: "unsubscribed" }] }] });
    expect(emu!.subscribed("grp-news")).toEqual([]);
  });
});

describe("POST /users/export/ids and /users/delete", () => {
  it("exports up to 50 external ids with invalid_user_ids, only the fields asked for; by email, every user sharing it", async () => {
    const { http } = await setup();
    await http.send("POST", "/users/track", { attributes: [{ external_id: "a", email: "a@x.io", first_name: "A", tier: "t" }, { external_id: "b" }] });
    const answer = await http.send("POST", "/users/export/ids", { external_ids: ["a", "b", "zz"], fields_to_export: ["braze_id", "external_id", "custom_attributes", "first_name"] });
    expect(answer.status).toBe(201);
    const body = answer.body as Json;
    expect(body.invalid_user_ids).toEqual(["zz"]);
    expect(body.users).toEqual([
      { braze_id: expect.stringMatching(/^[0-9a-f]{24}$/) as unknown, external_id: "a", first_name: "A", custom_attributes: { tier: "t" } },
      { braze_id: expect.any(String) as unknown, external_id: "b" },
    ]);
    expect((await http.send("POST", "/users/export/ids", { external_ids: Array.from({ length: 51 }, (_, i) => `x${i}`) })).status).toBe(400);
    await http.send("POST", "/users/track", { attributes: [{ external_id: "c", email: "A@X.IO" }] });
    const byEmail = (await http.send("POST", "/users/export/ids", { email_address: "a@x.io", fields_to_export: ["external_id"] })).body as Json;
    expect(byEmail.users.map((u: Json) => u.external_id).sort()).toEqual(["a", "c"]);
    expect(emu!.callCount("POST /users/export/ids")).toBe(3);
  });

  it("deletes by external_ids or braze_ids (one kind, at most 50) and counts what it deleted", async () => {
    const { http } = await setup();
    await http.send("POST", "/users/track", { attributes: ["a", "b", "c"].map((external_id) => ({ external_id })) });
    const deleted = await http.send("POST", "/users/delete", { external_ids: ["a", "nobody"] });
    expect([deleted.status, deleted.body]).toEqual([201, { message: "success", deleted: 1 }]);
    const b = emu!.findUser({ external_id: "b" })!;
    expect((await http.send("POST", "/users/delete", { braze_ids: [b.braze_id] })).body).toMatchObject({ deleted: 1 });
    expect(emu!.users().map((u) => u.external_id)).toEqual(["c"]);
    expect((await http.send("POST", "/users/delete", { external_ids: ["c"], braze_ids: ["x"] })).status).toBe(400);
    expect((await http.send("POST", "/users/delete", { external_ids: Array.from({ length: 51 }, (_, i) => `x${i}`) })).status).toBe(400);
    expect(emu!.users()).toHaveLength(1);
  });

  it("finds a user by external_id after deletes and re-creates (the emulator's index follows them), and a deleted id no more", async () => {
    const { http } = await setup({ attributes: [{ name: "plan_tier", type: "String" }] });
    await http.send("POST", "/users/track", { attributes: ["a", "b"].map((external_id) => ({ external_id, plan_tier: "first" })) });
    const before = emu!.findUser({ external_id: "a" })!.braze_id;
    await http.send("POST", "/users/delete", { braze_ids: [before] });
    const exported = await http.send("POST", "/users/export/ids", { external_ids: ["a"], fields_to_export: ["external_id"] });
    expect((exported.body as Json).invalid_user_ids).toEqual(["a"]);
    // Update-only for a deleted user writes nothing; an upsert creates a new user under the same external id.
    await http.send("POST", "/users/track", { attributes: [{ external_id: "a", plan_tier: "ghost", _update_existing_only: true }] });
    expect(emu!.findUser({ external_id: "a" })).toBeUndefined();
    await http.send("POST", "/users/track", { attributes: [{ external_id: "a", plan_tier: "second" }] });
    const again = emu!.findUser({ external_id: "a" })!;
    expect(again.braze_id).not.toBe(before);
    expect(again.custom_attributes).toEqual({ plan_tier: "second" });
    expect(emu!.findUser({ external_id: "b" })!.custom_attributes).toEqual({ plan_tier: "first" });
    emu!.reset();
    expect(emu!.findUser({ external_id: "b" })).toBeUndefined();
  });
});

describe("GET /custom_attributes", () => {
  it("lists the attributes alphabetically by pages of 50, the next page named by the Link header", async () => {
    const attributes = Array.from({ length: 120 }, (_, i) => ({ name: `attr_${String(i).padStart(3, "0")}`, type: "String" as const }));
    const { http } = await setup({ attributes: [...attributes].reverse() });
    const names: string[] = [];
    let path: string | undefined = "/custom_attributes";
    let pages = 0;
    while (path) {
      const answer = await http.send("GET", path);
      expect(answer.status).toBe(200);
      names.push(...(answer.body as Json).attributes.map((a: Json) => a.name));
      pages += 1;
      path = nextLink(answer.headers.get("link"));
    }
    expect(pages).toBe(3);
    expect(names).toEqual(attributes.map((a) => a.name));
    const first = await http.send("GET", "/custom_attributes");
    expect((first.body as Json).attributes[0]).toEqual({ array_length: null, data_type: "String", description: null, name: "attr_000", status: "Active", tag_names: [] });
    expect(first.headers.get("link")).toBe('</custom_attributes/?cursor=c2tpcDo1MA==>; rel="next"');
    expect((await http.send("GET", "/custom_attributes?cursor=bm9wZQ==")).status).toBe(400);
  });
});

describe("limits and faults", () => {
  it("answers 429 with X-RateLimit-* once a bucket is full, does not count refused calls, and frees the bucket after the window", async () => {
    const { http } = await setup({ limits: { "users/track": { max: 3, windowMs: 400 } } });
    const statuses: number[] = [];
    let last;
    for (let i = 0; i < 5; i += 1) {
      last = await http.send("POST", "/users/track", { attributes: [{ external_id: `u${i}` }] });
      statuses.push(last.status);
    }
    expect(statuses).toEqual([201, 201, 201, 429, 429]);
    expect(last!.headers.get("x-ratelimit-remaining")).toBe("0");
    expect(Number(last!.headers.get("x-ratelimit-reset")) * 1000).toBeGreaterThan(Date.now() - 1000);
    // Other buckets are not affected.
    expect((await http.send("POST", "/users/export/ids", { external_ids: ["u0"] })).headers.get("x-ratelimit-limit")).toBe("250");
    await new Promise((r) => setTimeout(r, 450));
    expect((await http.send("POST", "/users/track", { attributes: [{ external_id: "late" }] })).status).toBe(201);
    expect(emu!.users()).toHaveLength(4);
  });

  it("injects 5xx and spurious 429s from a seed, and rejects objects at random per index", async () => {
    const { http } = await setup({ faults: { serverErrorRate: 0.3, rateLimitRate: 0.2, recordRejectRate: 0.3, seed: 7 } });
    const seen = new Set<number>();
    let refused = 0;
    for (let i = 0; i < 30; i += 1) {
      const answer = await http.send("POST", "/users/track", { attributes: Array.from({ length: 10 }, (_, j) => ({ external_id: `u${i}-${j}` })) });
      seen.add(answer.status);
      if (answer.status === 201) refused += ((answer.body as Json).errors ?? []).filter((e: Json) => e.type === "Injected rejection").length;
    }
    expect([...seen].sort()).toEqual(expect.arrayContaining([201, 429]));
    expect([...seen].some((s) => s === 502 || s === 503)).toBe(true);
    expect(refused).toBeGreaterThan(0);
    // The same seed replays the same statuses.
    const first = emu!.calls().map((c) => c.status);
    emu!.reset();
    for (let i = 0; i < 30; i += 1) await http.send("POST", "/users/track", { attributes: Array.from({ length: 10 }, (_, j) => ({ external_id: `u${i}-${j}` })) });
    expect(emu!.calls().map((c) => c.status)).toEqual(first);
  });
});
