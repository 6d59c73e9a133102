/** The PostgreSQL warehouse against the real loopback server the global setup starts (scripts/setup-postgres.sh). */
import { randomUUID } from "node:crypto";
import { describe, expect, inject, it } from "vitest";
import { BadInputError } from "../../src/errors.ts";
import { LEDGER_VERSION, ledgerTables, migrate } from "../../src/ledger/migrations.ts";
import { connectWarehouse } from "../../src/warehouse/index.ts";
import { warehouseSuite } from "./suite.ts";

const server = inject("postgres");
if (!server.ok) throw new Error(`the loopback PostgreSQL did not start: ${server.error}`);
const schema = `wh_${randomUUID().slice(0, 8)}`;
const profile = { type: "postgres", host: server.host, port: server.port, user: server.user, password: "unused-with-trust", dbname: server.database, schema };

warehouseSuite({
  name: "postgres",
  connect: () => connectWarehouse({ profile: "p", target: "pg", profilesPath: "profiles.yml", config: profile }),
  series: (n) => `select i from generate_series(0, ${n - 1}) as g(i)`,
});

describe("postgres: profile target", () => {
  it("never echoes the password when it cannot connect", async () => {
    const secret = "s3cr3t-Password-value";
    const error = await connectWarehouse({ profile: "p", target: "pg", profilesPath: "profiles.yml", config: { ...profile, port: 1, password: secret, connect_timeout: 2 } }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadInputError);
    expect(String((error as Error).message)).toMatch(/cannot connect to PostgreSQL at 127\.0\.0\.1:1\//);
    expect(JSON.stringify({ message: (error as Error).message, where: (error as BadInputError).where })).not.toContain(secret);
  });

  it("names the missing fields", async () => {
    await expect(connectWarehouse({ profile: "p", target: "pg", profilesPath: "profiles.yml", config: { type: "postgres", schema } })).rejects.toThrow(/needs host, user, dbname/);
  });

  it("opens read-only when asked: writes fail", async () => {
    const w = await connectWarehouse({ profile: "p", target: "pg", profilesPath: "profiles.yml", config: profile }, { readOnly: true });
    try {
      await expect(w.execute(`create table ${schema}_ro (a int)`)).rejects.toThrow(/read-only/);
    } finally {
      await w.close();
    }
  });

  // Found by the reliability suite: two first runs at once raced in `create table if not exists` (PostgreSQL checks
  // the name before it takes any lock) and the loser failed. The advisory lock around the upgrade serialises them.
  it("migrates a fresh ledger from several runners at once: every one succeeds, each version is applied once", async () => {
    const runners = await Promise.all(Array.from({ length: 4 }, () => connectWarehouse({ profile: "p", target: "pg", profilesPath: "profiles.yml", config: profile })));
    try {
      for (let round = 0; round < 5; round += 1) {
        const tables = ledgerTables(runners[0]!.dialect, `${schema}_race_${round}`);
        expect(await Promise.all(runners.map((w) => migrate(w, tables)))).toEqual(runners.map(() => LEDGER_VERSION));
        const versions = await runners[0]!.query(`select version from ${tables.migrations} order by version`);
        expect(versions.map((r) => Number(r.version))).toEqual(Array.from({ length: LEDGER_VERSION }, (_, i) => i + 1));
        await runners[0]!.execute(`drop schema "${tables.schema}" cascade`);
      }
    } finally {
      await Promise.all(runners.map((w) => w.close()));
    }
  });
});
