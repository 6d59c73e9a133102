/**
 * The integration build on each warehouse the end-to-end suites run on, behind one interface, so a suite runs every
 * test on both through the real CLI (`describe.each(ENGINES)` and `integrationEngine(name)` inside it):
 * - DuckDB: the shared build of test/setup/global.ts; each test gets a private copy of its file (ledger included).
 * - PostgreSQL: one `dbt build --target postgres` per suite into a schema of its own; each test gets a fresh ledger
 *   schema (the profile target's schema at sync time: the build's relations are named by the manifest), and the
 *   build's relations a test changes are restored after it. Every schema is dropped after the suite. When the server
 *   is not available the suite's tests fail with the reason.
 */
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp } from "node:fs/promises";
import { join } from "node:path";
import pg from "pg";
import { afterAll, afterEach, beforeAll, beforeEach, inject } from "vitest";
import { dbt } from "../../scripts/dbt.ts";
import { copyArtifacts, freshDuckdb, integrationBuild } from "./cli.ts";
import { execDuckDB, queryDuckDB } from "./warehouse.ts";

export const ENGINES = ["duckdb", "postgres"] as const;
export type EngineName = (typeof ENGINES)[number];
export type Row = Record<string, unknown>;

export interface IntegrationEngine {
  readonly name: EngineName;
  /** CLI flags choosing the engine's profile target: none on DuckDB (the profile's default target). */
  readonly args: string[];
  /** Where the build's dbt artifacts are (read-only: copy them with `copyArtifacts` to change them). */
  targetPath(): string;
  /** The CLI's environment for the current test: the warehouse connection and, on PostgreSQL, the test's ledger schema. */
  env(): Record<string, string>;
  /** A relation of the build, quoted (DuckDB: `"integration_tests"."main"."<name>"`). */
  model(name: string): string;
  /** One of the syncer's tables in the current test's ledger, quoted. */
  ledgerTable(name: string): string;
  /** A schema private to the current test for `--ledger-schema` (DuckDB: `name` itself, the file is private). */
  schema(name: string): string;
  /** Reads the warehouse; counts (bigint) come back as bigint on both engines. */
  query(sql: string): Promise<Row[]>;
  /** Changes the build's relations in the current test only (on PostgreSQL the `mutable` models are restored after it). */
  mutate(sql: string): Promise<void>;
  /** A copy of the build's artifacts, optionally rewritten (see cli.ts). */
  copyArtifacts(edit?: Parameters<typeof copyArtifacts>[0]): Promise<string>;
}

export interface EngineOptions {
  /** Models of the build that tests `mutate` (restored after each such test on PostgreSQL). */
  mutable?: string[];
}

/** Registers the engine's hooks in the enclosing describe block and returns the engine for its tests. */
export function integrationEngine(name: EngineName, options: EngineOptions = {}): IntegrationEngine {
  return name === "duckdb" ? duckdbEngine() : postgresEngine(options.mutable ?? []);
}

function duckdbEngine(): IntegrationEngine {
  let duckdbPath = "";
  beforeEach(async () => {
    duckdbPath = await freshDuckdb();
  });
  const relation = (name: string): string => `"integration_tests"."main"."${name}"`;
  return {
    name: "duckdb",
    args: [],
    targetPath: () => integrationBuild().targetPath,
    env: () => ({ ACTIVATION_DUCKDB_PATH: duckdbPath }),
    model: relation,
    ledgerTable: relation,
    schema: (name) => name,
    query: (sql) => queryDuckDB(duckdbPath, sql),
    mutate: (sql) => execDuckDB(duckdbPath, sql),
    copyArtifacts: (edit) => copyArtifacts(edit),
  };
}

/** int8 (count(*), bigint columns) as bigint, as DuckDB's client returns it. */
const bigintTypes = {
  getTypeParser: ((oid: number, format?: "text" | "binary") =>
    oid === pg.types.builtins.INT8 ? (value: string) => BigInt(value) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

function postgresEngine(mutable: string[]): IntegrationEngine {
  const server = inject("postgres");
  // Every schema of this suite starts with the prefix: the build's, its test-failure schema, the ledgers, the backups.
  const prefix = `e2e_${randomBytes(4).toString("hex")}`;
  const pristine = `${prefix}_pristine`;
  let targetPath = "";
  let tests = 0;
  let ledger = "";
  let mutated = false;

  const connection = (): pg.ClientConfig => {
    if (!server.ok) throw new Error(`PostgreSQL is not available: ${server.error}`);
    return { host: server.host, port: server.port, user: server.user, database: server.database, types: bigintTypes };
  };
  async function withClient<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = new pg.Client(connection());
    await client.connect();
    try {
      return await fn(client);
    } finally {
      await client.end();
    }
  }
  const env = (schema: string): Record<string, string> => {
    if (!server.ok) throw new Error(`PostgreSQL is not available: ${server.error}`);
    return {
      ACTIVATION_PG_HOST: server.host,
      ACTIVATION_PG_PORT: String(server.port),
      ACTIVATION_PG_USER: server.user,
      ACTIVATION_PG_PASSWORD: "",
      ACTIVATION_PG_DATABASE: server.database,
      ACTIVATION_PG_SCHEMA: schema,
    };
  };
  const quoted = (schema: string, name: string): string => `"${schema}"."${name}"`;

  beforeAll(async () => {
    if (!server.ok) throw new Error(`PostgreSQL is not available: ${server.error}`);
    const dir = await mkdtemp(join(inject("scratchRoot"), "integration-pg-"));
    targetPath = join(dir, "target");
    await mkdir(targetPath, { recursive: true });
    const build = await dbt(["build", "--target", "postgres"], { targetPath, duckdbPath: join(dir, "unused.duckdb"), env: env(prefix) });
    // 1: the build fails on purpose (account_health's not_null test on domain), as in test/setup/global.ts.
    if (build.exitCode !== 0 && build.exitCode !== 1) throw new Error(`dbt build --target postgres crashed:\n${build.stdout}\n${build.stderr}`);
    await withClient(async (client) => {
      await client.query(`create schema "${pristine}"`);
      for (const model of mutable) await client.query(`create table ${quoted(pristine, model)} as select * from ${quoted(prefix, model)}`);
    });
  });
  beforeEach(() => {
    tests += 1;
    ledger = `${prefix}_t${tests}`;
  });
  afterEach(async () => {
    if (!mutated) return;
    mutated = false;
    await withClient(async (client) => {
      await client.query("begin");
      for (const model of mutable) {
        await client.query(`truncate ${quoted(prefix, model)}`);
        await client.query(`insert into ${quoted(prefix, model)} select * from ${quoted(pristine, model)}`);
      }
      await client.query("commit");
    });
  });
  afterAll(async () => {
    if (!server.ok) return;
    await withClient(async (client) => {
      const { rows } = await client.query<{ nspname: string }>("select nspname from pg_namespace where starts_with(nspname, $1)", [prefix]);
      for (const { nspname } of rows) await client.query(`drop schema if exists "${nspname}" cascade`);
    });
  });

  return {
    name: "postgres",
    args: ["--target", "postgres"],
    targetPath: () => targetPath,
    env: () => env(ledger),
    model: (name) => quoted(prefix, name),
    ledgerTable: (name) => quoted(ledger, name),
    schema: (name) => `${ledger}_${name}`,
    query: (sql) => withClient(async (client) => (await client.query<Row>(sql)).rows),
    async mutate(sql) {
      mutated = true;
      await withClient((client) => client.query(sql));
    },
    copyArtifacts: (edit) => copyArtifacts(edit, targetPath),
  };
}
