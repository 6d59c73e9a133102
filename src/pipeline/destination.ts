/**
 * The one place a run's destination is opened: built by `destinations/` from the contract and the environment, with
 * the engine's pacer attached before its first request, so the mapping check, read-backs, writes and removals of a
 * run all count against one budget (a request made before the pacer is attached is not counted, and could make one
 * too many in a window). `createDestination` alone is for one-off calls and tests of a destination.
 */
import type { Contract } from "../contract/load.ts";
import { createDestination, type Destination } from "../destinations/index.ts";
import { pacerFor, sharePacer, type Pacer, type PacerOptions } from "../engine/pacing.ts";

export function openDestination(contract: Contract, env: NodeJS.ProcessEnv, options: Omit<PacerOptions, "limits"> = {}): Destination {
  const destination = createDestination(contract, env);
  pacerFor(destination, options);
  return destination;
}

/**
 * The destinations of one run: contracts that write to the same destination account share one pacer, so together
 * they keep to the account's limit (and a 429, a header correction or the daily quota one of them sees holds for
 * all). Credentials and base URLs come from the environment, never from a contract, so within one run every contract
 * of a destination type writes to the same account: the type is the account.
 */
export class RunDestinations {
  readonly #pacers = new Map<string, Pacer>();
  readonly #env: NodeJS.ProcessEnv;
  readonly #options: Omit<PacerOptions, "limits">;

  constructor(env: NodeJS.ProcessEnv, options: Omit<PacerOptions, "limits"> = {}) {
    this.#env = env;
    this.#options = options;
  }

  open(contract: Contract): Destination {
    const destination = createDestination(contract, this.#env);
    const account = contract.spec.destination.type;
    const shared = this.#pacers.get(account);
    if (shared) sharePacer(destination, shared);
    else this.#pacers.set(account, pacerFor(destination, this.#options));
    return destination;
  }
}
