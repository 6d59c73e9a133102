/**
 * The one place a run's destination is opened: built by `destinations/` from the contract and the environment, with
 * the engine's pacer attached before its first request, so the mapping check, read-backs, writes and removals of a
 * run all count against one budget (a request made before the pacer is attached is not counted, and could make one
 * too many in a window). `createDestination` alone is for one-off calls and tests of a destination.
 */
import type { Contract } from "../contract/load.ts";
import { createDestination, type Destination } from "../destinations/index.ts";
import { pacerFor, type PacerOptions } from "../engine/pacing.ts";

export function openDestination(contract: Contract, env: NodeJS.ProcessEnv, options: Omit<PacerOptions, "limits"> = {}): Destination {
  const destination = createDestination(contract, env);
  pacerFor(destination, options);
  return destination;
}
