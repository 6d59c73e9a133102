/**
 * Operational controls kept beside the ledger: the kill switch (pause / resume a contract, or `*` for every contract)
 * and the lease that lets one runner at a time sync a contract. The switch lives in the warehouse, except where the
 * engine lets one process at a time open the database (DuckDB): there it lives in side files next to the database
 * (side-files.ts), so an operator can throw it while a sync holds the file, and the sync reads it between batches.
 */
import type { Warehouse } from "../warehouse/types.ts";
import type { LedgerTables } from "./migrations.ts";
import { readEnv } from "../config/env.ts";
import type { PauseRecord, SideFiles } from "./side-files.ts";

export const ALL_CONTRACTS = "*";
/** `DBT_ACTIVATION_PAUSE=1` (or `*`) pauses every contract; a comma-separated list pauses those contracts. */
export const PAUSE_ENV = "DBT_ACTIVATION_PAUSE";

export interface PauseState {
  contract: string;
  reason: string | null;
  actor: string | null;
  updatedAt: Date | null;
}

/** How often a held lease is renewed (at most; a TTL under 2 minutes renews every quarter TTL). */
const LEASE_HEARTBEAT_MS = 30_000;

export interface HeldLease {
  acquired: true;
  /** Stops the heartbeat and releases the lease. */
  release(): Promise<void>;
}

/** Why a contract may not send, from its switch (or the `*` switch): what the sync's outcome and `status` say. */
function pausedReasonOf(row: { contract: string; reason: string | null; actor: string | null }): string {
  const who = row.actor ? ` by ${row.actor}` : "";
  const scope = row.contract === ALL_CONTRACTS ? "every contract is paused" : "paused";
  return `${scope}${who}${row.reason ? `: ${row.reason}` : ""} (dbt-activation resume)`;
}

/** `DBT_ACTIVATION_PAUSE` names the contract (or every contract): the reason, else undefined. */
function pausedByEnv(contract: string, env: NodeJS.ProcessEnv): string | undefined {
  const fromEnv = readEnv(env, PAUSE_ENV)?.trim();
  if (!fromEnv) return undefined;
  const names = fromEnv.split(",").map((n) => n.trim());
  return ["1", "true", ALL_CONTRACTS].includes(fromEnv) || names.includes(contract) ? `paused by ${PAUSE_ENV}=${fromEnv}` : undefined;
}

const pauseState = (r: PauseRecord): PauseState => ({ contract: r.contract, reason: r.reason, actor: r.actor, updatedAt: new Date(r.updatedAt) });

/** The kill switch kept in side files (DuckDB), for commands that must not open the database: `pause`, `resume`, `status`. */
export class FileKillSwitch {
  readonly #side: SideFiles;

  constructor(side: SideFiles) {
    this.#side = side;
  }

  setPaused(contract: string, paused: boolean, reason: string | undefined, actor: string | undefined): Promise<void> {
    return this.#side.setPaused(contract, paused, reason ?? null, actor ?? null);
  }

  async pausedReason(contract: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
    const fromEnv = pausedByEnv(contract, env);
    if (fromEnv) return fromEnv;
    const record = (await this.#side.paused(contract)) ?? (await this.#side.paused(ALL_CONTRACTS));
    return record ? pausedReasonOf(record) : undefined;
  }

  async pausedContracts(): Promise<PauseState[]> {
    return (await this.#side.allPaused()).map(pauseState);
  }
}

export class Controls {
  readonly #w: Warehouse;
  readonly #t: LedgerTables;
  readonly #file: FileKillSwitch | undefined;

  /** `side`: the engine admits one process at a time, so the kill switch lives in these side files. */
  constructor(warehouse: Warehouse, tables: LedgerTables, side?: SideFiles) {
    this.#w = warehouse;
    this.#t = tables;
    this.#file = side ? new FileKillSwitch(side) : undefined;
  }

  /**
   * Where the switch lives in side files, moves the switches an older version kept in the controls table into them
   * (a side file already there is newer and wins), so no pause is lost on upgrade.
   */
  async adoptTableSwitches(): Promise<void> {
    if (!this.#file) return;
    const rows = await this.#w.query(`select contract_name, reason, actor from ${this.#t.controls} where paused`);
    const present = new Set((await this.#file.pausedContracts()).map((p) => p.contract));
    for (const row of rows) {
      const contract = String(row.contract_name);
      if (!present.has(contract)) await this.#file.setPaused(contract, true, (row.reason as string | null) ?? undefined, (row.actor as string | null) ?? undefined);
    }
    if (rows.length > 0) await this.#w.execute(`delete from ${this.#t.controls}`);
  }

  async setPaused(contract: string, paused: boolean, reason: string | undefined, actor: string | undefined): Promise<void> {
    if (this.#file) return this.#file.setPaused(contract, paused, reason, actor);
    const p = this.#w.dialect.param;
    await this.#w.transaction(async () => {
      await this.#w.execute(`delete from ${this.#t.controls} where contract_name = ${p(1)}`, [contract]);
      await this.#w.execute(`insert into ${this.#t.controls} (contract_name, paused, reason, actor, updated_at) values (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}, ${p(5)})`, [
        contract,
        paused,
        reason ?? null,
        actor ?? null,
        new Date(),
      ]);
    });
  }

  /** Why the contract may not send now, or undefined. The environment variable wins over the warehouse. */
  async pausedReason(contract: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
    if (this.#file) return this.#file.pausedReason(contract, env);
    const fromEnv = pausedByEnv(contract, env);
    if (fromEnv) return fromEnv;
    const p = this.#w.dialect.param;
    const rows = await this.#w.query(`select contract_name, reason, actor from ${this.#t.controls} where paused and contract_name in (${p(1)}, ${p(2)})`, [contract, ALL_CONTRACTS]);
    const row = rows[0];
    if (!row) return undefined;
    return pausedReasonOf({ contract: String(row.contract_name), reason: (row.reason as string | null) ?? null, actor: (row.actor as string | null) ?? null });
  }

  async pausedContracts(): Promise<PauseState[]> {
    if (this.#file) return this.#file.pausedContracts();
    const rows = await this.#w.query(`select contract_name, reason, actor, updated_at from ${this.#t.controls} where paused order by contract_name`);
    return rows.map((r) => ({ contract: String(r.contract_name), reason: (r.reason as string | null) ?? null, actor: (r.actor as string | null) ?? null, updatedAt: (r.updated_at as Date | null) ?? null }));
  }

  /**
   * Takes the contract's lease for `ttlMs`, or returns who holds it. An expired lease (a runner that died) is taken
   * over. The insert's primary key makes two runners racing for one contract end with exactly one holder where the
   * engine enforces it (DuckDB, PostgreSQL). Snowflake and BigQuery accept a primary key but do not enforce it, so
   * the insert succeeds there even when another runner holds the lease: reading the leases back after the insert
   * (the earliest holder wins, and a loser withdraws its row) keeps a later runner out. Two runners starting within
   * the same instant on those engines could both see only their own row; that window is not closed.
   */
  async acquireLease(contract: string, holder: string, ttlMs: number): Promise<{ acquired: true } | { acquired: false; holder: string; since: Date | null }> {
    const p = this.#w.dialect.param;
    // The holder may release between our refused insert and our look at who holds it: then the lease is free, try
    // again (a second time is enough unless runners keep racing for it; the last refusal is thrown).
    for (let attempt = 1; ; attempt += 1) {
      const now = new Date();
      await this.#w.execute(`delete from ${this.#t.leases} where contract_name = ${p(1)} and expires_at < ${p(2)}`, [contract, now]);
      try {
        await this.#w.execute(`insert into ${this.#t.leases} (contract_name, holder, acquired_at, expires_at) values (${p(1)}, ${p(2)}, ${p(3)}, ${p(4)})`, [
          contract,
          holder,
          now,
          new Date(now.getTime() + ttlMs),
        ]);
        break;
      } catch (error) {
        const [row] = await this.#w.query(`select holder, acquired_at from ${this.#t.leases} where contract_name = ${p(1)}`, [contract]);
        if (row) return { acquired: false, holder: String(row.holder), since: (row.acquired_at as Date | null) ?? null };
        if (attempt >= 3) throw error;
      }
    }
    const holders = await this.#w.query(`select holder, acquired_at from ${this.#t.leases} where contract_name = ${p(1)} order by acquired_at, holder`, [contract]);
    const first = holders[0];
    if (holders.length > 1 && first && String(first.holder) !== holder) {
      await this.#w.execute(`delete from ${this.#t.leases} where contract_name = ${p(1)} and holder = ${p(2)}`, [contract, holder]);
      return { acquired: false, holder: String(first.holder), since: (first.acquired_at as Date | null) ?? null };
    }
    return { acquired: true };
  }

  /**
   * Takes the contract's lease and keeps it while this runner lives: a heartbeat renews it every min(30 s, ttl / 4),
   * through long plans and slow batches alike. A runner that dies stops renewing, and the contract is free again
   * one TTL later. `release` stops the heartbeat and gives the lease back.
   */
  async holdLease(contract: string, holder: string, ttlMs: number): Promise<HeldLease | { acquired: false; holder: string; since: Date | null }> {
    const lease = await this.acquireLease(contract, holder, ttlMs);
    if (!lease.acquired) return lease;
    const heartbeat = setInterval(() => void this.renewLease(contract, holder, ttlMs).catch(() => undefined), Math.min(LEASE_HEARTBEAT_MS, ttlMs / 4));
    // The heartbeat alone never keeps the process alive.
    heartbeat.unref();
    return {
      acquired: true,
      release: async () => {
        clearInterval(heartbeat);
        await this.releaseLease(contract, holder);
      },
    };
  }

  /** The runs holding a lease now (any contract or shard): their run-log rows are not abandoned. */
  async liveRunIds(): Promise<string[]> {
    const rows = await this.#w.query(`select holder from ${this.#t.leases} where expires_at >= ${this.#w.dialect.param(1)}`, [new Date()]);
    // A holder is `host:pid:runId` (src/pipeline/sync.ts).
    return rows.map((r) => String(r.holder).split(":").at(-1) ?? "");
  }

  async renewLease(contract: string, holder: string, ttlMs: number): Promise<void> {
    const p = this.#w.dialect.param;
    await this.#w.execute(`update ${this.#t.leases} set expires_at = ${p(1)} where contract_name = ${p(2)} and holder = ${p(3)}`, [new Date(Date.now() + ttlMs), contract, holder]);
  }

  async releaseLease(contract: string, holder: string): Promise<void> {
    const p = this.#w.dialect.param;
    await this.#w.execute(`delete from ${this.#t.leases} where contract_name = ${p(1)} and holder = ${p(2)}`, [contract, holder]);
  }
}
