// Deterministic fault injection: one seeded PRNG, so a given seed replays the same failures in the same order.
import { mulberry32 } from "../random.ts";
import type { FaultOptions, SaveError } from "./types.ts";


export type RequestFault =
  | { kind: "timeout"; holdMs: number }
  | { kind: "drop"; afterWrite: boolean }
  | { kind: "server-error"; status: 500 | 503 }
  | { kind: "throttle" };

export class Faults {
  private opts: FaultOptions = {};
  private random: () => number = mulberry32(1);

  constructor(opts: FaultOptions | undefined) {
    this.set(opts ?? {});
  }

  set(opts: FaultOptions): void {
    this.opts = { ...opts };
    this.random = mulberry32(opts.seed ?? 1);
  }

  private hit(rate: number | undefined): boolean {
    // Only draw when the fault is enabled, so enabling nothing never perturbs anything.
    return rate !== undefined && rate > 0 && this.random() < rate;
  }

  /** Decided once per data request, before the handler runs. */
  request(): RequestFault | undefined {
    const o = this.opts;
    if (this.hit(o.timeoutRate)) return { kind: "timeout", holdMs: o.timeoutMs ?? 30_000 };
    if (this.hit(o.dropConnectionRate)) return { kind: "drop", afterWrite: o.dropConnectionPhase === "after-write" };
    if (this.hit(o.serverErrorRate)) return { kind: "server-error", status: this.random() < 0.5 ? 500 : 503 };
    if (this.hit(o.throttleRate)) return { kind: "throttle" };
    return undefined;
  }

  /** Decided once per record of a write; both draws always happen so sequences stay stable. */
  record(existingId: string | undefined): SaveError | undefined {
    const lock = this.hit(this.opts.lockRowRate);
    const reject = this.hit(this.opts.recordRejectRate);
    if (lock) {
      return {
        statusCode: "UNABLE_TO_LOCK_ROW",
        message: `unable to obtain exclusive access to this record or 1 records: ${existingId ?? "(new record)"}`,
        fields: [],
      };
    }
    if (reject) {
      return { statusCode: "FIELD_CUSTOM_VALIDATION_EXCEPTION", message: "Rejected by an injected validation rule", fields: [] };
    }
    return undefined;
  }
}
