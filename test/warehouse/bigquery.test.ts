/** The BigQuery warehouse through @google-cloud/bigquery against the loopback fake (test/support/bigquery-fake.ts). */
import { describe, expect, it } from "vitest";
import { connectWarehouse } from "../../src/warehouse/index.ts";
import type { Warehouse } from "../../src/warehouse/types.ts";
import { startBigQueryFake, translate, type BigQueryFake } from "../support/bigquery-fake.ts";
import { warehouseSuite } from "./suite.ts";

const TOKEN = "ya29.fake-access-token";
let fake: BigQueryFake | undefined;
const profile = (url: string): Record<string, unknown> & { type: string } => ({
  type: "bigquery",
  method: "oauth-secrets",
  token: TOKEN,
  project: "activation-test",
  dataset: "analytics",
  location: "US",
  api_endpoint: url,
});

warehouseSuite({
  name: "bigquery",
  async connect(): Promise<Warehouse> {
    fake = await startBigQueryFake({ projectId: "activation-test", token: TOKEN });
    return connectWarehouse({ profile: "p", target: "bq", profilesPath: "profiles.yml", config: profile(fake.url) });
  },
  // Spelt with digits cross-joined (valid BigQuery that the fake runs untranslated) up to 10,000.
  series: (n) => {
    const digits = `(${Array.from({ length: 10 }, (_, d) => `select ${d} as d`).join(" union all ")})`;
    return `select a.d + 10 * b.d + 100 * c.d + 1000 * e.d as i from ${digits} as a cross join ${digits} as b cross join ${digits} as c cross join ${digits} as e where a.d + 10 * b.d + 100 * c.d + 1000 * e.d < ${n}`;
  },
  async stop() {
    // Transactions went through sessions, and large results through pages of getQueryResults.
    const paths = fake?.calls().map((c) => `${c.method} ${c.path.replace(/\/queries\/[^/]+$/, "/queries/ID")}`) ?? [];
    expect(paths).toContain("POST /bigquery/v2/projects/activation-test/queries");
    expect(paths).toContain("GET /bigquery/v2/projects/activation-test/queries/ID");
    await fake?.close();
  },
});

describe("bigquery: profile target and fake", () => {
  it("names the missing fields and rejects a wrong token", async () => {
    await expect(connectWarehouse({ profile: "p", target: "bq", profilesPath: "profiles.yml", config: { type: "bigquery" } })).rejects.toThrow(/needs project, dataset/);
    const other = await startBigQueryFake({ projectId: "activation-test", token: "another-token" });
    try {
      const w = await connectWarehouse({ profile: "p", target: "bq", profilesPath: "profiles.yml", config: profile(other.url) });
      await expect(w.query("select 1 as x")).rejects.toThrow(/invalid authentication credentials/);
    } finally {
      await other.close();
    }
  });

  it("translates only the BigQuery spellings it lists", () => {
    expect(translate("select to_hex(md5(`a`)) from `p`.`d`.`t` where x = @p1 and y = 'it''s @p2 `q`'")).toBe(
      `select (md5("a")) from "p"."d"."t" where x = $p1 and y = 'it''s @p2 \`q\`'`,
    );
    expect(translate("create table t (a string, primary key (a, b) not enforced)")).toBe("create table t (a string)");
    expect(translate("select code_points_to_string([31])")).toBe("select chr(31)");
  });
});
