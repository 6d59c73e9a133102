/**
 * The Zendesk emulator on the wire (plain fetch, as the destination talks to it): auth, bulk jobs and their life
 * cycle, per-object results with index, validation of standard and custom values, unique emails / external ids /
 * organization names, show_many, search, destroy_many, update_many (tags, individual updates), the per-minute
 * limit and its headers, the job-queue cap, fault injection, and call counts.
 */
import { setTimeout as delay } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { startZendeskEmulator, type ZendeskEmulator, type ZendeskEmulatorOptions } from "../../emulators/zendesk/index.ts";
import { createDestination } from "../../src/destinations/index.ts";
import { contractSchema } from "../../src/contract/schema.ts";
import { runCli, startCli } from "../support/cli.ts";

const running: ZendeskEmulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((e) => e.close()));
});

async function start(options: ZendeskEmulatorOptions = {}): Promise<ZendeskEmulator> {
  const e = await startZendeskEmulator({
    jobDelayMs: 5,
    userFields: [
      { key: "plan_tier", type: "dropdown", options: ["starter", "growth"] },
      { key: "seats", type: "integer" },
      { key: "vip", type: "checkbox" },
      { key: "tiers", type: "multiselect", options: ["a", "b"] },
      { key: "renewal", type: "date" },
    ],
    ...options,
  });
  running.push(e);
  return e;
}

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

function basic(e: ZendeskEmulator): string {
  return `Basic ${Buffer.from(`${e.credentials.email}/token:${e.credentials.apiToken}`).toString("base64")}`;
}

async function call(e: ZendeskEmulator, method: string, path: string, body?: unknown, authorization: string | null = basic(e)): Promise<Answer> {
  const res = await fetch(`${e.url}${path}`, {
    method,
    headers: { ...(authorization ? { Authorization: authorization } : {}), ...(body === undefined ? {} : { "Content-Type": "application/json" }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

type Job = { id: string; status: string; total: number; progress: number; message: string | null; results: Record<string, unknown>[] | null; url: string };

async function finished(e: ZendeskEmulator, answer: Answer): Promise<Job> {
  let job = answer.body.job_status as Job;
  const seen = [job.status];
  while (!["completed", "failed", "killed"].includes(job.status)) {
    await delay(3);
    job = (await call(e, "GET", `/api/v2/job_statuses/${job.id}.json`)).body.job_status as Job;
    if (seen.at(-1) !== job.status) seen.push(job.status);
  }
  return Object.assign(job, { seen });
}

describe("auth and limits", () => {
  it("takes email/token:TOKEN basic auth or the OAuth bearer token, and refuses anything else without rate-limit headers", async () => {
    const e = await start({ email: "a@b.io", apiToken: "tok", oauthToken: "oauth" });
    expect((await call(e, "GET", "/api/v2/user_fields")).status).toBe(200);
    expect((await call(e, "GET", "/api/v2/user_fields.json", undefined, "Bearer oauth")).status).toBe(200);
    for (const auth of [null, "Bearer tok", `Basic ${Buffer.from("a@b.io:tok").toString("base64")}`, `Basic ${Buffer.from("a@b.io/token:nope").toString("base64")}`]) {
      const refused = await call(e, "GET", "/api/v2/user_fields", undefined, auth);
      expect(refused.status).toBe(401);
      expect(refused.body.error).toBe("Couldn't authenticate you");
      expect(refused.headers.get("x-rate-limit")).toBeNull();
    }
  });

  it("limits requests per minute: X-Rate-Limit headers on every answer, 429 with Retry-After beyond, refused calls not counted", async () => {
    const e = await start({ requestsPerMinute: 3 });
    const answers = [];
    for (let i = 0; i < 5; i += 1) answers.push(await call(e, "GET", "/api/v2/user_fields"));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 429, 429]);
    expect(answers.map((a) => a.headers.get("x-rate-limit-remaining"))).toEqual(["2", "1", "0", "0", "0"]);
    expect(answers[0]!.headers.get("x-rate-limit")).toBe("3");
    expect(Number(answers[3]!.headers.get("retry-after"))).toBeGreaterThanOrEqual(59);
    expect(answers[3]!.body.error).toBe("APIRateLimitExceeded");
    expect(e.callCount("GET /api/v2/user_fields")).toBe(5);
  });

  it("refuses bulk jobs past the queue cap with 429, and accepts again once the jobs ahead finished", async () => {
    const e = await start({ maxQueuedJobs: 2, jobDelayMs: 50 });
    const post = (i: number) => call(e, "POST", "/api/v2/users/create_or_update_many", { users: [{ external_id: `q${i}`, name: `Q${i}` }] });
    const [a, b, c] = [await post(1), await post(2), await post(3)];
    expect([a.status, b.status, c.status]).toEqual([200, 200, 429]);
    expect(c.body.description).toMatch(/queued jobs/);
    expect(c.headers.get("retry-after")).toBe("1");
    await finished(e, a);
    await finished(e, b);
    expect((await post(3)).status).toBe(200);
    expect(e.jobsAccepted()).toBe(3);
  });
});

describe("create_or_update_many", () => {
  it("answers a queued job that goes working then completed, with one indexed result per object in request order", async () => {
    const e = await start({ jobDelayMs: 150 });
    const started = await call(e, "POST", "/api/v2/users/create_or_update_many.json", {
      users: [
        { external_id: "E-1", email: "Ada@X.io", name: "Ada", user_fields: { plan_tier: "growth", seats: 3, vip: true, tiers: ["a"], renewal: "2027-01-31" } },
        { email: "grace@x.io", name: "Grace" },
        { external_id: "e-3", name: "Bad", user_fields: { plan_tier: "gold" } },
        { external_id: "e-4", user_fields: { seats: "x" } },
        { external_id: "e-5", name: "Mail", email: "not-an-email" },
      ],
    });
    expect(started.status).toBe(200);
    expect(started.body.job_status).toMatchObject({ status: "queued", total: 5, progress: 0, results: null, url: expect.stringMatching(/\/api\/v2\/job_statuses\/\w+\.json$/) as unknown });
    const job = await finished(e, started);
    // Polled every few ms, the job is seen queued first and completed last (working in between, load permitting).
    const seen = (job as Job & { seen: string[] }).seen;
    expect([seen[0], seen.at(-1)]).toEqual(["queued", "completed"]);
    expect(seen.filter((state) => state !== "working")).toEqual(["queued", "completed"]);
    expect(job.progress).toBe(5);
    expect(job.results!.map((r) => [r.index, r.status])).toEqual([
      [0, "Created"],
      [1, "Created"],
      [2, "Failed"],
      [3, "Failed"],
      [4, "Failed"],
    ]);
    expect(job.results![2]).toMatchObject({ error: "UserCreateError", details: "plan_tier: gold is not a valid option", success: false });
    expect(job.results![3]!.details).toBe("Name: cannot be blank, seats: is invalid");
    expect(job.results![4]!.details).toBe("Email: not-an-email is not properly formatted");
    // Emails are stored lower-cased; external ids and emails match case-insensitively.
    expect(e.find("users", "email", "ADA@x.io")).toMatchObject({ email: "ada@x.io", external_id: "E-1", user_fields: { plan_tier: "growth", seats: 3, vip: true, tiers: ["a"] } });
    const again = await finished(
      e,
      await call(e, "POST", "/api/v2/users/create_or_update_many", {
        users: [
          { external_id: "e-1", name: "Ada L." },
          { email: "GRACE@x.io", external_id: "g-1", user_fields: { vip: null } },
          // Matched by external_id to Ada, but the email belongs to Grace.
          { external_id: "E-1", email: "grace@x.io", name: "Thief" },
        ],
      }),
    );
    expect(again.results!.map((r) => r.status)).toEqual(["Updated", "Updated", "Failed"]);
    expect(again.results![2]!.details).toBe("Email: grace@x.io has already been taken");
    expect(e.find("users", "external_id", "e-1")?.name).toBe("Ada L.");
    expect(e.records("users")).toHaveLength(2);
    expect(e.find("users", "external_id", "G-1")?.email).toBe("grace@x.io");
  });

  it("shows the statuses of many jobs at once (show_many), leaving out ids it does not know", async () => {
    const e = await start({ jobDelayMs: 5 });
    const a = (await call(e, "POST", "/api/v2/users/create_or_update_many", { users: [{ external_id: "j-1", name: "J1" }] })).body.job_status as Job;
    const b = (await call(e, "POST", "/api/v2/users/create_or_update_many", { users: [{ external_id: "j-2", name: "J2" }, { external_id: "j-3", name: "J3" }] })).body.job_status as Job;
    await delay(40);
    const many = await call(e, "GET", `/api/v2/job_statuses/show_many.json?ids=${a.id},nope,${b.id}`);
    expect(many.status).toBe(200);
    const statuses = many.body.job_statuses as Job[];
    expect(statuses.map((j) => [j.id, j.status, j.total, j.results?.length])).toEqual([
      [a.id, "completed", 1, 1],
      [b.id, "completed", 2, 2],
    ]);
    expect((await call(e, "GET", "/api/v2/job_statuses/show_many")).status).toBe(400);
    const tooMany = Array.from({ length: 101 }, (_, i) => `id${i}`).join(",");
    expect((await call(e, "GET", `/api/v2/job_statuses/show_many?ids=${tooMany}`)).status).toBe(400);
    // The single-job route still answers, and "show_many" is never taken for a job id.
    expect((await call(e, "GET", `/api/v2/job_statuses/${a.id}`)).body.job_status).toMatchObject({ id: a.id, status: "completed" });
    expect(e.callCount("GET /api/v2/job_statuses/show_many")).toBe(3);
  });

  it("refuses more than 100 objects, a body without the list, and bulk imports when they are disabled (403)", async () => {
    const e = await start();
    const many = Array.from({ length: 101 }, (_, i) => ({ external_id: `m${i}`, name: "M" }));
    const tooMany = await call(e, "POST", "/api/v2/users/create_or_update_many", { users: many });
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.error).toBe("RecordInvalid");
    expect((await call(e, "POST", "/api/v2/organizations/create_or_update_many", { users: [] })).status).toBe(400);
    e.setDataImports(false);
    const off = await call(e, "POST", "/api/v2/users/create_or_update_many", { users: [{ external_id: "x", name: "X" }] });
    expect(off.status).toBe(403);
    expect(off.body.description).toMatch(/^Data imports are not enabled/);
    expect(e.records("users")).toEqual([]);
  });

  it("keeps organization names unique and matches organizations by external_id", async () => {
    const e = await start({ organizationFields: [{ key: "tier", type: "dropdown", options: ["gold"] }] });
    const job = await finished(
      e,
      await call(e, "POST", "/api/v2/organizations/create_or_update_many", {
        organizations: [
          { external_id: "o1", name: "Acme", organization_fields: { tier: "gold" }, domain_names: ["acme.io"] },
          { external_id: "o2", name: "ACME" },
          { external_id: "O1", notes: "renewal soon" },
        ],
      }),
    );
    expect(job.results!.map((r) => r.status)).toEqual(["Created", "Failed", "Updated"]);
    expect(job.results![1]!.details).toBe("Name: ACME has already been taken");
    expect(e.find("organizations", "external_id", "o1")).toMatchObject({ name: "Acme", notes: "renewal soon", domain_names: ["acme.io"], organization_fields: { tier: "gold" } });
  });
});

describe("reads, deletes and updates by id", () => {
  it("shows many by ids or external_ids, searches users by email or external_id, and destroys many as a job", async () => {
    const e = await start();
    const a = e.seed("users", { name: "A", email: "a@x.io", external_id: "ea" });
    e.seed("users", { name: "B", email: "b@x.io", external_id: "eb" });
    const byExternal = await call(e, "GET", "/api/v2/users/show_many?external_ids=EA,eb,zz");
    expect((byExternal.body.users as { name: string }[]).map((u) => u.name)).toEqual(["A", "B"]);
    const byId = await call(e, "GET", `/api/v2/users/show_many.json?ids=${String(a.id)}`);
    expect((byId.body.users as { email: string }[]).map((u) => u.email)).toEqual(["a@x.io"]);
    const search = await call(e, "GET", `/api/v2/users/search?query=${encodeURIComponent('email:"A@X.IO"')}`);
    expect(search.body).toMatchObject({ count: 1, users: [{ external_id: "ea" }] });
    expect((await call(e, "GET", "/api/v2/users/search?external_id=EB")).body.count).toBe(1);
    expect((await call(e, "GET", "/api/v2/users/show_many")).status).toBe(400);
    const destroyed = await finished(e, await call(e, "DELETE", `/api/v2/users/destroy_many?ids=${String(a.id)},999`));
    expect(destroyed.results!.map((r) => [r.index, r.status, r.success])).toEqual([
      [0, "Deleted", true],
      [1, "Failed", false],
    ]);
    expect(e.records("users").map((u) => u.name)).toEqual(["B"]);
  });

  it("adds and removes tags on many ids, and updates objects individually by id without ever creating one", async () => {
    const e = await start();
    const a = e.seed("users", { name: "A", external_id: "ea", tags: ["keep"] });
    const b = e.seed("users", { name: "B", external_id: "eb" });
    await finished(e, await call(e, "PUT", `/api/v2/users/update_many?ids=${String(a.id)},${String(b.id)}`, { user: { additional_tags: ["vip"] } }));
    expect(e.find("users", "external_id", "ea")?.tags).toEqual(["keep", "vip"]);
    await finished(e, await call(e, "PUT", `/api/v2/users/update_many?ids=${String(a.id)}`, { user: { remove_tags: ["vip"] } }));
    expect([e.find("users", "external_id", "ea")?.tags, e.find("users", "external_id", "eb")?.tags]).toEqual([["keep"], ["vip"]]);
    const individual = await finished(
      e,
      await call(e, "PUT", "/api/v2/users/update_many", { users: [{ id: a.id, notes: "n", user_fields: { seats: null } }, { id: 42, name: "Ghost" }, { id: b.id, name: null }] }),
    );
    expect(individual.results!.map((r) => [r.index, r.status])).toEqual([
      [0, "Updated"],
      [1, "Failed"],
      [2, "Failed"],
    ]);
    expect(individual.results![2]!.details).toBe("Name: cannot be blank");
    expect(e.records("users")).toHaveLength(2);
    expect(e.find("users", "external_id", "ea")?.notes).toBe("n");
  });

  it("lists custom fields with types and dropdown options, and reflects a changed declaration", async () => {
    const e = await start();
    const fields = (await call(e, "GET", "/api/v2/user_fields")).body.user_fields as { key: string; type: string; active: boolean; custom_field_options?: { value: string }[] }[];
    expect(fields.map((f) => [f.key, f.type])).toEqual([
      ["plan_tier", "dropdown"],
      ["seats", "integer"],
      ["vip", "checkbox"],
      ["tiers", "multiselect"],
      ["renewal", "date"],
    ]);
    expect(fields[0]!.custom_field_options!.map((o) => o.value)).toEqual(["starter", "growth"]);
    e.setFields("users", [{ key: "plan_tier", type: "text", active: false }]);
    expect((await call(e, "GET", "/api/v2/user_fields")).body.user_fields).toEqual([expect.objectContaining({ key: "plan_tier", type: "text", active: false })]);
    expect((await call(e, "GET", "/api/v2/organization_fields")).body).toMatchObject({ organization_fields: [], count: 0 });
  });
});

describe("faults", () => {
  it("injects 5xx, 429 with Retry-After, failed and killed jobs, reproducibly by seed, and counts every call", async () => {
    const e = await start({ faults: { serverErrorRate: 1 } });
    const failed = await call(e, "GET", "/api/v2/user_fields");
    expect([502, 503]).toContain(failed.status);
    e.setFaults({ rateLimitRate: 1 });
    const limited = await call(e, "GET", "/api/v2/user_fields");
    expect([limited.status, limited.headers.get("retry-after")]).toEqual([429, "1"]);
    e.setFaults({ jobFailRate: 1 });
    const job = await finished(e, await call(e, "POST", "/api/v2/users/create_or_update_many", { users: [{ external_id: "x", name: "X" }] }));
    expect(job).toMatchObject({ status: "failed", message: expect.stringMatching(/^Injected job failure/) as unknown, results: [] });
    e.setFaults({ jobKillRate: 1 });
    expect((await finished(e, await call(e, "POST", "/api/v2/users/create_or_update_many", { users: [{ external_id: "x", name: "X" }] }))).status).toBe("killed");
    expect(e.records("users")).toEqual([]);
    const statuses = (seed: number) =>
      startZendeskEmulator({ faults: { serverErrorRate: 0.5, seed } }).then(async (z) => {
        running.push(z);
        const out = [];
        for (let i = 0; i < 8; i += 1) out.push((await call(z, "GET", "/api/v2/user_fields")).status);
        return out;
      });
    expect(await statuses(9)).toEqual(await statuses(9));
    expect(e.callCount("POST /api/v2/users/create_or_update_many")).toBe(2);
    expect(e.callCount()).toBeGreaterThanOrEqual(4);
    e.reset();
    expect(e.callCount()).toBe(0);
  });
});

describe("dbt-activation emulate zendesk", () => {
  it("runs with the declared custom fields and prints the variables a sync needs, which work as printed", async () => {
    const child = startCli(["emulate", "zendesk", "--field", "plan_tier:dropdown=starter|growth", "--field", "seats:integer", "--organization-field", "tier:text"]);
    try {
      let out = "";
      await new Promise<void>((resolve, reject) => {
        child.stdout.on("data", (chunk: Buffer) => {
          out += chunk.toString();
          if (out.includes("ZENDESK_OAUTH_TOKEN")) resolve();
        });
        child.catch(reject);
      });
      const env = Object.fromEntries([...out.matchAll(/export (ZENDESK_\w+)=(\S+)/g)].map((m) => [m[1]!, m[2]!]));
      expect(Object.keys(env)).toEqual(["ZENDESK_URL", "ZENDESK_EMAIL", "ZENDESK_API_TOKEN", "ZENDESK_OAUTH_TOKEN"]);
      const spec = contractSchema.parse({ name: "c", key: "k", destination: { type: "zendesk", object: "users", match: { field: "email" } }, fields: { plan: "user_fields.plan_tier" } });
      const contract = { spec, model: { uniqueId: "model.t.m", name: "m", relation: '"m"', file: "models/m.yml" } };
      const { ZENDESK_OAUTH_TOKEN: _oauth, ...tokenEnv } = env;
      const schema = await createDestination(contract, tokenEnv).describe();
      expect(schema.get("user_fields.plan_tier")).toMatchObject({ type: "dropdown", allowed: ["starter", "growth"] });
      expect(schema.get("user_fields.seats")).toMatchObject({ type: "integer" });
      expect(await createDestination(contract, { ZENDESK_URL: env.ZENDESK_URL, ZENDESK_OAUTH_TOKEN: _oauth }).checkMapping()).toEqual([]);
    } finally {
      child.kill("SIGTERM");
      await child;
    }
    const bad = await runCli(["emulate", "zendesk", "--field", "plan_tier:color"]);
    expect(bad.exitCode).not.toBe(0);
    expect(bad.stderr).toMatch(/expected key:type or key:dropdown=a\|b with type one of text, textarea, checkbox/);
  }, 60_000);
});
