/**
 * Reading a relation's rows with their text columns packed, where the dialect packs text (`Dialect.packedText`).
 *
 * The DuckDB client reads each text value longer than 12 bytes through a native call of its own (about 3 µs): a
 * plan's rows to send carry three or more (the key, the row hash, an email), which made reading them the plan's
 * largest cost after the diff itself. Packed, a row's texts are one value and one `JSON.parse` in Node, and JSON
 * escapes every character a text can hold, so the strings read are the very ones stored. Only columns of the
 * engine's plain text type are packed: every other type goes through the driver's own conversion as before. A row
 * whose texts are long (`fits` says how long) is read as before too: packing it would cost memory, not save calls.
 */
import type { Warehouse, WarehouseRow } from "./types.ts";

/** The packed column's alias: not a name a contract's column can take (the syncer's own columns start `__activation`). */
const PACKED = "__activation_packed_text";

export interface PackedTextSelect {
  /** The select list: the packed texts, then the other columns, each by its quoted name. */
  columns: string;
  /** A row read with `columns` as the row of every column by name (the row is reused). */
  unpack(row: WarehouseRow): WarehouseRow;
}

/** How to read `columns` (names, unquoted) of `relation` with their text columns packed; every column as is without it. */
export async function packedTextSelect(warehouse: Warehouse, relation: string, columns: string[]): Promise<PackedTextSelect> {
  const q = warehouse.dialect.quoteIdentifier;
  const plain: PackedTextSelect = { columns: columns.map(q).join(", "), unpack: (row) => row };
  const packing = warehouse.dialect.packedText;
  if (!packing || !warehouse.columnTypes) return plain;
  const types = await warehouse.columnTypes(relation);
  const texts = columns.filter((c) => types[c] === packing.textType);
  // One text alone is one read either way.
  if (texts.length < 2) return plain;
  const fits = packing.fits(texts.map(q));
  // Each text is read on its own only where the row's texts are not packed (null, and so cheap, where they are).
  const select = columns.map((c) => (texts.includes(c) ? `case when ${fits} then null else ${q(c)} end as ${q(c)}` : q(c)));
  return {
    columns: [`case when ${fits} then ${packing.pack(texts.map(q))} end as ${q(PACKED)}`, ...select].join(", "),
    unpack: (row) => {
      const packed = row[PACKED];
      if (typeof packed !== "string") return row;
      const values = JSON.parse(packed) as (string | null)[];
      for (let i = 0; i < texts.length; i += 1) row[texts[i]!] = values[i];
      return row;
    },
  };
}
