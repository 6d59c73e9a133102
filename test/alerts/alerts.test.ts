/**
 * What each outcome means to an operator (src/alerts/conditions.ts), for the outcomes the end-to-end suite does not
 * force through a destination: failed rows against the alert threshold, the circuit breaker, a run ended early, the
 * kill switch (no alert), a destination check that failed; and the signature a webhook receiver verifies.
 */
import { describe, expect, it } from "vitest";
import { signature } from "../../src/alerts/channels.ts";
import { verdictOf, type Verdict } from "../../src/alerts/conditions.ts";
import { redactAlert, triggerAlert } from "../../src/alerts/message.ts";
import { loadContracts, type Contract } from "../../src/contract/load.ts";
import type { SyncedOutcome } from "../../src/report/types.ts";
import { verifySignature } from "../support/alert-receiver.ts";

function contract(alert: Record<string, unknown>): Contract {
  const spec = {
    name: "scores_to_hubspot",
    key: "email",
    destination: { type: "hubspot", object: "contacts", match: { field: "email" } },
    fields: { score: "score" },
    owners: { destination: "ops@acme.io" },
    monitoring: { alert: { slack_webhook_env: "SLACK_URL", ...alert } },
  };
  const manifest = {
    metadata: { dbt_schema_version: "https://schemas.getdbt.com/dbt/manifest/v12.json", invocation_id: "x" },
    nodes: { "model.shop.scores": { unique_id: "model.shop.scores", resource_type: "model", name: "scores", patch_path: "shop://models/schema.yml", config: { meta: { activation: [spec] } } } },
  };
  return loadContracts(manifest as never)[0]!;
}

function synced(counts: Partial<SyncedOutcome["counts"]>, extra: Partial<SyncedOutcome> = {}): SyncedOutcome {
  const full = { eligible: 1000, created: 0, updated: 0, unchanged: 0, removed: 0, skipped: 0, failed: 0, rejected: 0, notSent: 0, ...counts };
  const failures = Array.from({ length: Math.min(full.failed, 100) }, (_, i) => ({ key: `person${i}@acme.io`, code: i % 3 === 0 ? "INVALID_EMAIL" : "PROPERTY_DOESNT_EXIST", message: "no" }));
  return { contract: "scores_to_hubspot", model: "scores", destination: "hubspot contacts", status: "synced", runId: "run-1", counts: full, skips: [], requests: 3, retries: 0, failures, rejected: [], durationMs: 5, ...extra } as SyncedOutcome;
}

const line = { projectDir: "dbt", targetDir: "dbt/target" };
const kindOf = (v: Verdict): string => ("condition" in v ? v.condition.kind : "good" in v ? "good" : "neutral");

describe("alert conditions", () => {
  it("failed rows alert at any failed row by default, and at the contract's threshold when it declares one", () => {
    expect(kindOf(verdictOf(contract({}), synced({ created: 999, failed: 1 }), line))).toBe("failed_rows");
    expect(kindOf(verdictOf(contract({}), synced({ created: 1000 }), line))).toBe("good");
    expect(kindOf(verdictOf(contract({ failed_rows: 10 }), synced({ created: 991, failed: 9 }), line))).toBe("good");
    const ten = verdictOf(contract({ failed_rows: 10 }), synced({ created: 990, failed: 10 }), line);
    expect(ten).toMatchObject({ condition: { kind: "failed_rows", rule: "monitoring.alert.failed_rows", runId: "run-1" } });
    expect("condition" in ten && ten.condition.details).toEqual([
      "10 of 1000 rows failed (1.0 %); monitoring.alert.failed_rows is 10",
      "990 created, 0 updated, 10 failed, 0 not sent of 1000 eligible rows",
      "failed with PROPERTY_DOESNT_EXIST: 6 rows",
      "failed with INVALID_EMAIL: 4 rows",
    ]);
    expect(kindOf(verdictOf(contract({ failed_rows_percent: 2 }), synced({ created: 981, failed: 19 }), line))).toBe("good");
    const share = verdictOf(contract({ failed_rows_percent: 2 }), synced({ created: 980, failed: 20 }), line);
    expect(share).toMatchObject({ condition: { kind: "failed_rows", rule: "monitoring.alert.failed_rows_percent" } });
    expect("condition" in share && share.condition.next.map((n) => n.command)).toEqual([
      "dbt-activation replay --project-dir dbt --target-path dbt/target --contract scores_to_hubspot",
      "dbt-activation rollback --project-dir dbt --target-path dbt/target --contract scores_to_hubspot --run run-1",
    ]);
    // No key of a failed row in the message: keys are often email addresses.
    expect(JSON.stringify(share)).not.toContain("person");
  });

  it("tells the circuit breaker and an early end apart, and leaves the kill switch alone", () => {
    const breaker = verdictOf(contract({}), synced({ created: 200, notSent: 800 }, { stopped: "hubspot contacts by email: stopped after 10 consecutive failed requests (last: HTTP 503)" }), line);
    expect(breaker).toMatchObject({ condition: { kind: "circuit_breaker", fingerprint: "circuit_breaker" } });
    expect("condition" in breaker && breaker.condition.next[0]!.command).toBe("dbt-activation sync --project-dir dbt --target-path dbt/target --select scores_to_hubspot");
    const quota = verdictOf(contract({}), synced({ created: 200, notSent: 800 }, { stopped: "hubspot contacts by email: daily limit reached" }), line);
    expect(kindOf(quota)).toBe("interrupted");
    expect(kindOf(verdictOf(contract({}), synced({ created: 200, notSent: 800 }, { stopped: "paused by ops: scores look wrong (dbt-activation resume)" }), line))).toBe("neutral");
    expect(kindOf(verdictOf(contract({}), { contract: "scores_to_hubspot", model: "scores", destination: "hubspot contacts", status: "busy", reasons: ["x"] }, line))).toBe("neutral");
  });

  it("a failed destination check (drift) alerts with the problems, one condition whatever the numbers", () => {
    const failed = (problem: string) => verdictOf(contract({}), { contract: "scores_to_hubspot", model: "scores", destination: "hubspot contacts", status: "failed", reasons: [problem] }, line);
    const a = failed("property score: type number, the contract sends 3 values of type string");
    const b = failed("property score: type number, the contract sends 7 values of type string");
    expect(kindOf(a)).toBe("failed");
    expect("condition" in a && "condition" in b && a.condition.fingerprint === b.condition.fingerprint).toBe(true);
    expect("condition" in a && a.condition.next[0]!.command).toBe("dbt-activation validate --project-dir dbt");
  });
});

describe("alert messages", () => {
  it("mask every credential-like value of the environment, and sign what a receiver can verify", () => {
    const c = contract({});
    const verdict = verdictOf(c, { contract: "scores_to_hubspot", model: "scores", destination: "hubspot contacts", status: "failed", reasons: ["token pat-na1-SECRET123 was refused"] }, line);
    if (!("condition" in verdict)) throw new Error("expected a condition");
    const alert = triggerAlert(verdict.condition, { contract: c, destination: "hubspot contacts", dedupKey: "k", invocationId: "i", now: new Date(0) });
    const clean = redactAlert(alert, { HUBSPOT_ACCESS_TOKEN: "pat-na1-SECRET123", SHORT_TOKEN: "abc", USER: "pat-na1-SECRET123" }, []);
    expect(clean.details).toEqual(["token *** was refused"]);
    expect(clean.owners).toEqual({ destination: "ops@acme.io" });

    const body = JSON.stringify(clean);
    const now = Math.floor(Date.now() / 1000);
    const header = signature("s3cret", now, body);
    expect(header).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(verifySignature("s3cret", header, body)).toBe(true);
    expect(verifySignature("s3cret", header, `${body} `)).toBe(false);
    expect(verifySignature("other", header, body)).toBe(false);
    expect(verifySignature("s3cret", signature("s3cret", now - 3600, body), body)).toBe(false);
  });
});
