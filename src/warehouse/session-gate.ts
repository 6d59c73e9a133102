/**
 * Transactions on a warehouse whose statements share one session (DuckDB's main connection, the Snowflake
 * connection). A statement sent from outside an open transaction would run inside it: it would read rows not yet
 * committed, be rolled back with the transaction, commit it halfway (Snowflake commits on DDL), or, on DuckDB, fail
 * it (a transaction may write to one attached database only, and the plan's staging table lives in another). The
 * plan's statements run beside the ledger's checkpoints, so this happens. The gate lets a transaction hold the
 * session: statements of its own work (its async context) go through, a transaction begun inside it joins it, and
 * everything else waits for it to end. Statements from outside any transaction run side by side as before; a
 * transaction waits for those already running before it begins, and new ones wait behind it.
 */
import { AsyncLocalStorage } from "node:async_hooks";

export interface SessionStatements {
  begin(): Promise<unknown>;
  commit(): Promise<unknown>;
  rollback(): Promise<unknown>;
}

export class SessionGate {
  readonly #context = new AsyncLocalStorage<symbol>();
  /** The transaction holding the session, or waiting for the statements before it to end. */
  #holder: symbol | undefined;
  /** Statements from outside any transaction running now. */
  #outside = 0;
  #wake: () => void = () => undefined;
  #changed: Promise<void> = this.#next();

  #next(): Promise<void> {
    return new Promise((resolve) => (this.#wake = resolve));
  }

  #notify(): void {
    const wake = this.#wake;
    this.#changed = this.#next();
    wake();
  }

  #holds(): boolean {
    return this.#holder !== undefined && this.#context.getStore() === this.#holder;
  }

  /** Runs one statement: at once within the transaction holding the session, else once no transaction holds it. */
  async statement<T>(send: () => Promise<T>): Promise<T> {
    if (this.#holds()) return send();
    while (this.#holder !== undefined) await this.#changed;
    this.#outside += 1;
    try {
      return await send();
    } finally {
      this.#outside -= 1;
      this.#notify();
    }
  }

  /** Runs `work` in one transaction holding the session: committed when it resolves, rolled back when it throws. */
  async transaction<T>(statements: SessionStatements, work: () => Promise<T>): Promise<T> {
    if (this.#holds()) return work();
    while (this.#holder !== undefined) await this.#changed;
    const holder = Symbol("transaction");
    this.#holder = holder;
    try {
      while (this.#outside > 0) await this.#changed;
      return await this.#context.run(holder, async () => {
        await statements.begin();
        try {
          const result = await work();
          await statements.commit();
          return result;
        } catch (error) {
          await statements.rollback();
          throw error;
        }
      });
    } finally {
      this.#holder = undefined;
      this.#notify();
    }
  }
}
