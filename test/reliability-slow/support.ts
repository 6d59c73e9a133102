/**
 * The bulk fixture for the slow reliability suites: test/fixtures/reliability/bulk (50,000 synthetic contacts, one
 * launch-ready contract to HubSpot contacts) built once per suite with the pinned dbt, a private DuckDB copy per
 * scenario, the CLI as a child process that can be killed, and the checks every scenario ends with.
 */
import { mulberry32 } from "../../emulators/random.ts";
import { copyFile, mkdir, mkdtemp } from "node:fs/promises";
import { join } from "node:path";
import { inject } from "vitest";
import { execDuckDB, queryDuckDB } from "../support/warehouse.ts";

import { startCli } from "../support/cli.ts";

export { execDuckDB, queryDuckDB, startCli };
import { dbt, repoRoot } from "../../scripts/dbt.ts";
import type { HubSpotEmulator } from "../../emulators/hubspot/index.ts";

export const bulkProject = join(repoRoot, "test", "fixtures", "reliability", "bulk");
export const CONTRACT = "bulk_contacts_to_hubspot";
/** The DuckDB file's name is the catalog the manifest's relations use. */
const DB_FILE = "reliability_bulk.duckdb";
export const BULK_TABLE = `"reliability_bulk"."main"."bulk_contacts"`;
export const LEDGER = `"reliability_bulk"."main"."activation_ledger"`;
export const DEAD_LETTERS = `"reliability_bulk"."main"."activation_dead_letters"`;
export const LEASES = `"reliability_bulk"."main"."activation_leases"`;
export const RUN_LOG = `"reliability_bulk"."main"."activation_run_log"`;
export const UPSERT = "POST /crm/v3/objects/{objectType}/batch/upsert";

export interface BulkBuild {
  targetPath: string;
  duckdbPath: string;
}

/** `dbt build` of the bulk project (about 10 s): artifacts and a DuckDB file to copy per scenario. */
export async function buildBulk(rows = 50_000): Promise<BulkBuild> {
  const dir = await mkdtemp(join(inject("scratchRoot"), "bulk-"));
  const targetPath = join(dir, "target");
  const duckdbPath = join(dir, DB_FILE);
  await mkdir(targetPath, { recursive: true });
  const run = await dbt(["build", "--vars", JSON.stringify({ rows })], { projectDir: bulkProject, targetPath, duckdbPath });
  if (run.exitCode !== 0) throw new Error(`dbt build of the bulk fixture failed:\n${run.stdout}\n${run.stderr}`);
  return { targetPath, duckdbPath };
}

/** A private copy of the build's DuckDB file (a sync writes its ledger there), keeping the first `rows` rows. */
export async function bulkCopy(build: BulkBuild, rows?: number): Promise<string> {
  const dir = await mkdtemp(join(inject("scratchRoot"), "bulk-db-"));
  const path = join(dir, DB_FILE);
  await copyFile(build.duckdbPath, path);
  if (rows !== undefined) await execDuckDB(path, `delete from ${BULK_TABLE} where email >= 'person${String(rows).padStart(7, "0")}@'`);
  return path;
}

export function bulkSyncArgs(build: BulkBuild, ...extra: string[]): string[] {
  return ["sync", "--project-dir", bulkProject, "--profiles-dir", bulkProject, "--target-dir", build.targetPath, ...extra];
}


export async function tableExists(path: string, table: string): Promise<boolean> {
  const rows = await queryDuckDB(path, `select count(*) as n from information_schema.tables where table_name = '${table}'`);
  return Number(rows[0]?.n ?? 0) > 0;
}

/** The suites' seeded dice: the emulators' PRNG. */
export const seeded = mulberry32;

export interface Landed {
  id: string;
  firstname: unknown;
  engagement_band: unknown;
}

export interface StateCheck {
  eligible: Map<string, { firstname: unknown; engagement_band: unknown }>;
  /** Destination records by email; `duplicates` lists the emails held by more than one record. */
  destination: Map<string, Landed>;
  duplicates: string[];
  /** Destination records whose email is no eligible row (nothing else may ever be written). */
  strangers: string[];
  ledger: { key: string; recordId: string; lastSent: Record<string, unknown>; status: string }[];
  /** Ledger rows whose destination record is missing, has another id, or other values than the ledger says were sent. */
  ledgerMismatches: string[];
  /** Eligible rows not in the destination with their current values. */
  missingOrStale: string[];
}

/** Compares the warehouse's eligible rows, the destination and the ledger. */
export async function checkState(duckdbPath: string, emulator: HubSpotEmulator): Promise<StateCheck> {
  const eligible = new Map(
    (await queryDuckDB(duckdbPath, `select email, first_name, engagement_band from ${BULK_TABLE}`)).map((r) => [
      String(r.email),
      { firstname: r.first_name, engagement_band: r.engagement_band },
    ]),
  );
  const destination = new Map<string, Landed>();
  const duplicates: string[] = [];
  for (const record of emulator.records("contacts")) {
    const email = String(record.properties.email).toLowerCase();
    if (destination.has(email)) duplicates.push(email);
    destination.set(email, { id: record.id, firstname: record.properties.firstname, engagement_band: record.properties.engagement_band });
  }
  const strangers = [...destination.keys()].filter((email) => !eligible.has(email));
  const ledger = (await tableExists(duckdbPath, "activation_ledger"))
    ? (await queryDuckDB(duckdbPath, `select sync_key, destination_record_id, last_sent_values, status from ${LEDGER} where contract_name = '${CONTRACT}'`)).map((r) => ({
        key: String(r.sync_key),
        recordId: String(r.destination_record_id),
        lastSent: JSON.parse(String(r.last_sent_values)) as Record<string, unknown>,
        status: String(r.status),
      }))
    : [];
  const ledgerMismatches = ledger
    .filter((l) => {
      const landed = destination.get(l.key);
      return !landed || landed.id !== l.recordId || landed.firstname !== l.lastSent.firstname || landed.engagement_band !== l.lastSent.engagement_band;
    })
    .map((l) => l.key);
  const missingOrStale = [...eligible]
    .filter(([email, row]) => {
      const landed = destination.get(email);
      return !landed || landed.firstname !== row.firstname || landed.engagement_band !== row.engagement_band;
    })
    .map(([email]) => email);
  return { eligible, destination, duplicates, strangers, ledger, ledgerMismatches, missingOrStale };
}

/** The first few of a list, for assertion messages. */
export function some(list: string[]): string {
  return `${list.length}: ${list.slice(0, 5).join(", ")}${list.length > 5 ? ", …" : ""}`;
}

/** Resolves once `condition` holds (polled every few ms) or the child exits; bounded by `timeoutMs`. */
export async function waitFor(condition: () => boolean, exited: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition() && !exited()) {
    if (Date.now() > deadline) throw new Error(`condition not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 3));
  }
}
