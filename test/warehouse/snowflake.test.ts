/**
 * The Snowflake warehouse through snowflake-sdk against fakesnow (PyPI `fakesnow[server]`, Snowflake emulated on
 * DuckDB) on loopback, started from the project's virtualenv. fakesnow_json_server.py says what the wrapper changes
 * (the result encoding the Node driver reads, and two answers fakesnow gets wrong) and why.
 */
import { randomUUID } from "node:crypto";
import { createServer } from "node:net";
import { join } from "node:path";
import { execa, type ResultPromise } from "execa";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../../scripts/dbt.ts";
import { BadInputError } from "../../src/errors.ts";
import { connectWarehouse } from "../../src/warehouse/index.ts";
import type { Warehouse } from "../../src/warehouse/types.ts";
import { warehouseSuite } from "./suite.ts";

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

let fakesnow: ResultPromise | undefined;
let port = 0;
const database = `act_${randomUUID().slice(0, 8)}`;
const profile = (): Record<string, unknown> & { type: string } => ({
  type: "snowflake",
  account: "fakesnow",
  user: "tester",
  password: "fake-password-never-printed",
  role: "transformer",
  database,
  warehouse: "compute_wh",
  schema: "analytics",
  host: "127.0.0.1",
  port,
  protocol: "http",
});

async function startFakesnow(): Promise<void> {
  port = await freePort();
  fakesnow = execa(join(repoRoot, ".venv", "bin", "python"), [join(repoRoot, "test", "warehouse", "fakesnow_json_server.py"), String(port)], { reject: false, stdio: ["ignore", "ignore", "pipe"] });
  for (let i = 0; i < 100; i += 1) {
    const up = await fetch(`http://127.0.0.1:${port}/session`, { method: "POST" }).then(
      () => true,
      () => false,
    );
    if (up) return;
    if (fakesnow.exitCode !== undefined && fakesnow.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`fakesnow did not start on port ${port}`);
}

warehouseSuite({
  name: "snowflake",
  async connect(): Promise<Warehouse> {
    await startFakesnow();
    const warehouse = await connectWarehouse({ profile: "p", target: "sf", profilesPath: "profiles.yml", config: profile() });
    // fakesnow starts empty: the database the profile names is created first, as an account admin would have.
    await warehouse.execute(`create database if not exists ${warehouse.dialect.quoteIdentifier(database)}`);
    return warehouse;
  },
  series: (n) => `select seq4() as i from table(generator(rowcount => ${n}))`,
  partitionedPlanTimeoutMs: 600_000,
  // Three partitions only (DuckDB and PostgreSQL run 3 and 7): the same partition filter, a third of the statements,
  // each of which fakesnow spends seconds translating (the test took 204 s of this file's 297 s with both).
  partitionCounts: [3],
  async stop() {
    fakesnow?.kill();
    await fakesnow;
  },
});

describe("snowflake: profile target", () => {
  it("names the missing fields, and never echoes the password when it cannot connect", async () => {
    await expect(connectWarehouse({ profile: "p", target: "sf", profilesPath: "profiles.yml", config: { type: "snowflake" } })).rejects.toThrow(/needs account, user, database/);
    const secret = "s3cr3t-Password-value";
    const closed = await freePort();
    const error = await connectWarehouse({ profile: "p", target: "sf", profilesPath: "profiles.yml", config: { ...profile(), port: closed, password: secret, login_timeout: 2 } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadInputError);
    expect(String((error as Error).message)).toMatch(/cannot connect to Snowflake account fakesnow as tester/);
    expect(JSON.stringify({ message: (error as Error).message, where: (error as BadInputError).where })).not.toContain(secret);
  });
});
