/**
 * Text columns read packed (src/warehouse/packed-text.ts): on DuckDB a row's text columns are read as one JSON array
 * and parsed in Node. Adversarial texts must come back as the very strings stored: every code point below U+0800
 * (NUL and the other controls included), astral characters, quotes, backslashes, texts that are themselves JSON,
 * empty and very long texts, nulls. A JSON column (DuckDB reports its type as VARCHAR) is packed as its text, which
 * is what the driver reads for it too; columns of other types go through the driver as before.
 */
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DuckDBInstance } from "@duckdb/node-api";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packedTextSelect } from "../../src/warehouse/packed-text.ts";
import { connectWarehouse } from "../../src/warehouse/index.ts";
import type { Warehouse, WarehouseRow } from "../../src/warehouse/types.ts";

const TEXTS: (string | null)[] = [
  ...Array.from({ length: 0x800 }, (_, cp) => `a${String.fromCodePoint(cp)}b`),
  "\u2028\u2029",
  "😀 ü e\u0301",
  "\\",
  '"',
  "\\u0041",
  "",
  null,
  "x".repeat(100_000),
  '{"a":1}',
  "[1,2]",
  "null",
  String.fromCodePoint(0x10ffff),
];

describe("text columns read packed on DuckDB", () => {
  let warehouse: Warehouse;
  beforeAll(async () => {
    const path = join(await mkdtemp(join(tmpdir(), "packed-text-")), "t.duckdb");
    (await DuckDBInstance.create(path)).closeSync();
    warehouse = await connectWarehouse({ profile: "t", target: "t", profilesPath: "profiles.yml", config: { type: "duckdb", path } });
    await warehouse.execute(`create table t (i integer, k varchar, v varchar, j json, n bigint, d decimal(38, 10), ts timestamp)`);
    const rows = TEXTS.map((text, i) => `(${i}, 'key-${i}-' || repeat('k', 20), ${text === null ? "null" : `'${text.replaceAll("'", "''")}'`}, '{"i": ${i}}', ${i} * 1000000000000, 12345678901234567890.0123456789, timestamp '1969-12-31 23:59:59.999999')`);
    // The NUL character cannot be written in a SQL literal: chr(0) instead.
    await warehouse.execute(`insert into t values ${rows.join(", ").replace("'a\0b'", "'a' || chr(0) || 'b'")}`);
    // A row whose texts are too long to pack (DuckDB's to_json ran out of the 256MB cap on a 34 MB value): read plainly.
    await warehouse.execute(`insert into t values (${TEXTS.length}, 'key-long-' || repeat('k', 20), repeat('x', 34000000), null, 0, 0, null)`);
  });
  afterAll(async () => warehouse?.close());

  const read = async (columns: string, unpack: (row: WarehouseRow) => WarehouseRow): Promise<WarehouseRow[]> => {
    const rows: WarehouseRow[] = [];
    for await (const chunk of warehouse.stream(`select ${columns} from t order by i`)) rows.push(...chunk.map(unpack));
    return rows;
  };

  it("gives back every column as the driver reads it, the texts packed into one value", async () => {
    const names = ["i", "k", "v", "j", "n", "d", "ts"];
    const select = await packedTextSelect(warehouse, "t", names);
    expect(select.columns).toMatch(/ then cast\(to_json\(\[cast\("k" as varchar\), cast\("v" as varchar\)/);
    const plain = await read(names.map((c) => `"${c}"`).join(", "), (row) => row);
    const packed = await read(select.columns, select.unpack);
    expect(packed).toHaveLength(TEXTS.length + 1);
    expect(packed.slice(0, TEXTS.length).map((row) => row.v)).toEqual(TEXTS);
    expect(packed.at(-1)?.v).toBe("x".repeat(34_000_000));
    expect(packed.at(-1)?.k).toBe(`key-long-${"k".repeat(20)}`);
    for (const [i, row] of packed.entries()) for (const name of names) expect(row[name], `row ${i}, column ${name}`).toEqual(plain[i]![name]);
  });

  it("reads a single text column as it is (one read either way)", async () => {
    const select = await packedTextSelect(warehouse, "t", ["i", "v"]);
    expect(select.columns).toBe(`"i", "v"`);
  });
});
