/**
 * unless_edited compares what the ledger last sent (the warehouse value as JSON: a Date as an ISO instant, a bigint
 * as its digits) with what the destination holds now, in the destination's own spelling (Salesforce datetimes as
 * 2026-03-08T07:00:00.000+0000, date fields as YYYY-MM-DD, doubles as JSON numbers; HubSpot everything as text,
 * datetimes possibly as epoch milliseconds). The same value in another spelling is not a person's edit: reading it as
 * one would keep the field from ever being updated again once anything else moved the record.
 */
import { describe, expect, it } from "vitest";
import { sfDateTime } from "../../emulators/salesforce/ids.ts";
import type { CurrentRecord } from "../../src/destinations/types.ts";
import { guardRecord } from "../../src/plan/guards.ts";
import type { PlannedRecord } from "../../src/plan/diff.ts";
import { contractSpec } from "../support/contracts.ts";

const spec = contractSpec({
  name: "typed_to_salesforce",
  key: "email",
  destination: { type: "salesforce", object: "Contact", match: { field: "Email" } },
  fields: { v: { to: "Field__c", overwrite: "unless_edited" }, name: "LastName" },
});
const syncedAt = new Date("2026-03-01T00:00:00Z");
/** The record moved after our last write (another field, a workflow): only the value decides whether it was edited. */
const movedSince = sfDateTime(syncedAt.getTime() + 60_000);

/** Whether the next write still sends Field__c, given what we last sent and what the destination holds now. */
function sends(lastSent: unknown, now: string | number | boolean | null): boolean {
  const record: PlannedRecord = { key: "a@x.io", hash: "h2", change: "update", fields: { Field__c: "new value", LastName: "Singh" }, ledger: { syncedAt, lastSent: { Field__c: lastSent, LastName: "Singh" } } };
  const current: CurrentRecord = { key: "a@x.io", recordId: "003000000000001", modifiedAt: movedSince, values: { Field__c: now, LastName: "Singh" } };
  const decided = guardRecord(spec, record, current);
  return !("reason" in decided) && "Field__c" in decided.fields;
}

/** A warehouse value as the ledger's last_sent_values JSON holds it. */
const asLedger = (value: unknown): unknown => JSON.parse(JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)));

describe("unless_edited: the value we sent, in the destination's spelling, is not an edit", () => {
  it.each([
    ["a timestamp, read back as a Salesforce datetime", asLedger(new Date("2026-03-08T07:00:00.123Z")), sfDateTime(Date.parse("2026-03-08T07:00:00.123Z"))],
    ["a timestamp, read back as HubSpot epoch milliseconds", asLedger(new Date("1969-12-31T23:59:59.999Z")), "-1"],
    ["a date, read back as a date field (YYYY-MM-DD)", asLedger(new Date("1969-07-20T00:00:00Z")), "1969-07-20"],
    ["an integer beyond 2^53, read back as a double", asLedger(9007199254740993n), 9007199254740992],
    ["an exact decimal's text, read back as a number", asLedger("0.5000000000"), 0.5],
    ["a number, read back as HubSpot text", asLedger(0.1), "0.1"],
    ["a boolean, read back as HubSpot text", asLedger(true), "true"],
  ])("%s: sent again", (_name, lastSent, now) => {
    expect(sends(lastSent, now)).toBe(true);
  });

  it.each([
    ["another text", asLedger("Director"), "Director of Sales"],
    ["another instant", asLedger(new Date("2026-03-08T07:00:00.123Z")), sfDateTime(Date.parse("2026-03-08T07:00:01.123Z"))],
    ["another day", asLedger(new Date("1969-07-20T00:00:00Z")), "1969-07-21"],
    ["another number", asLedger(0.1), 0.2],
    ["a number where a date was (not read as a year)", asLedger(new Date("2042-01-01T00:00:00Z")), "42"],
    ["emptied", asLedger("Director"), null],
  ])("a person's edit (%s) is kept", (_name, lastSent, now) => {
    expect(sends(lastSent, now)).toBe(false);
  });
});
