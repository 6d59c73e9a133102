import type { Contract } from "../contract/load.ts";
import { BadInputError } from "../errors.ts";
import { fieldMappings } from "../contract/schema.ts";
import { createHubSpotClient, hubspotConnectionFromEnv } from "./hubspot/client.ts";
import { HubSpotDestination } from "./hubspot/destination.ts";
import type { Destination } from "./types.ts";

export type { Destination, DestinationRecord, RecordOutcome } from "./types.ts";
export { DestinationRequestError } from "./types.ts";

/** Builds the destination a contract names, with credentials from the environment (never from the contract). */
export function createDestination(contract: Contract, env: NodeJS.ProcessEnv): Destination {
  const { destination } = contract.spec;
  switch (destination.type) {
    case "hubspot":
      return new HubSpotDestination(createHubSpotClient(hubspotConnectionFromEnv(env, contract.spec.name)), {
        objectType: destination.object,
        idProperty: destination.match.field,
        properties: fieldMappings(contract.spec).map((m) => m.to),
      });
    default:
      throw new BadInputError(`${contract.model.file}: contract ${contract.spec.name}, field destination.type: ${destination.type} is not supported yet (supported: hubspot)`, {
        where: contract.model.file,
      });
  }
}
