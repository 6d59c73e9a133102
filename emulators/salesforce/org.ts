// The emulated org's state: schema, records, tokens, limits, faults, jobs, cursors and the call log.
import { Bulk2 } from "./bulk2.ts";
import { buildSchema } from "./describe.ts";
import { Faults } from "./faults.ts";
import { Limits } from "./limits.ts";
import { Tokens } from "./oauth.ts";
import { Queries } from "./query.ts";
import { Rest } from "./rest.ts";
import { Clock, Store } from "./store.ts";
import type { EmulatorCall, SalesforceEmulatorOptions } from "./types.ts";

export class Org {
  readonly opts: SalesforceEmulatorOptions;
  readonly apiVersion: string;
  readonly clock = new Clock();
  readonly tokens: Tokens;
  readonly staticToken: string;
  store: Store;
  limits: Limits;
  faults: Faults;
  bulk: Bulk2;
  queries: Queries;
  rest: Rest;
  calls: EmulatorCall[] = [];

  constructor(opts: SalesforceEmulatorOptions) {
    this.opts = opts;
    this.apiVersion = (opts.apiVersion ?? "60.0").replace(/^v/, "");
    this.tokens = new Tokens({ clientId: opts.clientId ?? "emulator-client", clientSecret: opts.clientSecret ?? "emulator-secret", ttlMs: opts.accessTokenTtlMs });
    this.staticToken = this.tokens.issue(undefined);
    // Assigned again by build(); written out here so TypeScript sees them initialised.
    this.store = new Store(buildSchema(opts.sobjects, this.describeEpoch()));
    this.limits = new Limits(opts.limits);
    this.faults = new Faults(opts.faults);
    this.queries = new Queries(this.store);
    this.bulk = this.newBulk();
    this.rest = new Rest({ store: this.store, faults: this.faults, clock: this.clock, describeLastModified: this.opts.describeLastModified !== false });
  }

  private describeEpoch(): number {
    // Whole seconds: Last-Modified / If-Modified-Since have second resolution.
    return Math.floor(Date.now() / 1000) * 1000;
  }

  private newBulk(): Bulk2 {
    return new Bulk2({ store: this.store, faults: this.faults, clock: this.clock, processingDelayMs: this.opts.bulk?.processingDelayMs ?? 200 });
  }

  /** Back to the state at start: records, counters, jobs, cursors, call log and faults. Tokens stay valid. */
  reset(): void {
    this.bulk.clear();
    this.store = new Store(buildSchema(this.opts.sobjects, this.describeEpoch()));
    this.limits = new Limits(this.opts.limits);
    this.faults = new Faults(this.opts.faults);
    this.queries = new Queries(this.store);
    this.bulk = this.newBulk();
    this.rest = new Rest({ store: this.store, faults: this.faults, clock: this.clock, describeLastModified: this.opts.describeLastModified !== false });
    this.calls = [];
  }

  touchDescribe(sobject: string): void {
    const o = this.store.sobject(sobject);
    if (!o) throw new Error(`Unknown sObject ${sobject}`);
    // Always a later whole second, so a client holding the previous Last-Modified sees a change.
    o.describeModifiedMs = Math.max(this.describeEpoch(), o.describeModifiedMs + 1000);
  }
}
