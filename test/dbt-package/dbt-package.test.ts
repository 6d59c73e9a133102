/**
 * The dbt package `activation`, proven by integration_tests on DuckDB and on a real PostgreSQL server: every fixture
 * test tagged expect_pass passes and every one tagged expect_fail fails (with meta.expect_failures failing rows),
 * read from run_results.json, never from the build's exit code. Then what the tests store on failure, the
 * reconciliation model (a second invocation with the syncer's sources pointed at fixture seeds), and the hashes:
 * row_hash and stable_bucket give the same values on both engines as the documented formulas computed here.
 */
import { execa } from "execa";
import { createHash, randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { dbt, integrationProject } from "../../scripts/dbt.ts";
import { rowHashOf } from "../../src/warehouse/row-hash.ts";
import { brokenNodes, expected, fixtureMismatches, fixtureTests as fixtureTestsOf, readJson, resultsOf, type Result, type TestNode } from "../support/dbt-fixtures.ts";
import { queryDuckDB } from "../support/warehouse.ts";

type EngineName = "duckdb" | "postgres";
type Row = Record<string, unknown>;

interface Build {
  nodes: Record<string, TestNode>;
  macros: string[];
  results: Map<string, Result>;
  /** The second invocation: activation_reconciliation over the fixture tables (sources redirected by vars). */
  reconciliation: Map<string, Result>;
}

/** The package's generic tests (macros/tests/). */
const GENERIC_TESTS = [
  "suppression",
  "freshness",
  "consent_lag",
  "unique_key",
  "allowed_values",
  "null_rate",
  "row_count",
  "change_limit",
  "match_rate",
  "parity",
  "parity_drift",
];
/** Every macro and generic test must have a passing and a failing fixture (meta.subject). */
const SUBJECTS = ["row_hash", "stable_bucket", "eligible_rows", "excluded_rows", "reconciliation", "destination_parity", "changes", ...GENERIC_TESTS];

/** Points the package's sources at the fixture seeds and enables the reconciliation and changes models. */
const RECONCILIATION_VARS = JSON.stringify({
  activation_reconciliation_enabled: true,
  activation_changes_enabled: true,
  activation_change_log_identifier: "fx_change_log",
  activation_run_log_identifier: "fx_run_log",
  activation_ledger_identifier: "fx_ledger",
  activation_destination_snapshot_identifier: "fx_destination_snapshot",
  activation_dead_letters_identifier: "fx_dead_letters",
});

const md5 = (text: string): string => createHash("md5").update(text, "utf8").digest("hex");
/** activation.row_hash, as documented in macros/row_hash.sql (its TypeScript formula in src/warehouse/row-hash.ts). */
const rowHash = rowHashOf;
/** activation.stable_bucket, as documented in macros/stable_bucket.sql. */
const stableBucket = (key: string | number, salt: string): number => parseInt(md5(`${salt}:${key}`).slice(0, 8), 16) % 100;

const pg = inject("postgres");
const pgSchema = `it_pkg_${process.pid}_${randomBytes(3).toString("hex")}`;
let duckdbPath = "";
const builds: Partial<Record<EngineName, Build>> = {};
const buildErrors: Partial<Record<EngineName, string>> = {};

function engineEnv(engine: EngineName): { args: string[]; env: Record<string, string> } {
  if (engine === "duckdb" || !pg.ok) return { args: ["--target", "duckdb"], env: {} };
  return {
    args: ["--target", "postgres"],
    env: {
      ACTIVATION_PG_HOST: pg.host,
      ACTIVATION_PG_PORT: String(pg.port),
      ACTIVATION_PG_USER: pg.user,
      ACTIVATION_PG_PASSWORD: "",
      ACTIVATION_PG_DATABASE: pg.database,
      ACTIVATION_PG_SCHEMA: pgSchema,
    },
  };
}

/** `dbt build --full-refresh`, then the reconciliation model with the sources redirected (seeds are loaded by then). */
async function buildOn(engine: EngineName, scratch: string): Promise<Build> {
  const { args, env } = engineEnv(engine);
  const targetPath = join(scratch, engine, "target");
  const reconciliationPath = join(scratch, engine, "reconciliation");
  await mkdir(targetPath, { recursive: true });
  const build = await dbt(["build", "--full-refresh", ...args], { targetPath, duckdbPath, env });
  // 1: tests failed (on purpose); anything else is a crash.
  if (build.exitCode !== 0 && build.exitCode !== 1) throw new Error(`dbt build on ${engine} crashed:\n${build.stdout}\n${build.stderr}`);
  const manifest = await readJson<{ nodes: Record<string, TestNode>; macros: Record<string, unknown> }>(join(targetPath, "manifest.json"));
  const select = ["--select", "activation_reconciliation", "fx_activation_reconciliation__pass", "fx_change_limit__pass_default_source", "activation_changes", "fx_activation_changes__pass"];
  const second = await dbt(["build", ...args, "--vars", RECONCILIATION_VARS, ...select], { targetPath: reconciliationPath, duckdbPath, env });
  if (second.exitCode !== 0) throw new Error(`dbt build of activation_reconciliation on ${engine} failed:\n${second.stdout}\n${second.stderr}`);
  return { nodes: manifest.nodes, macros: Object.keys(manifest.macros), results: await resultsOf(targetPath), reconciliation: await resultsOf(reconciliationPath) };
}

async function psql(sql: string): Promise<Row[]> {
  if (!pg.ok) throw new Error(pg.error);
  const { stdout } = await execa(join(pg.bindir, "psql"), ["-h", pg.host, "-p", String(pg.port), "-U", pg.user, "-d", pg.database, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", `select coalesce(json_agg(q), '[]') from (${sql}) as q`]);
  return JSON.parse(stdout) as Row[];
}

/** Rows of a relation in the integration schema (DuckDB: main) or in its test-failure schema. */
async function query(engine: EngineName, sql: (schema: string, audit: string) => string): Promise<Row[]> {
  if (engine === "duckdb") return queryDuckDB(duckdbPath, sql("main", "main_dbt_test__audit"));
  return psql(sql(`"${pgSchema}"`, `"${pgSchema}_dbt_test__audit"`));
}

function build(engine: EngineName): Build {
  const b = builds[engine];
  if (!b) throw new Error(buildErrors[engine] ?? `no ${engine} build`);
  return b;
}

const fixtureTests = (b: Build): TestNode[] => fixtureTestsOf(b.nodes);

beforeAll(async () => {
  const scratch = await mkdtemp(join(inject("scratchRoot"), "dbt-package-"));
  duckdbPath = join(scratch, "duckdb", "integration_tests.duckdb");
  const engines: EngineName[] = ["duckdb", "postgres"];
  if (!pg.ok) buildErrors.postgres = `PostgreSQL is not available: ${pg.error}`;
  await Promise.all(
    engines
      .filter((engine) => engine === "duckdb" || pg.ok)
      .map(async (engine) => {
        try {
          builds[engine] = await buildOn(engine, scratch);
        } catch (error) {
          buildErrors[engine] = String(error);
        }
      }),
  );
});

afterAll(async () => {
  if (pg.ok) {
    await execa(join(pg.bindir, "psql"), ["-h", pg.host, "-p", String(pg.port), "-U", pg.user, "-d", pg.database, "-X", "-q", "-c", `drop schema if exists "${pgSchema}" cascade; drop schema if exists "${pgSchema}_dbt_test__audit" cascade;`], { reject: false });
  }
});

describe.each(["duckdb", "postgres"] as const)("integration_tests on %s", (engine) => {
  it("builds every fixture model and seed, and errors nowhere", () => {
    expect(brokenNodes(build(engine).results)).toEqual([]);
  });

  it("passes every expect_pass fixture and fails every expect_fail one, with the expected number of failing rows", () => {
    const b = build(engine);
    const tests = fixtureTests(b);
    expect(tests.length).toBeGreaterThanOrEqual(40);
    expect(fixtureMismatches(tests, b.results)).toEqual([]);
  });

  it("has a passing and a failing fixture for every macro and generic test of the package", () => {
    const tests = fixtureTests(build(engine));
    for (const subject of SUBJECTS) {
      const of = tests.filter((n) => n.config.meta?.subject === subject);
      expect(of.filter((n) => expected(n) === "pass").map((n) => n.name), `${subject} pass`).not.toEqual([]);
      expect(of.filter((n) => expected(n) === "fail").map((n) => n.name), `${subject} fail`).not.toEqual([]);
    }
    // The package defines exactly these generic tests, and the fixtures use each of them.
    const defined = build(engine).macros.filter((id) => id.startsWith("macro.activation.test_")).map((id) => id.slice("macro.activation.test_".length));
    expect(defined.sort()).toEqual([...GENERIC_TESTS].sort());
    const used = new Set(tests.filter((n) => n.test_metadata?.namespace === "activation").map((n) => n.test_metadata!.name));
    expect([...used].sort()).toEqual([...GENERIC_TESTS].sort());
  });

  it("stores failing rows with a reason for each (store_failures)", async () => {
    const b = build(engine);
    const stored = fixtureTests(b).filter((n) => expected(n) === "fail" && n.config.store_failures);
    expect(stored.length).toBeGreaterThanOrEqual(10);
    for (const node of stored) {
      const rows = await query(engine, (_schema, audit) => `select * from ${audit}.${node.name}`);
      expect(rows.length, node.name).toBe(b.results.get(node.unique_id)?.failures);
      for (const row of rows) expect(typeof row.reason === "string" && row.reason.length > 0, `${node.name}: ${JSON.stringify(row, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v))}`).toBe(true);
    }
    const suppression = await query(engine, (_s, audit) => `select person_id, reason from ${audit}.fx_suppression__fail where person_id = 'p-015'`);
    expect(suppression).toEqual([{ person_id: "p-015", reason: "eligible but suppressed: holdout; outside_rollout" }]);
  });

  it("builds activation_reconciliation and activation_changes from the syncer's tables (sources pointed at fixture seeds by vars)", () => {
    const b = build(engine);
    const statuses = Object.fromEntries([...b.reconciliation.values()].map((r) => [r.unique_id.split(".")[2], r.status]));
    expect(statuses).toEqual({
      activation_reconciliation: "success",
      fx_activation_reconciliation__pass: "pass",
      fx_change_limit__pass_default_source: "pass",
      activation_changes: "success",
      fx_activation_changes__pass: "pass",
    });
  });

  it("computes row_hash and stable_bucket exactly as documented", async () => {
    build(engine);
    const buckets = await query(engine, (s) => `select key_text, key_int, bucket_text, bucket_int, bucket_text_portable from ${s}.fx_stable_buckets`);
    expect(buckets.length).toBe(44);
    for (const row of buckets) {
      expect(Number(row.bucket_text), String(row.key_text)).toBe(stableBucket(String(row.key_text), "salt-a"));
      expect(Number(row.bucket_int), String(row.key_int)).toBe(stableBucket(Number(row.key_int), "salt-b"));
      expect(Number(row.bucket_text_portable)).toBe(Number(row.bucket_text));
    }
    // fx_people.csv has no quoted fields: the seed's text is what the engines cast back to text.
    const csv = (await readFile(join(integrationProject, "seeds", "fixtures", "fx_people.csv"), "utf8")).trim().split("\n");
    const header = csv[0]!.split(",");
    const people = csv.slice(1).map((line) => Object.fromEntries(line.split(",").map((v, i) => [header[i]!, v === "" ? null : v])));
    const eligible = await query(engine, (s) => `select person_id, _activation_row_hash from ${s}.fx_people_eligible`);
    expect(eligible.length).toBe(8);
    for (const row of eligible) {
      const p = people.find((x) => x.person_id === row.person_id)!;
      expect(row._activation_row_hash, String(row.person_id)).toBe(rowHash([p.first_name!, p.plan!, p.risk_score!, p.scored_at!, p.consent_updated_at!]));
    }
    // hash_columns: the hash of the mapped fields only; with no suppression, every keyed row is eligible.
    const hashed = await query(engine, (s) => `select person_id, _activation_row_hash from ${s}.fx_people_hashed`);
    expect(hashed.length).toBe(people.filter((p) => p.person_id !== null).length);
    for (const row of hashed) {
      const p = people.find((x) => x.person_id === row.person_id)!;
      expect(row._activation_row_hash, String(row.person_id)).toBe(rowHash([p.first_name!, p.plan!]));
    }
    // Holdout membership is the bucket rule: held out exactly when stable_bucket(key, salt) < percent.
    const excluded = await query(engine, (s) => `select person_id, reasons from ${s}.fx_people_excluded where person_id is not null`);
    for (const p of people.filter((x) => x.person_id !== null)) {
      const reasons = String(excluded.find((x) => x.person_id === p.person_id)?.reasons ?? "").split("; ");
      expect(reasons.includes("holdout"), String(p.person_id)).toBe(stableBucket(p.person_id!, "fx-holdout") < 20);
      expect(reasons.includes("outside_rollout"), String(p.person_id)).toBe(stableBucket(p.person_id!, "fx-rollout") >= 80);
    }
  });
});

describe("across engines", () => {
  it("gives the same buckets, row hashes and excluded rows on DuckDB and PostgreSQL", async () => {
    build("duckdb");
    build("postgres");
    const sql = {
      buckets: (s: string) => `select key_text, bucket_text, bucket_int from ${s}.fx_stable_buckets order by key_text`,
      hashes: (s: string) => `select id, row_hash from ${s}.fx_row_hashes order by id`,
      eligible: (s: string) => `select person_id, _activation_row_hash from ${s}.fx_people_eligible order by person_id`,
      excluded: (s: string) => `select person_id, reasons from ${s}.fx_people_excluded order by person_id`,
    };
    const normalize = (rows: Row[]): Row[] => rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v === null ? null : String(v)])));
    for (const [name, q] of Object.entries(sql)) {
      const [onDuckdb, onPostgres] = await Promise.all([query("duckdb", q), query("postgres", q)]);
      expect(onDuckdb.length, name).toBeGreaterThan(0);
      // Ordering of text differs by collation (DuckDB binary, PostgreSQL C.UTF-8 here): compare as sorted JSON.
      const sorted = (rows: Row[]): string[] => normalize(rows).map((r) => JSON.stringify(r)).sort();
      expect(sorted(onPostgres), name).toEqual(sorted(onDuckdb));
    }
  });
});
