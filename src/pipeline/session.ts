/** Opens the warehouse of a dbt profile target and the syncer's tables in it (migrated to the newest version). */
import { resolveProjectDir } from "../dbt/project.ts";
import { resolveProfileTarget, type ProfileTarget } from "../dbt/profiles.ts";
import { Controls, FileKillSwitch } from "../ledger/controls.ts";
import { SideFiles } from "../ledger/side-files.ts";
import { backoffBaseMs } from "../ledger/failures.ts";
import { Ledger } from "../ledger/ledger.ts";
import { ledgerTables, migrate, type LedgerTables } from "../ledger/migrations.ts";
import { connectWarehouse, sideFilesDir, type Warehouse } from "../warehouse/index.ts";

export interface SessionOptions {
  /** Default: the working directory or its nearest parent with a dbt_project.yml, as dbt. */
  projectDir?: string | undefined;
  /** dbt's `--vars`, for `var()` in profiles.yml. */
  vars?: Record<string, unknown> | undefined;
  profilesDir?: string | undefined;
  target?: string | undefined;
  ledgerSchema?: string | undefined;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface LedgerSession {
  warehouse: Warehouse;
  tables: LedgerTables;
  ledger: Ledger;
  controls: Controls;
  /** Where the engine admits one process at a time (DuckDB): the side files other processes reach meanwhile. */
  side: SideFiles | undefined;
  close(): Promise<void>;
}

async function profileTarget(options: SessionOptions): Promise<{ target: ProfileTarget; env: NodeJS.ProcessEnv; cwd: string }> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const target = await resolveProfileTarget({ projectDir: resolveProjectDir(options.projectDir, cwd), vars: options.vars, profilesDir: options.profilesDir, target: options.target, env, cwd });
  return { target, env, cwd };
}

/** The side files of the profile target's ledger, where the engine keeps them (DuckDB), without opening the database. */
export async function ledgerSideFiles(options: SessionOptions): Promise<SideFiles | undefined> {
  const { target, cwd } = await profileTarget(options);
  const dir = sideFilesDir(target, options.ledgerSchema, { cwd });
  return dir ? new SideFiles(dir) : undefined;
}

/** The kill switch where it can be reached without the database (DuckDB's side files); undefined elsewhere. */
export async function sideKillSwitch(options: SessionOptions): Promise<FileKillSwitch | undefined> {
  const side = await ledgerSideFiles(options);
  return side ? new FileKillSwitch(side) : undefined;
}

export async function openLedgerSession(options: SessionOptions): Promise<LedgerSession> {
  const { target, env, cwd } = await profileTarget(options);
  const warehouse = await connectWarehouse(target, { cwd });
  try {
    const tables = ledgerTables(warehouse.dialect, options.ledgerSchema ?? warehouse.defaultSchema);
    await migrate(warehouse, tables);
    const dir = sideFilesDir(target, options.ledgerSchema, { cwd });
    const side = dir ? new SideFiles(dir) : undefined;
    const controls = new Controls(warehouse, tables, side);
    await controls.adoptTableSwitches();
    return { warehouse, tables, ledger: new Ledger(warehouse, tables, { backoffBaseMs: backoffBaseMs(env) }), controls, side, close: () => warehouse.close() };
  } catch (error) {
    await warehouse.close();
    throw error;
  }
}
