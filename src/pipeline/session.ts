/** Opens the warehouse of a dbt profile target and the syncer's tables in it (migrated to the newest version). */
import { resolveProjectDir } from "../dbt/project.ts";
import { resolveProfileTarget } from "../dbt/profiles.ts";
import { Controls } from "../ledger/controls.ts";
import { backoffBaseMs } from "../ledger/failures.ts";
import { Ledger } from "../ledger/ledger.ts";
import { ledgerTables, migrate, type LedgerTables } from "../ledger/migrations.ts";
import { connectWarehouse, type Warehouse } from "../warehouse/index.ts";

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
  close(): Promise<void>;
}

export async function openLedgerSession(options: SessionOptions): Promise<LedgerSession> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const target = await resolveProfileTarget({ projectDir: resolveProjectDir(options.projectDir, cwd), vars: options.vars, profilesDir: options.profilesDir, target: options.target, env, cwd });
  const warehouse = await connectWarehouse(target, { cwd });
  try {
    const tables = ledgerTables(warehouse.dialect, options.ledgerSchema ?? warehouse.defaultSchema);
    await migrate(warehouse, tables);
    return { warehouse, tables, ledger: new Ledger(warehouse, tables, { backoffBaseMs: backoffBaseMs(env) }), controls: new Controls(warehouse, tables), close: () => warehouse.close() };
  } catch (error) {
    await warehouse.close();
    throw error;
  }
}
