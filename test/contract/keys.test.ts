/**
 * The canonical form of a sync key under a destination's key rule, in TypeScript: what every destination's
 * `normalizeKey` matches answers with, and what must equal the SQL spelling on every engine
 * (test/warehouse/canonical-keys.test.ts). Only ASCII letters are lowered; a key with any other character is
 * refused under a case-insensitive rule, because no destination documents how it compares those.
 */
import { describe, expect, it } from "vitest";
import { canonicalKey, refusedKey } from "../../src/contract/rules.ts";
import { rejectedKeyOf } from "../../src/eligible/rows.ts";

describe("canonicalKey", () => {
  it("lowers ASCII letters only under a case-insensitive rule", () => {
    expect(canonicalKey("Ann@X.io", "case_insensitive")).toBe("ann@x.io");
    expect(canonicalKey("STRASSE@X.DE", "case_insensitive")).toBe("strasse@x.de");
    // Non-ASCII characters are kept as they are: engines and JavaScript lower them differently (DuckDB and
    // PostgreSQL under C.UTF-8: İ → i, Σ → σ; JavaScript: İ → i + U+0307, final Σ → ς; PostgreSQL under C: unchanged).
    expect(canonicalKey("ÉLODIE@EXEMPLE.FR", "case_insensitive")).toBe("Élodie@exemple.fr");
    expect(canonicalKey("İpek@X.com", "case_insensitive")).toBe("İpek@x.com");
    expect(canonicalKey("ΟΔΟΣ@X.GR", "case_insensitive")).toBe("ΟΔΟΣ@x.gr");
    expect(canonicalKey("straße@x.de", "case_insensitive")).toBe("straße@x.de");
    // The Kelvin sign lowers to an ASCII k in JavaScript: not here.
    expect(canonicalKey("K\u212A@x.com", "case_insensitive")).toBe("k\u212A@x.com");
  });

  it("keeps an exact key as it is", () => {
    expect(canonicalKey("Ann@X.io", "exact")).toBe("Ann@X.io");
    expect(canonicalKey("ÉLODIE", "exact")).toBe("ÉLODIE");
  });

  it("is idempotent", () => {
    for (const key of ["Ann@X.io", "ÉLODIE@x.fr", "ΟΔΟΣ", "İ", "e\u0301"]) {
      expect(canonicalKey(canonicalKey(key, "case_insensitive"), "case_insensitive")).toBe(canonicalKey(key, "case_insensitive"));
    }
  });
});

describe("refusedKey", () => {
  it("refuses a key with a character outside ASCII under a case-insensitive rule only", () => {
    for (const key of ["ÉLODIE@exemple.fr", "élodie@exemple.fr", "e\u0301lodie@exemple.fr", "İpek@x.com", "ΟΔΟΣ@x.gr", "straße@x.de", "山田@example.jp", "k\u212A@x.com"]) {
      expect(refusedKey(key, "case_insensitive"), key).toBe(true);
      expect(refusedKey(key, "exact"), key).toBe(false);
    }
    for (const key of ["ann@x.io", "STRASSE@x.de", "a+b~c@x.io", "\u007f"]) expect(refusedKey(key, "case_insensitive"), key).toBe(false);
  });

  it("names the reason of a rejected key: null, non-ASCII under the rule, or shared", () => {
    expect(rejectedKeyOf({ key: null, rows: 2 }, "case_insensitive")).toEqual({ key: null, reason: "null_key", rows: 2 });
    expect(rejectedKeyOf({ key: "Élodie@exemple.fr", rows: 1 }, "case_insensitive")).toEqual({ key: "Élodie@exemple.fr", reason: "non_ascii_key", rows: 1, rule: "case_insensitive" });
    expect(rejectedKeyOf({ key: "Élodie@exemple.fr", rows: 2 }, "case_insensitive")).toEqual({ key: "Élodie@exemple.fr", reason: "non_ascii_key", rows: 2, rule: "case_insensitive" });
    expect(rejectedKeyOf({ key: "ann@x.io", rows: 2 }, "case_insensitive")).toEqual({ key: "ann@x.io", reason: "duplicate_key", rows: 2, rule: "case_insensitive" });
    expect(rejectedKeyOf({ key: "Élodie", rows: 2 }, "exact")).toEqual({ key: "Élodie", reason: "duplicate_key", rows: 2 });
  });
});
