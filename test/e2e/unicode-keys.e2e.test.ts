/**
 * Keys outside ASCII under a case-insensitive key rule, through the real CLI on DuckDB and PostgreSQL with the HubSpot
 * emulator (emails; Braze and Zendesk: test/e2e/keys.e2e.test.ts). The engines' lower(), JavaScript's toLowerCase() and the destinations disagree on such keys
 * (DuckDB lowers İ to i, JavaScript to i + U+0307; final Σ to σ or ς; PostgreSQL under LC_CTYPE C lowers nothing),
 * and no destination documents how it compares them: the syncer lowers ASCII letters only, the same in SQL and in
 * TypeScript, and refuses a key with any other character (`non_ascii_key`) instead of sending it to a record it cannot
 * name or as two rows the destination takes for one. Over several runs: the ASCII rows are sent once, reruns make no
 * request, the ledger holds one row per record written; and a ledger row the previous rule wrote (the engine's
 * lower()) survives the upgrade, neither deleted nor resent, until its row leaves the model.
 */
import { afterEach, describe, expect, it } from "vitest";
import { startHubSpotEmulator, type HubSpotEmulator } from "../../emulators/hubspot/index.ts";
import { integrationPortalProperties } from "../../scripts/hubspot-portal.ts";
import { runCli, syncArgs } from "../support/cli.ts";
import { ENGINES, integrationEngine } from "../support/engines.ts";

const TOKEN = "unicode-keys-token";
const CONTRACT = "contact_engagement_to_hubspot";
const NODE = "model.activation_integration_tests.contact_engagement";
const NFD = "e\u0301lodie@exemple.fr";
/** Keys only ASCII lowering and the destination agree on refusing: É/é collide under Unicode lowering, the NFD é is
 * another spelling of é, İ lowers three ways, Σ two, ß and SS are one under case folding. */
const REFUSED = ["ÉLODIE@exemple.fr", "élodie@exemple.fr", NFD, "İpek@x.com", "ΟΔΟΣ@x.gr", "straße@x.de"];
const ASCII_UPPER = "STRASSE@x.de";
const ascii = (text: string): boolean => /^\p{ASCII}*$/u.test(text);
/** Code point order (localeCompare takes a composed and a decomposed é for equal). */
const byCodePoints = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

let hubspot: HubSpotEmulator | undefined;
afterEach(async () => {
  await hubspot?.close();
  hubspot = undefined;
});

/** A HubSpot contact written before the syncer ran (by a person, or by the previous version): returns its id. */
async function seedContact(emulator: HubSpotEmulator, email: string, firstname: string): Promise<string> {
  const response = await fetch(`${emulator.url}/crm/v3/objects/contacts/batch/upsert`, {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
    body: JSON.stringify({ inputs: [{ id: email, idProperty: "email", properties: { firstname } }] }),
  });
  expect(response.status).toBe(200);
  const body = (await response.json()) as { results: { id: string }[] };
  return body.results[0]!.id;
}

describe.each(ENGINES)("keys outside ASCII on %s", (engineName) => {
  const engine = integrationEngine(engineName, { mutable: [CONTRACT] });
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- tests rewrite the contract JSON freely
  const target = (edit: (c: Record<string, any>) => void): Promise<string> => engine.copyArtifacts({ manifest: (m) => edit(m.nodes[NODE].config.meta.activation[0]) });

  async function sync(targetDir: string) {
    const run = await runCli(syncArgs(targetDir, "--select", CONTRACT, "--json", ...engine.args), {
      HUBSPOT_ACCESS_TOKEN: TOKEN,
      HUBSPOT_BASE_PATH: hubspot?.url ?? "",
      ...engine.env(),
    });
    expect(run.stderr).not.toMatch(/\n\s+at .*\.ts:\d+:\d+/);
    return { exitCode: run.exitCode, outcome: run.stdout.startsWith("{") ? JSON.parse(run.stdout).contracts?.[0] : undefined, output: `${run.stdout}\n${run.stderr}` };
  }

  /** Gives the first rows of the model (in email order) the keys given; returns how many rows the model has. */
  async function rekey(keys: string[]): Promise<number> {
    const emails = (await engine.query(`select email from ${engine.model(CONTRACT)} order by email`)).map((r) => String(r.email));
    for (const [i, key] of keys.entries()) await engine.mutate(`update ${engine.model(CONTRACT)} set email = '${key}' where email = '${emails[i]}'`);
    return emails.length;
  }

  const ledgerKeys = async (): Promise<{ key: string; id: string }[]> =>
    (await engine.query(`select sync_key, destination_record_id from ${engine.ledgerTable("activation_ledger")} where contract_name = '${CONTRACT}' order by sync_key`)).map((r) => ({
      key: String(r.sync_key),
      id: String(r.destination_record_id),
    }));

  it("refuses keys with characters outside ASCII, sends the rest once, and reruns make no request", async () => {
    hubspot = await startHubSpotEmulator({ accessToken: TOKEN, properties: integrationPortalProperties });
    const existing = await seedContact(hubspot, "İpek@x.com", "Existing");
    const rows = await rekey([...REFUSED, ASCII_UPPER]);
    const sent = rows - REFUSED.length;

    for (let run = 1; run <= 3; run += 1) {
      const result = await sync(engine.targetPath());
      expect(result.exitCode, result.output).toBe(4);
      expect(result.outcome.counts, result.output).toMatchObject({ eligible: sent, created: run === 1 ? sent : 0, updated: 0, rejected: REFUSED.length });
      // Each refused with the rule and the reason, under the text the previous rule stored for it (the engine's
      // lower(), so that a ledger row it wrote is still the key's): ÉLODIE and élodie are one such text, two rows.
      const stored = async (key: string): Promise<string> => String((await engine.query(`select lower('${key}') as k`))[0]!.k);
      const expected = new Map<string, number>();
      for (const key of REFUSED) expected.set(await stored(key), (expected.get(await stored(key)) ?? 0) + 1);
      expect([...result.outcome.rejected].sort((a: { key: string }, b: { key: string }) => byCodePoints(a.key, b.key))).toEqual(
        [...expected].sort(([a], [b]) => byCodePoints(a, b)).map(([key, n]) => ({ key, reason: "non_ascii_key", rows: n, rule: "case_insensitive" })),
      );
      if (run > 1) expect(result.outcome.requests, result.output).toBe(0);
    }
    // The terminal report names the reason.
    const text = await runCli(syncArgs(engine.targetPath(), "--select", CONTRACT, ...engine.args), { HUBSPOT_ACCESS_TOKEN: TOKEN, HUBSPOT_BASE_PATH: hubspot.url, ...engine.env() });
    expect(text.stdout).toMatch(/rejected: key οδοσ@x\.gr \(1 row\): the key has characters outside ASCII, and the destination compares keys case-insensitively/);

    // HubSpot holds the contact written before, untouched, and one contact per ASCII row: none was written for a
    // refused key (not `ipek@x.com` for İpek, not `οδοσ@x.gr` for ΟΔΟΣ), none twice.
    const contacts = hubspot.records("contacts");
    expect(contacts).toHaveLength(sent + 1);
    expect(contacts.filter((c) => c.id !== existing).every((c) => ascii(c.properties.email ?? ""))).toBe(true);
    expect(hubspot.findByProperty("contacts", "hs_object_id", existing)?.properties.firstname).toBe("Existing");
    expect(hubspot.findByProperty("contacts", "email", "ipek@x.com")).toBeUndefined();
    expect(hubspot.findByProperty("contacts", "email", "strasse@x.de")).toBeDefined();
    // The ledger: one row per contact written, keyed by the canonical key HubSpot answered for.
    const ledger = await ledgerKeys();
    expect(ledger).toHaveLength(sent);
    expect(new Set(ledger.map((l) => l.id)).size).toBe(sent);
    for (const { key, id } of ledger) expect(hubspot.findByProperty("contacts", "email", key)?.id, key).toBe(id);
    expect(ledger.map((l) => l.key)).toContain("strasse@x.de");
  });

  it("keeps a ledger row the previous rule wrote with the engine's lower(): not deleted, not resent, removed only when its row leaves", async () => {
    hubspot = await startHubSpotEmulator({ accessToken: TOKEN, properties: integrationPortalProperties });
    const deleting = await target((c) => Object.assign(c.destination, { on_removed: "delete" }));
    const key = "ÉLODIE@exemple.fr";
    const rows = await rekey([key]);
    const first = await sync(deleting);
    expect(first.outcome.counts, first.output).toMatchObject({ created: rows - 1, rejected: 1 });

    // What the previous version left: it sent the engine's lower() of the key and recorded that text in the ledger.
    const [legacyRow] = await engine.query(`select lower('${key}') as k`);
    const legacy = String(legacyRow!.k);
    const id = await seedContact(hubspot, legacy, "Élodie");
    const [template] = await ledgerKeys();
    const ledger = engine.ledgerTable("activation_ledger");
    await engine.mutate(`create table ${engine.ledgerTable("legacy_copy")} as select * from ${ledger} where sync_key = '${template!.key}'`);
    await engine.mutate(`update ${engine.ledgerTable("legacy_copy")} set sync_key = '${legacy}', destination_record_id = '${id}'`);
    await engine.mutate(`insert into ${ledger} select * from ${engine.ledgerTable("legacy_copy")}`);

    for (let run = 1; run <= 2; run += 1) {
      const upgraded = await sync(deleting);
      expect(upgraded.outcome.counts, upgraded.output).toMatchObject({ created: 0, updated: 0, removed: 0, rejected: 1 });
      expect(upgraded.outcome.rejected).toEqual([{ key: legacy, reason: "non_ascii_key", rows: 1, rule: "case_insensitive" }]);
      expect(upgraded.outcome.requests, upgraded.output).toBe(0);
      expect(hubspot.findByProperty("contacts", "hs_object_id", id)?.properties.firstname).toBe("Élodie");
    }
    // One ledger row for that contact, under the text that was sent (HubSpot is asked for exactly that on removal).
    expect((await ledgerKeys()).filter((l) => l.id === id)).toEqual([{ key: legacy, id }]);
    expect(await ledgerKeys()).toHaveLength(rows);

    // The row leaves the model: its contact is deleted as the contract declares, once.
    await engine.mutate(`delete from ${engine.model(CONTRACT)} where email = '${key}'`);
    const removed = await sync(deleting);
    expect(removed.outcome.counts, removed.output).toMatchObject({ removed: 1, rejected: 0 });
    expect(hubspot.findByProperty("contacts", "hs_object_id", id)).toBeUndefined();
    const quiet = await sync(deleting);
    expect(quiet.outcome.counts, quiet.output).toMatchObject({ created: 0, updated: 0, removed: 0 });
    expect(quiet.outcome.requests).toBe(0);
  });
});
