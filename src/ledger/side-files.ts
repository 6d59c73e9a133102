/**
 * The part of the ledger other processes must reach while a sync holds the warehouse: on DuckDB one process at a time
 * opens the database file (a running sync locks it for its whole run), so the kill switch and a status snapshot live
 * in small files in a directory next to it, `<database file>.activation/<ledger schema>/`. Every write is a whole
 * file renamed into place (atomic on one file system), so a reader never sees half a file, and each contract's switch
 * is a file of its own, so two `pause` commands at once cannot lose each other's write.
 */
import { randomUUID } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { BadInputError } from "../errors.ts";

export interface PauseRecord {
  contract: string;
  reason: string | null;
  actor: string | null;
  updatedAt: string;
}

async function writeAtomically(path: string, dir: string, text: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const temporary = join(dir, `.${randomUUID()}.tmp`);
  await writeFile(temporary, text, "utf8");
  await rename(temporary, path);
}

async function readJson(path: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, "utf8"));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** A contract name as a file name: any name, `*` included, maps to one file and back. */
const fileOf = (contract: string): string => `${encodeURIComponent(contract).replaceAll("*", "%2A")}.json`;

export class SideFiles {
  /** The directory of one ledger schema's side files. */
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  get #pauses(): string {
    return join(this.dir, "paused");
  }

  get statusPath(): string {
    return join(this.dir, "status.json");
  }

  /** Throws (`paused`) or lifts the switch of one contract (or `*`). */
  async setPaused(contract: string, paused: boolean, reason: string | null, actor: string | null): Promise<void> {
    const path = join(this.#pauses, fileOf(contract));
    if (!paused) {
      await rm(path, { force: true });
      return;
    }
    const record: PauseRecord = { contract, reason, actor, updatedAt: new Date().toISOString() };
    try {
      await writeAtomically(path, this.#pauses, JSON.stringify(record));
    } catch (error) {
      // A directory this user cannot write (the database's, shared): say where, not a stack trace.
      const code = (error as NodeJS.ErrnoException).code;
      if (code === undefined) throw error;
      throw new BadInputError(`cannot write the kill switch ${path} (${code}): the directory next to the DuckDB database must be writable by whoever pauses`, { where: path });
    }
  }

  async paused(contract: string): Promise<PauseRecord | undefined> {
    return (await readJson(join(this.#pauses, fileOf(contract)))) as PauseRecord | undefined;
  }

  async allPaused(): Promise<PauseRecord[]> {
    let names: string[];
    try {
      names = await readdir(this.#pauses);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
      throw error;
    }
    const records = await Promise.all(names.filter((n) => n.endsWith(".json")).map((n) => readJson(join(this.#pauses, n))));
    return (records.filter(Boolean) as PauseRecord[]).sort((a, b) => (a.contract < b.contract ? -1 : a.contract > b.contract ? 1 : 0));
  }

  /** The running sync's status snapshot (JSON text the status command reads while the database is held). */
  async writeStatus(snapshot: unknown): Promise<void> {
    await writeAtomically(this.statusPath, this.dir, JSON.stringify(snapshot));
  }

  async readStatus(): Promise<unknown> {
    return readJson(this.statusPath);
  }

  async removeStatus(): Promise<void> {
    await rm(this.statusPath, { force: true });
  }
}
