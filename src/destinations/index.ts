import type { Contract } from "../contract/load.ts";
import { BadInputError } from "../errors.ts";
import { fieldMappings } from "../contract/schema.ts";
import { createHubSpotClient, hubspotConnectionFromEnv } from "./hubspot/client.ts";
import { HubSpotDestination, hubspotKeyRule } from "./hubspot/destination.ts";
import { SALESFORCE_ENV, SalesforceSession, salesforceCredentialsFromEnv } from "./salesforce/client.ts";
import { SalesforceDestination } from "./salesforce/destination.ts";
import { BrazeHttp, brazeConnectionFromEnv } from "./braze/client.ts";
import { BrazeDestination, brazeKeyRule } from "./braze/destination.ts";
import type { Destination, KeyRule } from "./types.ts";
import { ZendeskHttp, zendeskConnectionFromEnv } from "./zendesk/client.ts";
import { ZendeskDestination, zendeskKeyRule } from "./zendesk/destination.ts";
import { envValue } from "../config/env.ts";

export type {
  CurrentRecord,
  Destination,
  DestinationLimits,
  DestinationRecord,
  DestinationSchema,
  FieldDescription,
  KeyRule,
  MembershipOutcome,
  RateLimitInfo,
  RecordOutcome,
  RemoveOutcome,
  RequestPacer,
  ValueKind,
} from "./types.ts";
export { canonicalKey, DestinationRequestError } from "./types.ts";

/**
 * The key rule of a contract's destination where it is known without asking the destination (a dry run calls none):
 * HubSpot's, Braze's and Zendesk's are fixed per match field; Salesforce's is in the field's describe (undefined
 * here: a dry run compares exactly).
 */
export function knownKeyRule(contract: Contract): KeyRule | undefined {
  const { type, match } = contract.spec.destination;
  switch (type) {
    case "hubspot":
      return hubspotKeyRule(match.field);
    case "braze":
      return brazeKeyRule(match.field);
    case "zendesk":
      return zendeskKeyRule(match.field);
    default:
      return undefined;
  }
}
export { schemaDrift, type FieldDrift } from "./mapping.ts";


/** Builds the destination a contract names, with credentials from the environment (never from the contract). */
export function createDestination(contract: Contract, env: NodeJS.ProcessEnv): Destination {
  const { destination } = contract.spec;
  const fields = fieldMappings(contract.spec).map((m) => ({ to: m.to, allowed: m.allowed }));
  switch (destination.type) {
    case "hubspot": {
      const connection = hubspotConnectionFromEnv(env, contract.spec.name);
      return new HubSpotDestination(
        createHubSpotClient(connection),
        { objectType: destination.object, idProperty: destination.match.field, fields, listId: destination.list_id },
        connection,
      );
    }
    case "salesforce": {
      const bulkThreshold = envValue(env, SALESFORCE_ENV.bulkThreshold, `contract ${contract.spec.name}`);
      const bulkMaxBytes = envValue(env, SALESFORCE_ENV.bulkMaxBytes, `contract ${contract.spec.name}`);
      const bulkMaxRecords = envValue(env, SALESFORCE_ENV.bulkMaxRecords, `contract ${contract.spec.name}`);
      return new SalesforceDestination(new SalesforceSession(salesforceCredentialsFromEnv(env, contract.spec.name)), {
        object: destination.object,
        externalIdField: destination.match.field,
        fields,
        ...(bulkThreshold === undefined ? {} : { bulkThreshold }),
        ...(bulkMaxBytes === undefined ? {} : { bulkMaxBytes, bulkMaxBytesFrom: SALESFORCE_ENV.bulkMaxBytes }),
        ...(bulkMaxRecords === undefined ? {} : { bulkMaxRecords }),
      });
    }
    case "zendesk": {
      // The contract schema allows only users / organizations here (src/contract/schema.ts).
      const connection = zendeskConnectionFromEnv(env, contract.spec.name);
      return new ZendeskDestination(new ZendeskHttp(connection), {
        object: destination.object as "users" | "organizations",
        matchField: destination.match.field,
        fields,
        tag: destination.list_id,
        requestsPerMinute: connection.requestsPerMinute,
      });
    }
    case "braze": {
      const overwrites = fieldMappings(contract.spec).map((m) => ({ to: m.to, allowed: m.allowed, overwrite: m.overwrite }));
      return new BrazeDestination(new BrazeHttp(brazeConnectionFromEnv(env, contract.spec.name)), {
        object: destination.object,
        matchField: destination.match.field,
        aliasLabel: destination.match.alias_label,
        fields: overwrites,
        listId: destination.list_id,
        createAttributes: destination.create_attributes,
        updateOnly: destination.mode === "update",
      });
    }
    default: {
      // The contract schema admits only the types above: a new type fails to compile here until it is written.
      const unknown: never = destination.type;
      throw new BadInputError(`${contract.model.file}: contract ${contract.spec.name}, field destination.type: ${String(unknown)} is not a destination`, { where: contract.model.file });
    }
  }
}
