/**
 * The Zendesk destination over plain HTTP against the emulator: bulk create_or_update_many jobs polled to their end,
 * results mapped back by index, per-record and per-job failures, batching at 100, 429s paced by Retry-After and the
 * X-Rate-Limit headers, imports disabled, delete / clear / tags by id, read-back, the mapping check and drift, the
 * contract rules for zendesk, credentials from the environment, and no token in any error.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Contract } from "../../src/contract/load.ts";
import { contractSchema, type ContractInput } from "../../src/contract/schema.ts";
import { createDestination, schemaDrift } from "../../src/destinations/index.ts";
import { ZendeskHttp, zendeskConnectionFromEnv, type ZendeskConnection } from "../../src/destinations/zendesk/client.ts";
import { ZendeskDestination, type ZendeskTarget } from "../../src/destinations/zendesk/destination.ts";
import { DestinationRequestError, type DestinationRecord, type FailedOutcome } from "../../src/destinations/types.ts";
import { failureKind } from "../../src/ledger/failures.ts";
import { startZendeskEmulator, type ZendeskEmulator, type ZendeskEmulatorOptions, type ZendeskFieldDefinition } from "../../emulators/zendesk/index.ts";
import { pacerFor } from "../../src/engine/pacing.ts";
import { sendRecords } from "../../src/engine/send.ts";

const TOKEN = "zd-secret-token-4711";
const EMAIL = "ops@acme.io";
const running: ZendeskEmulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((e) => e.close()));
});

const USER_FIELDS: ZendeskFieldDefinition[] = [
  { key: "plan_tier", type: "dropdown", options: ["starter", "growth", "enterprise"] },
  { key: "seats", type: "integer" },
  { key: "vip", type: "checkbox" },
  { key: "renewal_date", type: "date" },
  { key: "health_note", type: "text" },
];

async function emulator(options: ZendeskEmulatorOptions = {}): Promise<ZendeskEmulator> {
  const e = await startZendeskEmulator({ email: EMAIL, apiToken: TOKEN, userFields: USER_FIELDS, jobDelayMs: 5, ...options });
  running.push(e);
  return e;
}

function connection(e: ZendeskEmulator, extra: Partial<ZendeskConnection> = {}): ZendeskConnection {
  return { url: e.url, auth: { kind: "token", email: EMAIL, token: TOKEN }, ...extra };
}

function destination(e: ZendeskEmulator, target: Partial<ZendeskTarget> = {}, conn: Partial<ZendeskConnection> = {}): ZendeskDestination {
  return new ZendeskDestination(new ZendeskHttp(connection(e, conn)), {
    object: "users",
    matchField: "external_id",
    fields: [{ to: "name" }, { to: "user_fields.plan_tier" }],
    pollIntervalMs: 5,
    maxPollIntervalMs: 20,
    ...target,
  });
}

async function* once(records: DestinationRecord[]): AsyncIterable<DestinationRecord[]> {
  yield records;
}

function contract(input: Partial<ContractInput> & Pick<ContractInput, "destination" | "fields">): Contract {
  return { spec: contractSchema.parse({ name: "c", key: "k", ...input }), model: { uniqueId: "model.t.m", name: "m", relation: '"m"', file: "models/m.yml" } };
}

describe("writes (create_or_update_many jobs)", () => {
  it("creates then updates users by external_id (case-insensitively), polling each job to its end", async () => {
    const e = await emulator({ jobDelayMs: 150 });
    const d = destination(e);
    const first = await d.write([
      { key: "C-1", fields: { name: "Ada", "user_fields.plan_tier": "growth" } },
      { key: "c-2", fields: { name: "Grace", "user_fields.plan_tier": null } },
    ]);
    expect(first).toEqual([
      { key: "C-1", status: "created", recordId: expect.any(String) as unknown },
      { key: "c-2", status: "created", recordId: expect.any(String) as unknown },
    ]);
    // The job was still queued / working when it was first polled.
    expect(e.callCount("GET /api/v2/job_statuses/show_many")).toBeGreaterThanOrEqual(2);
    expect(e.callCount("GET /api/v2/job_statuses/{id}")).toBe(0);
    const again = await d.write([{ key: "c-1", fields: { name: "Ada L.", "user_fields.plan_tier": "enterprise" } }]);
    expect(again).toEqual([{ key: "c-1", status: "updated", recordId: first[0]!.status === "created" ? first[0]!.recordId : "" }]);
    expect(e.records("users")).toHaveLength(2);
    expect(e.find("users", "external_id", "c-1")).toMatchObject({ name: "Ada L.", user_fields: { plan_tier: "enterprise" } });
  });

  it("maps results back by index (not by position), with per-record failures carrying Zendesk's error and details", async () => {
    const e = await emulator({ resultsOrder: "reversed" });
    const d = destination(e, { fields: [{ to: "name" }, { to: "user_fields.plan_tier" }, { to: "user_fields.seats" }] });
    await d.describe();
    const out = await d.write([
      { key: "a", fields: { name: "A", "user_fields.plan_tier": "growth", "user_fields.seats": 3 } },
      { key: "b", fields: { name: "B", "user_fields.plan_tier": "platinum" } },
      { key: "c", fields: { "user_fields.plan_tier": "starter" } },
      { key: "d", fields: { name: "D", "user_fields.seats": "many" } },
      { key: "e", fields: { name: "E", "user_fields.seats": "12" } },
    ]);
    expect(out.map((o) => [o.key, o.status])).toEqual([
      ["a", "created"],
      ["b", "failed"],
      ["c", "failed"],
      ["d", "failed"],
      ["e", "created"],
    ]);
    expect(out[1]).toMatchObject({ code: "UserCreateError", message: expect.stringContaining("platinum is not a valid option") as unknown });
    expect(out[2]).toMatchObject({ code: "UserCreateError", message: expect.stringContaining("Name: cannot be blank") as unknown });
    expect(e.find("users", "external_id", "a")).toMatchObject({ name: "A", user_fields: { plan_tier: "growth", seats: 3 } });
    // A numeric string for an integer field is sent as a number once the field's type is known.
    expect(e.find("users", "external_id", "e")).toMatchObject({ user_fields: { seats: 12 } });
    expect(e.records("users")).toHaveLength(2);
  });

  it("batches at 100 per request and accounts for every record, with random per-record rejections", async () => {
    const e = await emulator({ faults: { recordRejectRate: 0.1, seed: 5 } });
    const rows = Array.from({ length: 250 }, (_, i) => ({ key: `k${i}`, fields: { name: `User ${i}` } }));
    const summary = await sendRecords(destination(e), once(rows), {});
    const posts = e.calls().filter((c) => c.endpoint === "POST /api/v2/users/create_or_update_many");
    expect(posts.map((c) => c.objects).sort((a, b) => b! - a!)).toEqual([100, 100, 50]);
    expect(summary.failed).toBeGreaterThan(5);
    expect(summary.created + summary.failed).toBe(250);
    expect(summary.failures.every((f) => f.code === "InjectedRejection")).toBe(true);
    expect(e.records("users")).toHaveLength(summary.created);
  });

  it("polls every job in flight with one show_many request instead of one request per job", async () => {
    const e = await emulator({ jobDelayMs: 200 });
    const d = destination(e, { pollIntervalMs: 100, maxPollIntervalMs: 400 });
    const rows = Array.from({ length: 1000 }, (_, i) => ({ key: `p${i}`, fields: { name: `P${i}` } }));
    const summary = await sendRecords(d, once(rows), { concurrency: 10 });
    expect([summary.created, summary.failed, summary.notSent]).toEqual([1000, 0, 0]);
    const polls = e.calls().filter((c) => c.endpoint === "GET /api/v2/job_statuses/show_many");
    const perPoll = polls.map((c) => new URLSearchParams(c.query).get("ids")!.split(",").length);
    // Ten jobs were in flight at once: one poll asked for several of them, and the polls took fewer requests than
    // the writes (one per job and wait would take at least as many, twice as many with a 400 ms job).
    expect(Math.max(...perPoll)).toBeGreaterThan(1);
    expect(polls.length).toBeLessThan(10);
    expect(polls.length).toBe(d.jobPolls);
    expect(e.records("users")).toHaveLength(1000);
  });

  // 600 requests a minute: polls may take 5 % of them, one every 2 s after a burst of 3. 1,200 a minute over 4 workers
  // (`--shard i/4`): this worker's pacer keeps to 300, so polls take 5 % of 300, one every 4 s (of the account's whole
  // 1,200 it would be one a second, and n workers together would poll n times the share).
  it.each([
    { limit: "the account's limit", requestsPerMinute: 600, share: 1, gapMs: 2000 },
    { limit: "a shard's part of the limit", requestsPerMinute: 1200, share: 4, gapMs: 4000 },
  ])("keeps polls to a small share of $limit, however long the jobs run", async ({ requestsPerMinute, share, gapMs }) => {
    const e = await emulator({ jobDelayMs: 900, requestsPerMinute });
    const d = destination(e, { pollIntervalMs: 50, maxPollIntervalMs: 100 });
    const pacer = pacerFor(d, { share });
    await d.describe(); // an answer's X-Rate-Limit tells the destination the account's limit
    expect(pacer.current.requestsPerWindow).toBe(requestsPerMinute / share);
    for (const name of ["A", "B", "C"]) {
      expect((await d.write([{ key: name, fields: { name } }]))[0]).toMatchObject({ status: "created" });
    }
    const at = e.calls().filter((c) => c.endpoint === "GET /api/v2/job_statuses/show_many").map((c) => c.at);
    // A job's own schedule alone (50 ms, then 100 ms) would poll each 1.8 s job about 18 times.
    const span = at[at.length - 1]! - at[0]!;
    expect(at.length).toBeLessThanOrEqual(3 + Math.floor(span / gapMs) + 1);
    expect(at.length).toBeGreaterThanOrEqual(3);
  }, 60_000);

  it("fails a write whose job Zendesk no longer knows as retryable, and a job past its deadline too", async () => {
    const e = await emulator({ jobDelayMs: 60_000 });
    const forgotten = destination(e, { pollIntervalMs: 5, maxPollIntervalMs: 5 });
    const pending = forgotten.write([{ key: "f", fields: { name: "F" } }]).catch((err: unknown) => err);
    while (e.jobsAccepted() === 0) await new Promise((r) => setTimeout(r, 5));
    e.forgetJobs();
    expect(await pending).toMatchObject({ code: "JOB_UNKNOWN", retryable: true });
    const slow = destination(e, { pollIntervalMs: 5, maxPollIntervalMs: 5, pollTimeoutMs: 300 });
    expect(await slow.write([{ key: "s", fields: { name: "S" } }]).catch((err: unknown) => err)).toMatchObject({ code: "JOB_TIMEOUT", retryable: true });
  });

  it("fails every record of a job that failed or was killed, with the job's reason, and writes nothing", async () => {
    const e = await emulator({ faults: { jobFailRate: 1 } });
    const d = destination(e);
    const failed = await d.write([{ key: "x", fields: { name: "X" } }, { key: "y", fields: { name: "Y" } }]);
    expect(failed.map((o) => o.status)).toEqual(["failed", "failed"]);
    expect(failed[0]).toMatchObject({ code: "JOB_FAILED", message: expect.stringMatching(/^Zendesk job \w+ failed: Injected job failure.*nothing in it was applied$/) as unknown });
    e.setFaults({ jobKillRate: 1 });
    const killed = (await d.write([{ key: "x", fields: { name: "X" } }]))[0]!;
    expect(killed).toMatchObject({ status: "failed", code: "JOB_KILLED" });
    expect(e.records("users")).toEqual([]);
    // Nothing in such a job was judged: its rows are tried again by a later run, not held until they change.
    for (const outcome of [failed[0]!, killed]) expect(failureKind(outcome as FailedOutcome)).toBe("transient");
  });

  it("retries a full job queue (429) until the jobs ahead finish, and every record lands once", async () => {
    const e = await emulator({ maxQueuedJobs: 1, jobDelayMs: 40 });
    const rows = Array.from({ length: 400 }, (_, i) => ({ key: `q${i}`, fields: { name: `Q${i}` } }));
    const summary = await sendRecords(destination(e), once(rows), { concurrency: 4, baseDelayMs: 10 });
    expect(e.calls().some((c) => c.status === 429)).toBe(true);
    expect([summary.created, summary.failed, summary.notSent]).toEqual([400, 0, 0]);
    expect(e.records("users")).toHaveLength(400);
  });

  it("ends the run with a clear, non-retryable error when data imports are not enabled", async () => {
    const e = await emulator({ dataImports: false });
    const d = destination(e);
    const error = await d.write([{ key: "x", fields: { name: "X" } }]).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(DestinationRequestError);
    expect(error).toMatchObject({ code: "IMPORTS_DISABLED", exhausted: true, retryable: false, message: expect.stringMatching(/data imports are not enabled for this account/) as unknown });
    const summary = await sendRecords(destination(e), once([{ key: "y", fields: { name: "Y" } }]), {});
    expect(summary).toMatchObject({ created: 0, notSent: 1 });
    expect(summary.stopped).toMatch(/data imports are not enabled/);
    expect(e.callCount("POST /api/v2/users/create_or_update_many")).toBe(2);
  });
});

describe("limits", () => {
  it("pauses for Retry-After on a 429 and takes the account's limit from X-Rate-Limit (capped by ZENDESK_REQUESTS_PER_MINUTE)", async () => {
    const e = await emulator({ requestsPerMinute: 700, faults: { rateLimitRate: 0.3, seed: 2 } });
    const d = destination(e);
    const pacer = pacerFor(d);
    expect(pacer.current.requestsPerWindow).toBe(200); // the lowest plan, before any answer
    // When each request left and when each 429 came back, as the pacer sees them: on a loaded machine the next
    // request may come late anyway, so what is checked is that none came early, not how long the pacer itself waited.
    const started: number[] = [];
    const throttledAt: number[] = [];
    const paced = pacer.request.bind(pacer);
    pacer.request = (call) =>
      paced(async () => {
        started.push(Date.now());
        try {
          return await call();
        } catch (error) {
          if (error instanceof DestinationRequestError && error.throttled) throttledAt.push(Date.now());
          throw error;
        }
      });
    const rows = Array.from({ length: 300 }, (_, i) => ({ key: `r${i}`, fields: { name: `R${i}` } }));
    const summary = await sendRecords(d, once(rows), { pacer, baseDelayMs: 10 });
    expect([summary.created, summary.failed, summary.notSent]).toEqual([300, 0, 0]);
    expect(summary.throttled).toBeGreaterThan(0);
    expect(throttledAt.length).toBe(summary.throttled);
    expect(pacer.current).toMatchObject({ requestsPerWindow: 700, windowMs: 60_000 });
    // The pacer held requests back for the Retry-After (1 s) of every 429: a request that left after a 429 came back
    // (not in the same tick, where a request already let through starts) left at least a second after it.
    const after = (at: number): number[] => started.filter((s) => s > at + 2);
    expect(after(throttledAt[0]!).length).toBeGreaterThan(0); // the throttled request itself was sent again
    for (const at of throttledAt) expect(Math.min(...after(at), Infinity) - at).toBeGreaterThanOrEqual(999);

    const capped = destination(e, { requestsPerMinute: 300 });
    expect(capped.limits.requestsPerWindow).toBe(300);
    e.setFaults({});
    const cappedPacer = pacerFor(capped);
    await capped.describe();
    expect(cappedPacer.current.requestsPerWindow).toBe(300);
  }, 60_000);

  it("reads no token into any error: refused credentials, throttling, server errors, bad environment", async () => {
    const e = await emulator();
    const wrong = destination(e, {}, { auth: { kind: "token", email: EMAIL, token: `${TOKEN}-wrong` } });
    const messages: string[] = [];
    const collect = async (p: Promise<unknown>): Promise<void> => {
      const error = await p.then(() => undefined, (err: unknown) => err);
      expect(error).toBeInstanceOf(Error);
      messages.push(String((error as Error).message), JSON.stringify(error), String((error as Error).stack));
    };
    await collect(wrong.write([{ key: "x", fields: { name: "X" } }]));
    expect(await wrong.checkMapping()).toEqual([expect.stringMatching(/^cannot read the fields of Zendesk users: Zendesk 401/) as unknown]);
    e.setFaults({ serverErrorRate: 1 });
    await collect(destination(e).describe());
    e.setFaults({ rateLimitRate: 1 });
    await collect(destination(e).readBack(["a"], []));
    const oauth = destination(e, {}, { auth: { kind: "oauth", token: TOKEN } });
    e.setFaults({});
    await collect(oauth.write([{ key: "x", fields: { name: "X" } }]));
    await collect(Promise.resolve().then(() => zendeskConnectionFromEnv({ ZENDESK_URL: "http://zendesk.example.com", ZENDESK_EMAIL: EMAIL, ZENDESK_API_TOKEN: TOKEN }, "c")));
    await collect(Promise.resolve().then(() => zendeskConnectionFromEnv({ ZENDESK_URL: e.url, ZENDESK_API_TOKEN: TOKEN }, "c")));
    const base64 = Buffer.from(`${EMAIL}/token:${TOKEN}`).toString("base64");
    for (const message of messages) {
      expect(message).not.toContain(TOKEN);
      expect(message).not.toContain(base64);
    }
    expect(messages.join("\n")).toMatch(/Zendesk 401 on POST \/api\/v2\/users\/create_or_update_many: Couldn't authenticate you/);
  });
});

describe("read-back, removals and audiences", () => {
  it("reads back users by external_id (show_many) and by email (search), with custom values and updated_at", async () => {
    const e = await emulator();
    e.seed("users", { name: "Ada", external_id: "Ext-1", email: "Ada@X.io", user_fields: { plan_tier: "growth", vip: true } }, "2030-01-01T00:00:00.000Z");
    const byExternal = destination(e);
    const found = await byExternal.readBack(["ext-1", "EXT-1", "missing"], ["user_fields.plan_tier", "user_fields.vip", "updated_at", "name"]);
    expect([...found.keys()]).toEqual(["ext-1", "EXT-1"]);
    expect(found.get("ext-1")).toMatchObject({
      modifiedAt: "2030-01-01T00:00:00.000Z",
      values: { "user_fields.plan_tier": "growth", "user_fields.vip": true, updated_at: "2030-01-01T00:00:00.000Z", name: "Ada" },
    });
    expect(e.callCount("GET /api/v2/users/show_many")).toBe(1);
    const byEmail = destination(e, { matchField: "email" });
    const viaSearch = await byEmail.readBack(["ada@x.io", "nobody@x.io"], ["name"]);
    expect(viaSearch.get("ada@x.io")).toMatchObject({ recordId: found.get("ext-1")!.recordId, values: { name: "Ada" } });
    expect(viaSearch.has("nobody@x.io")).toBe(false);
    expect(e.callCount("GET /api/v2/users/search")).toBe(2);
  });

  it("deletes the records of removed keys (destroy_many), reports absent ones, and never creates", async () => {
    const e = await emulator();
    const d = destination(e);
    await d.write([{ key: "a", fields: { name: "A" } }, { key: "b", fields: { name: "B" } }, { key: "c", fields: { name: "C" } }]);
    const out = await d.remove(["A", "b", "zz"], "delete", ["name"]);
    expect(out).toEqual([
      { key: "A", status: "deleted", recordId: expect.any(String) as unknown },
      { key: "b", status: "deleted", recordId: expect.any(String) as unknown },
      { key: "zz", status: "absent" },
    ]);
    expect(e.records("users").map((u) => u.external_id)).toEqual(["c"]);
    expect(e.callCount("DELETE /api/v2/users/destroy_many")).toBe(1);
  });

  it("clears the mapped fields (null) of removed keys by id (update_many), leaving other fields alone", async () => {
    const e = await emulator();
    const d = destination(e, { fields: [{ to: "notes" }, { to: "user_fields.plan_tier" }] });
    await d.write([{ key: "a", fields: { name: "A", notes: "VIP", "user_fields.plan_tier": "growth", "user_fields.health_note": "ok" } }]);
    const out = await d.remove(["a", "gone"], "clear", ["notes", "user_fields.plan_tier"]);
    expect(out.map((o) => o.status)).toEqual(["cleared", "absent"]);
    expect(e.find("users", "external_id", "a")).toMatchObject({ name: "A", notes: null, user_fields: { plan_tier: null, health_note: "ok" } });
    expect(e.records("users")).toHaveLength(1);
    expect(e.callCount("PUT /api/v2/users/update_many")).toBe(1);
  });

  it("adds and removes the audience's tag, reporting unchanged members and unknown keys", async () => {
    const e = await emulator();
    const d = destination(e, { tag: "renewal_risk" });
    await d.write([{ key: "a", fields: { name: "A" } }, { key: "b", fields: { name: "B" } }]);
    const added = await d.audience(["a", "b", "nope"], []);
    expect(added.map((o) => [o.key, o.status])).toEqual([
      ["nope", "failed"],
      ["a", "added"],
      ["b", "added"],
    ]);
    expect(e.find("users", "external_id", "a")?.tags).toEqual(["renewal_risk"]);
    expect((await d.audience(["a"], ["b"])).map((o) => [o.key, o.status])).toEqual([
      ["a", "unchanged"],
      ["b", "removed"],
    ]);
    expect(e.find("users", "external_id", "b")?.tags).toEqual([]);
  });

  it("writes, reads back and deletes organizations by external_id", async () => {
    const e = await emulator({ organizationFields: [{ key: "tier", type: "dropdown", options: ["gold", "silver"] }] });
    const d = destination(e, { object: "organizations", fields: [{ to: "name" }, { to: "organization_fields.tier" }] });
    expect(await d.checkMapping()).toEqual([]);
    const out = await d.write([{ key: "ORG-1", fields: { name: "Acme", "organization_fields.tier": "gold" } }, { key: "org-2", fields: { name: "acme", "organization_fields.tier": "gold" } }]);
    expect(out.map((o) => o.status)).toEqual(["created", "failed"]);
    expect(out[1]).toMatchObject({ message: expect.stringContaining("has already been taken") as unknown });
    expect((await d.readBack(["org-1"], ["organization_fields.tier"])).get("org-1")?.values).toEqual({ "organization_fields.tier": "gold" });
    expect((await d.remove(["org-1"], "delete", []))[0]).toMatchObject({ status: "deleted" });
    expect(e.records("organizations")).toEqual([]);
  });
});

describe("mapping check and drift (user_fields)", () => {
  it("reports unknown fields, custom fields of the other object, mistyped columns and values the dropdown refuses", async () => {
    const e = await emulator();
    const d = destination(e, {
      fields: [
        { to: "user_fields.plan_tier", allowed: ["starter", "growth", "platinum"] },
        { to: "user_fields.vip" },
        { to: "user_fields.seats" },
        { to: "user_fields.nope" },
        { to: "organization_fields.tier" },
        { to: "updated_at" },
        { to: "notes" },
      ],
    });
    expect(await d.checkMapping({ "user_fields.vip": "string", "user_fields.seats": "number", notes: "string" })).toEqual([
      "fields: user_fields.plan_tier allows platinum in the contract, which Zendesk users does not accept (its values: starter, growth, enterprise)",
      "fields: user_fields.vip is a checkbox field in Zendesk users; a string column cannot be written to it",
      "fields: user_fields.nope is not a field of Zendesk users",
      "fields: organization_fields.tier is not a field of Zendesk users",
      "fields: Zendesk users field updated_at is read-only",
      "fields: organization_fields.tier names a custom field of the other object; custom fields of Zendesk users are user_fields.<key>",
    ]);
    expect(await destination(e, { fields: [{ to: "user_fields.plan_tier", allowed: ["growth"] }] }).checkMapping({ "user_fields.plan_tier": "string" })).toEqual([]);
  });

  it("stops on drift: a dropdown option removed, a field retyped or deactivated since the last describe", async () => {
    const e = await emulator();
    const d = destination(e, { fields: [{ to: "user_fields.plan_tier", allowed: ["starter", "enterprise"] }, { to: "user_fields.seats" }, { to: "user_fields.health_note" }] });
    const before = await d.describe();
    expect(before.get("user_fields.plan_tier")).toEqual({ type: "dropdown", writable: true, matchable: false, allowed: ["starter", "growth", "enterprise"] });
    expect(before.get("external_id")).toMatchObject({ matchable: true });
    expect(await d.checkMapping({ "user_fields.seats": "number" })).toEqual([]);
    e.setFields("users", [
      { key: "plan_tier", type: "dropdown", options: ["starter", "growth"] },
      { key: "seats", type: "text" },
      { key: "health_note", type: "text", active: false },
    ]);
    const after = await d.describe();
    expect(schemaDrift(before, after, ["user_fields.plan_tier", "user_fields.seats", "user_fields.health_note"]).map((x) => [x.field, x.change])).toEqual([
      ["user_fields.plan_tier", "allowed"],
      ["user_fields.seats", "type"],
      ["user_fields.health_note", "writable"],
    ]);
    expect(await d.checkMapping({ "user_fields.seats": "number" })).toEqual([
      "fields: user_fields.plan_tier allows enterprise in the contract, which Zendesk users does not accept (its values: starter, growth)",
      "fields: Zendesk users field user_fields.health_note is read-only",
    ]);
  });
});

describe("contract rules and environment", () => {
  const base = { fields: { plan: "user_fields.plan_tier" } };
  it("accepts users by external_id or email and organizations by external_id; refuses other objects, match fields and tags", () => {
    const ok = (destination: ContractInput["destination"]): boolean => contractSchema.safeParse({ name: "c", key: "k", destination, ...base }).success;
    expect(ok({ type: "zendesk", object: "users", match: { field: "email" } })).toBe(true);
    expect(ok({ type: "zendesk", object: "organizations", match: { field: "external_id" } })).toBe(true);
    expect(ok({ type: "zendesk", object: "users", match: { field: "external_id" }, mode: "audience", list_id: "renewal_risk" })).toBe(true);
    const issues = (destination: ContractInput["destination"]): string[] =>
      contractSchema.safeParse({ name: "c", key: "k", destination, ...base }).error?.issues.map((i) => `${i.path.join(".")}: ${i.message}`) ?? [];
    expect(issues({ type: "zendesk", object: "tickets", match: { field: "external_id" } })).toEqual(["destination.object: Zendesk objects are users or organizations (got tickets)"]);
    expect(issues({ type: "zendesk", object: "organizations", match: { field: "email" } })).toEqual(["destination.match.field: Zendesk organizations match by external_id (got email)"]);
    expect(issues({ type: "zendesk", object: "users", match: { field: "phone" } })).toEqual(["destination.match.field: Zendesk users match by external_id or email (got phone)"]);
    expect(issues({ type: "zendesk", object: "users", match: { field: "email" }, mode: "audience", list_id: "Renewal Risk" })).toEqual([
      'destination.list_id: a Zendesk tag is lower case, without spaces (letters, digits, _ - : / .); got "Renewal Risk"',
    ]);
  });

  it("builds the destination from ZENDESK_* variables (API token or OAuth) and refuses incomplete or unsafe ones", async () => {
    const e = await emulator({ oauthToken: "oauth-abc" });
    const c = contract({ destination: { type: "zendesk", object: "users", match: { field: "external_id" } }, fields: { first_name: "name" } });
    const viaToken = createDestination(c, { ZENDESK_URL: `${e.url}/api/v2/`, ZENDESK_EMAIL: EMAIL, ZENDESK_API_TOKEN: TOKEN });
    expect(viaToken.description).toBe("zendesk users by external_id");
    expect(await viaToken.checkMapping()).toEqual([]);
    const viaOAuth = createDestination(c, { ZENDESK_URL: e.url, ZENDESK_OAUTH_TOKEN: "oauth-abc" });
    expect(await viaOAuth.checkMapping()).toEqual([]);
    const refused = (env: NodeJS.ProcessEnv): string => {
      try {
        createDestination(c, env);
        return "accepted";
      } catch (error) {
        return (error as Error).message;
      }
    };
    expect(refused({})).toBe("contract c: set ZENDESK_URL to your Zendesk URL (https://<subdomain>.zendesk.com)");
    expect(refused({ ZENDESK_URL: "http://acme.zendesk.com", ZENDESK_OAUTH_TOKEN: "t" })).toMatch(/must be an https URL/);
    expect(refused({ ZENDESK_URL: e.url, ZENDESK_EMAIL: EMAIL })).toMatch(/set ZENDESK_EMAIL and ZENDESK_API_TOKEN \(API token\), or ZENDESK_OAUTH_TOKEN \(OAuth\)$/);
    expect(refused({ ZENDESK_URL: e.url, ZENDESK_EMAIL: EMAIL, ZENDESK_API_TOKEN: TOKEN, ZENDESK_OAUTH_TOKEN: "t" })).toMatch(/not both$/);
    expect(refused({ ZENDESK_URL: e.url, ZENDESK_OAUTH_TOKEN: "t", ZENDESK_REQUESTS_PER_MINUTE: "lots" })).toMatch(/ZENDESK_REQUESTS_PER_MINUTE must be a positive whole number/);
    expect(createDestination(c, { ZENDESK_URL: e.url, ZENDESK_OAUTH_TOKEN: "t", ZENDESK_REQUESTS_PER_MINUTE: "120" }).limits.requestsPerWindow).toBe(120);
  });
});
