/**
 * Bulk API 2.0 at scale, through jsforce against the emulator: jobs cut by their CSV's UTF-8 bytes (a row too large
 * for any job fails alone), several jobs in flight at once, a job aborted mid-run, a later job of a batch whose
 * request fails (the finished jobs' outcomes kept), and external ids that need CSV quoting matched back through the
 * streamed results.
 */
import { Readable } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import type { Contract } from "../../src/contract/load.ts";
import { createDestination } from "../../src/destinations/index.ts";
import { SalesforceSession } from "../../src/destinations/salesforce/client.ts";
import { SalesforceDestination } from "../../src/destinations/salesforce/destination.ts";
import type { DestinationRecord, RetryJob } from "../../src/destinations/types.ts";
import { sendRecords } from "../../src/engine/send.ts";
import { startSalesforceEmulator, type EmulatorCall, type SalesforceEmulator, type SalesforceEmulatorOptions } from "../../emulators/salesforce/index.ts";
import { SALESFORCE_ACCOUNTS, contractOn } from "../support/contracts.ts";

const running: SalesforceEmulator[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((e) => e.close()));
});

const BULK_UPLOAD = "PUT /services/data/{v}/jobs/ingest/{id}/batches";
const HEADER = "Billing_Customer_Id__c,Churn_Risk_Band__c,Risk_Reason_Code__c\n";
const contract: Contract = contractOn({ name: "risk" }, SALESFORCE_ACCOUNTS);

async function start(env: Record<string, string>, options: SalesforceEmulatorOptions = {}): Promise<{ emu: SalesforceEmulator; destination: SalesforceDestination }> {
  const emu = await startSalesforceEmulator({ bulk: { processingDelayMs: 20 }, ...options });
  running.push(emu);
  const destination = createDestination(contract, { SALESFORCE_INSTANCE_URL: emu.url, SALESFORCE_ACCESS_TOKEN: emu.accessToken, SALESFORCE_BULK_THRESHOLD: "1", ...env }) as SalesforceDestination;
  return { emu, destination };
}

function accounts(count: number, reason = (i: number) => `r${i}`): DestinationRecord[] {
  return Array.from({ length: count }, (_, i) => ({ key: `b-${i}`, fields: { Churn_Risk_Band__c: ["low", "medium", "high"][i % 3]!, Risk_Reason_Code__c: reason(i) } }));
}

async function* stream(records: DestinationRecord[]): AsyncIterable<DestinationRecord[]> {
  for (let i = 0; i < records.length; i += 500) yield records.slice(i, i + 500);
}

/** No retry: each job's request is tried once (the engine's policy is not under test here). */
const once: RetryJob = (call) => call();
const uploads = (emu: SalesforceEmulator): EmulatorCall[] => emu.calls().filter((c) => c.endpoint === BULK_UPLOAD);
const stored = (emu: SalesforceEmulator): Map<string, Record<string, unknown>> => new Map(emu.records("Account").map((r) => [String(r.Billing_Customer_Id__c), r]));

describe("jobs cut by their CSV's bytes", () => {
  it("cuts a batch past SALESFORCE_BULK_MAX_BYTES into several jobs, each within it; every row lands once, and once more as an update", async () => {
    const { emu, destination } = await start({ SALESFORCE_BULK_MAX_BYTES: "4000" });
    const first = await sendRecords(destination, stream(accounts(1000)), {});
    expect(first).toMatchObject({ bulk: true, created: 1000, updated: 0, failed: 0, notSent: 0 });
    const jobs = uploads(emu);
    expect(jobs.length).toBeGreaterThanOrEqual(4);
    for (const job of jobs) expect(job.bytes).toBeLessThanOrEqual(4000);
    // Greedy: every job but the last is full to within one row (under 20 bytes here).
    for (const job of jobs.slice(0, -1)) expect(job.bytes).toBeGreaterThan(4000 - 20);
    expect(jobs.reduce((n, c) => n + (c.records ?? 0), 0)).toBe(1000);
    const rows = stored(emu);
    expect(rows.size).toBe(1000);
    for (const r of accounts(1000)) expect(rows.get(r.key)).toMatchObject(r.fields);

    const second = await sendRecords(destination, stream(accounts(1000, (i) => `again-${i}`)), {});
    expect(second).toMatchObject({ created: 0, updated: 1000, failed: 0 });
    expect(emu.records("Account")).toHaveLength(1000);
    expect(emu.records("Account").every((r) => String(r.Risk_Reason_Code__c).startsWith("again-"))).toBe(true);
  });

  it("holds a job to SALESFORCE_BULK_MAX_RECORDS records (25,000 by default), so a run keeps at most four jobs' rows in memory", async () => {
    expect(new SalesforceDestination(new SalesforceSession({ instanceUrl: "http://127.0.0.1:9", accessToken: "t" }), { object: "Account", externalIdField: "X__c", fields: [] }).bulk.maxRecords).toBe(25_000);
    const { emu, destination } = await start({ SALESFORCE_BULK_MAX_RECORDS: "300" });
    expect(destination.bulk.maxRecords).toBe(300);
    const summary = await sendRecords(destination, stream(accounts(1000)), {});
    expect(summary).toMatchObject({ bulk: true, created: 1000, failed: 0, notSent: 0 });
    const jobs = uploads(emu);
    // Jobs run side by side, so their uploads come in any order.
    expect(jobs.map((c) => c.records ?? 0).sort((a, b) => b - a)).toEqual([300, 300, 300, 100]);
    expect(stored(emu).size).toBe(1000);
  });

  it("counts UTF-8 bytes, not characters: a job ends exactly at the cap, and a row one byte too large for any job fails alone", async () => {
    const euros = (n: number) => "€".repeat(n); // 3 bytes, 1 character each
    const record = (key: string, reason: string): DestinationRecord => ({ key, fields: { Churn_Risk_Band__c: "low", Risk_Reason_Code__c: reason } });
    const line = (r: DestinationRecord) => Buffer.byteLength(`${r.key},low,${String(r.fields.Risk_Reason_Code__c)}\n`);
    const small = (i: number) => record(`m-${i}`, euros(10));
    const header = Buffer.byteLength(HEADER);
    const cap = header + 2 * line(small(0));
    // A row whose line is exactly what a job has room for beside the header, and one a byte longer.
    const room = cap - header - line(record("x-fits", ""));
    const fits = record("x-fits", `${euros(Math.floor(room / 3))}${"a".repeat(room % 3)}`);
    const over = record("x-over", `${euros(Math.floor(room / 3))}${"a".repeat((room % 3) + 1)}`);
    expect(line(fits)).toBe(cap - header);
    // Counted in characters, m-0, m-1 and m-2 would fit in one job.
    expect(header + [small(0), small(1), small(2)].reduce((n, r) => n + `${r.key},low,${String(r.fields.Risk_Reason_Code__c)}\n`.length, 0)).toBeLessThan(cap);

    const { emu, destination } = await start({ SALESFORCE_BULK_MAX_BYTES: String(cap) });
    const summary = await sendRecords(destination, stream([small(0), small(1), small(2), fits, over, small(3)]), {});
    expect(summary).toMatchObject({ bulk: true, created: 5, failed: 1, notSent: 0 });
    expect(summary.failures).toEqual([
      { key: "x-over", status: "failed", code: "BULK_ROW_TOO_LARGE", message: `its CSV line is ${line(over)} bytes: with the header, more than the ${cap} bytes a Bulk API job may hold (SALESFORCE_BULK_MAX_BYTES)` },
    ]);
    // m-0 + m-1 fill a job to the byte; m-2 leaves no room for x-fits, which fills the next alone; then m-3.
    expect(uploads(emu).map((c) => [c.bytes, c.records])).toEqual([
      [cap, 2],
      [header + line(small(2)), 1],
      [cap, 1],
      [header + line(small(3)), 1],
    ]);
    const rows = stored(emu);
    expect([...rows.keys()].sort()).toEqual(["m-0", "m-1", "m-2", "m-3", "x-fits"]);
    expect(rows.get("x-fits")?.Risk_Reason_Code__c).toBe(fits.fields.Risk_Reason_Code__c);
    expect(rows.get("m-3")?.Risk_Reason_Code__c).toBe(euros(10));
  });

  it("names the target's bulkMaxBytes, not the variable, when the cap was set there", async () => {
    const destination = new SalesforceDestination(new SalesforceSession({ instanceUrl: "http://127.0.0.1:9", accessToken: "t" }), {
      object: "Account",
      externalIdField: "Billing_Customer_Id__c",
      fields: [{ to: "Risk_Reason_Code__c" }],
      bulkMaxBytes: 60,
    });
    // Too large for any job, so no job is opened (nothing listens on port 9).
    const outcomes = await destination.bulk.write([{ key: "k", fields: { Risk_Reason_Code__c: "x".repeat(40) } }], once);
    expect(outcomes).toEqual([{ key: "k", status: "failed", code: "BULK_ROW_TOO_LARGE", message: "its CSV line is 43 bytes: with the header, more than the 60 bytes a Bulk API job may hold (the target's bulkMaxBytes)" }]);
  });

  it("refuses a byte cap that is not a positive whole number before any call", () => {
    expect(() => createDestination(contract, { SALESFORCE_ACCESS_TOKEN: "t", SALESFORCE_INSTANCE_URL: "http://x", SALESFORCE_BULK_MAX_BYTES: "100MB" })).toThrow(
      /SALESFORCE_BULK_MAX_BYTES must be a positive whole number of bytes/,
    );
  });
});

describe("several jobs in flight", () => {
  it("runs the engine's batches as jobs at once (never more than its concurrency), every row accounted once", async () => {
    const emu = await startSalesforceEmulator({ bulk: { processingDelayMs: 150 } });
    running.push(emu);
    const destination = new SalesforceDestination(new SalesforceSession({ instanceUrl: emu.url, accessToken: emu.accessToken }), {
      object: "Account",
      externalIdField: "Billing_Customer_Id__c",
      fields: [{ to: "Churn_Risk_Band__c" }, { to: "Risk_Reason_Code__c" }],
      bulkThreshold: 10,
      bulkMaxRecords: 100,
    });
    const summary = await sendRecords(destination, stream(accounts(800)), {});
    expect(summary).toMatchObject({ bulk: true, created: 800, failed: 0, notSent: 0 });
    expect(emu.records("Account")).toHaveLength(800);

    // Each job from its upload to its last results read: how many were open at once.
    const spans = new Map<string, { from: number; to: number }>();
    for (const c of emu.calls()) {
      const m = /\/jobs\/ingest\/([^/]+)\/(batches|failedResults)$/.exec(c.path);
      if (!m) continue;
      const span = spans.get(m[1]!) ?? { from: c.at, to: c.at };
      if (m[2] === "batches") span.from = c.at;
      else span.to = c.at;
      spans.set(m[1]!, span);
    }
    expect(spans.size).toBe(8);
    const open = [...spans.values()].map((s) => [...spans.values()].filter((o) => o.from <= s.from && s.from < o.to).length);
    expect(Math.max(...open)).toBeGreaterThan(1);
    expect(Math.max(...open)).toBeLessThanOrEqual(destination.limits.concurrency);
  });
});

describe("a job that ends badly mid-run", () => {
  it("gives every row of an aborted job an outcome (failed, the job's state said) while the other jobs land; the next run sends them", async () => {
    const { emu, destination } = await start({ SALESFORCE_BULK_MAX_BYTES: "2000" }, { bulk: { processingDelayMs: 300 } });
    const records = accounts(300);
    const sending = sendRecords(destination, stream(records), { maxFailureSamples: 300 });
    // Someone aborts the second job in Setup while it waits to be processed.
    const api = `${emu.url}/services/data/v60.0/jobs/ingest`;
    const auth = { Authorization: `Bearer ${emu.accessToken}`, "Content-Type": "application/json" };
    let aborted: string | undefined;
    for (let i = 0; i < 200 && aborted === undefined; i += 1) {
      const list = (await (await fetch(api, { headers: auth })).json()) as { records: { id: string; state: string }[] };
      const second = list.records[1];
      if (second && (second.state === "UploadComplete" || second.state === "InProgress")) {
        expect((await fetch(`${api}/${second.id}`, { method: "PATCH", headers: auth, body: JSON.stringify({ state: "Aborted" }) })).status).toBe(200);
        aborted = second.id;
      } else await new Promise((r) => setTimeout(r, 20));
    }
    expect(aborted).toBeDefined();
    const summary = await sending;
    const abortedRows = uploads(emu).find((c) => c.path.includes(aborted!))?.records ?? 0;
    expect(abortedRows).toBeGreaterThan(0);
    expect(summary).toMatchObject({ bulk: true, created: 300 - abortedRows, failed: abortedRows, notSent: 0 });
    expect(summary.failures.every((f) => f.status === "failed" && f.code === "BULK_JOB_FAILED" && f.message.includes("Aborted"))).toBe(true);
    const rows = stored(emu);
    expect(rows.size).toBe(300 - abortedRows);
    for (const f of summary.failures) expect(rows.has(f.key)).toBe(false);

    const again = await sendRecords(destination, stream(summary.failures.map((f) => records.find((r) => r.key === f.key)!)), {});
    expect(again).toMatchObject({ created: abortedRows, failed: 0 });
    expect(emu.records("Account")).toHaveLength(300);
  });
});

describe("a batch cut into several jobs, one of whose requests fails", () => {
  /** Turns on the emulator's 5xx for every request once the first job's results are read: the later jobs fail. */
  function failAfterFirstJob(emu: SalesforceEmulator, destination: SalesforceDestination): void {
    const stream = destination.stream.bind(destination);
    let armed = false;
    destination.stream = async (method, url, streamed) => {
      const answer = await stream(method, url, streamed);
      if (!armed && url.endsWith("/failedResults")) {
        armed = true;
        emu.setFaults({ serverErrorRate: 1 });
      }
      return answer;
    };
  }

  it("keeps the finished job's outcomes (written, reported written) and fails the rest transiently; the next run lands them, each row once", async () => {
    const { emu, destination } = await start({ SALESFORCE_BULK_MAX_BYTES: "2000" });
    const records = accounts(200);
    failAfterFirstJob(emu, destination);
    // Two attempts, no wait: without the outcomes kept, the engine's retries fail too and every row is reported failed.
    const first = await sendRecords(destination, stream(records), { maxFailureSamples: 200, maxAttempts: 2, baseDelayMs: 1 });
    const landed = stored(emu);
    const firstJob = uploads(emu)[0]?.records ?? 0;
    expect(firstJob).toBeGreaterThan(0);
    expect(firstJob).toBeLessThan(200);
    expect(landed.size).toBe(firstJob);
    expect(first).toMatchObject({ bulk: true, created: firstJob, updated: 0, failed: 200 - firstJob, notSent: 0 });
    // The failed rows are exactly those not in Salesforce, each failed as the request did, transiently.
    expect(first.failures).toHaveLength(200 - firstJob);
    for (const f of first.failures) {
      expect(landed.has(f.key)).toBe(false);
      expect(f).toMatchObject({ status: "failed", transient: true, code: expect.stringMatching(/UNKNOWN_EXCEPTION|SERVER_UNAVAILABLE/) as unknown });
    }

    emu.setFaults({});
    const failedKeys = new Set(first.failures.map((f) => f.key));
    const again = await sendRecords(destination, stream(records.filter((r) => failedKeys.has(r.key))), {});
    expect(again).toMatchObject({ created: 200 - firstJob, updated: 0, failed: 0 });
    const rows = emu.records("Account");
    expect(rows).toHaveLength(200);
    expect(new Set(rows.map((r) => String(r.Billing_Customer_Id__c))).size).toBe(200);
    const byKey = stored(emu);
    for (const r of records) expect(byKey.get(r.key)).toMatchObject(r.fields);
  });

  it("retries a later job alone after a transient failure, in the same run: every row lands, none is uploaded twice", async () => {
    const { emu, destination } = await start({ SALESFORCE_BULK_MAX_BYTES: "2000" });
    const records = accounts(200);
    // One 5xx, on the second job's upload: the emulator answers that request alone with a server error.
    const send = destination.stream.bind(destination);
    let firstJobDone = false;
    let blipped = false;
    destination.stream = async (method, url, streamed) => {
      if (firstJobDone && !blipped && method === "PUT") {
        blipped = true;
        emu.setFaults({ serverErrorRate: 1 });
        try {
          return await send(method, url, streamed);
        } finally {
          emu.setFaults({});
        }
      }
      const answer = await send(method, url, streamed);
      if (url.endsWith("/failedResults")) firstJobDone = true;
      return answer;
    };
    const summary = await sendRecords(destination, stream(records), { maxAttempts: 3, baseDelayMs: 1 });
    expect(blipped).toBe(true);
    expect(summary).toMatchObject({ bulk: true, created: 200, failed: 0, notSent: 0 });
    const accepted = uploads(emu).filter((c) => c.status < 300);
    expect(accepted.length).toBeGreaterThan(1);
    // The finished first job was not run again: each row went up in exactly one accepted upload.
    expect(accepted.reduce((sum, c) => sum + (c.records ?? 0), 0)).toBe(200);
    expect(uploads(emu).filter((c) => c.status >= 500)).toHaveLength(1);
    expect(stored(emu).size).toBe(200);
  });

  it("still throws when the first job fails (its retries ran out): nothing of the batch was written, nothing reported written", async () => {
    const { emu, destination } = await start({ SALESFORCE_BULK_MAX_BYTES: "2000" });
    emu.setFaults({ serverErrorRate: 1 });
    await expect(destination.bulk.write(accounts(200), once)).rejects.toMatchObject({ name: "DestinationRequestError", retryable: true });
    expect(emu.records("Account")).toHaveLength(0);
  });

  it("still throws a refusal that ends the run (an expired token, nothing to refresh it with) after a job finished: no later job is opened", async () => {
    // The static token expires once the first job is done: no credentials to refresh it with.
    const ttl = 1500;
    const { emu, destination } = await start({ SALESFORCE_BULK_MAX_BYTES: "2000" }, { accessTokenTtlMs: ttl });
    const started = Date.now();
    const stream = destination.stream.bind(destination);
    destination.stream = async (method, url, streamed) => {
      const answer = await stream(method, url, streamed);
      if (url.endsWith("/failedResults")) await new Promise((r) => setTimeout(r, started + ttl + 100 - Date.now()));
      return answer;
    };
    await expect(destination.bulk.write(accounts(200), once)).rejects.toMatchObject({ name: "DestinationRequestError", code: "UNAUTHORIZED", exhausted: true });
    expect(uploads(emu)).toHaveLength(1);
    expect(stored(emu).size).toBe(uploads(emu)[0]?.records);
  });
});

describe("results streamed back and matched by external id", () => {
  it("matches keys holding commas, quotes, line breaks and multi-byte characters to their own results, created then updated", async () => {
    const { emu, destination } = await start({ SALESFORCE_BULK_MAX_BYTES: "300" });
    const keys = ["a,b", 'say "hi"', "line\nbreak", "crlf\r\nx", 'all, "of\nit"', "naïve-€-😀", ...Array.from({ length: 20 }, (_, i) => `plain-${i}`)];
    const records = keys.map((key, i) => ({ key, fields: { Churn_Risk_Band__c: "high", Risk_Reason_Code__c: `v${i}` } }));
    const outcomes = await destination.bulk.write(records, once);
    expect(uploads(emu).length).toBeGreaterThan(1);
    const rows = stored(emu);
    expect(rows.size).toBe(keys.length);
    expect(outcomes).toEqual(keys.map((key) => ({ key, status: "created", recordId: rows.get(key)?.Id })));
    keys.forEach((key, i) => expect(rows.get(key)?.Risk_Reason_Code__c).toBe(`v${i}`));
    const again = await destination.bulk.write(records, once);
    expect(again).toEqual(keys.map((key) => ({ key, status: "updated", recordId: rows.get(key)?.Id })));
  });
});

describe("streamed requests and an expired token", () => {
  it("sends the CSV again, whole, when the upload meets a 401 and jsforce refreshes the token; reads results once, after the refresh", async () => {
    const emu = await startSalesforceEmulator({ clientId: "cid", clientSecret: "secret", accessTokenTtlMs: 300, bulk: { processingDelayMs: 20 } });
    running.push(emu);
    const destination = createDestination(contract, { SALESFORCE_LOGIN_URL: emu.url, SALESFORCE_CLIENT_ID: "cid", SALESFORCE_CLIENT_SECRET: "secret" }) as SalesforceDestination;
    const opened = await destination.request<{ id: string }>("POST", "/jobs/ingest", { object: "Account", operation: "upsert", externalIdFieldName: "Billing_Customer_Id__c", contentType: "CSV", lineEnding: "LF" });
    const job = `/jobs/ingest/${opened.body.id}`;
    const csv = `Billing_Customer_Id__c,Risk_Reason_Code__c\n${Array.from({ length: 2000 }, (_, i) => `k-${i},€${i}`).join("\n")}\n`;
    let uploads = 0;
    await new Promise((r) => setTimeout(r, 400)); // the token expires
    await destination.stream("PUT", `${job}/batches`, {
      headers: { "Content-Type": "text/csv" },
      upload: () => {
        uploads += 1;
        return Readable.from([csv.slice(0, 1000), csv.slice(1000)]);
      },
    });
    expect(uploads).toBe(2);
    expect(destination.tokenGrants).toBe(2);
    const put = emu.calls().filter((c) => c.endpoint === BULK_UPLOAD);
    expect(put.map((c) => c.status)).toEqual([401, 201]);
    expect(put[1]?.bytes).toBe(Buffer.byteLength(csv));
    await destination.request("PATCH", job, { state: "UploadComplete" });
    for (let state = ""; state !== "JobComplete"; state = (await destination.request<{ state: string }>("GET", job)).body.state) await new Promise((r) => setTimeout(r, 20));

    await new Promise((r) => setTimeout(r, 400)); // and again
    let reads = 0;
    let text = "";
    await destination.stream("GET", `${job}/successfulResults`, {
      download: async (body) => {
        reads += 1;
        for await (const chunk of body) text += String(chunk);
      },
    });
    expect(reads).toBe(1);
    expect(destination.tokenGrants).toBe(3);
    expect(text.split("\n").filter(Boolean)).toHaveLength(2001);
    expect(emu.records("Account")).toHaveLength(2000);
  });
});
