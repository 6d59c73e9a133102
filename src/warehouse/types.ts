/** One interface for every warehouse engine; each engine is a folder with its dialect, driver and adapter. */

/** A value as a driver returns it: strings, numbers, bigints, booleans, Dates, nulls, or nested lists and structs. */
export type WarehouseValue = unknown;
export type WarehouseRow = Record<string, WarehouseValue>;

export interface Dialect {
  /** Quotes one identifier part (column, alias) so any name, and no injection, survives. */
  quoteIdentifier(name: string): string;
}

export interface Warehouse {
  readonly dialect: Dialect;
  /** Column names of a relation, in order (a zero-row query: cheap on every engine). */
  columns(relation: string): Promise<string[]>;
  /** Runs a query and yields its rows in chunks, without holding the whole result in memory. */
  stream(sql: string): AsyncIterable<WarehouseRow[]>;
  close(): Promise<void>;
}

export interface ConnectOptions {
  /** Open without write access: the foundation sync only reads eligible rows. */
  readOnly?: boolean;
  /** Directory relative paths in the profile resolve against (dbt's: the working directory). */
  cwd?: string;
}
