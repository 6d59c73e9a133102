/** The official HubSpot SDK client, configured for a syncer that paces and retries on its own. */
import { Client } from "@hubspot/api-client";
import { BadInputError } from "../../errors.ts";

export interface HubSpotConnection {
  accessToken: string;
  /** Defaults to HubSpot's API; tests and demos point it at the loopback emulator. */
  basePath?: string | undefined;
}

export const HUBSPOT_TOKEN_ENV = "HUBSPOT_ACCESS_TOKEN";
export const HUBSPOT_BASE_PATH_ENV = "HUBSPOT_BASE_PATH";

export function hubspotConnectionFromEnv(env: NodeJS.ProcessEnv, contractName: string): HubSpotConnection {
  const accessToken = env[HUBSPOT_TOKEN_ENV];
  if (!accessToken) {
    throw new BadInputError(`contract ${contractName}: set ${HUBSPOT_TOKEN_ENV} to a HubSpot private-app access token`);
  }
  return { accessToken, basePath: env[HUBSPOT_BASE_PATH_ENV] || undefined };
}

export function createHubSpotClient(connection: HubSpotConnection): Client {
  // The SDK's retry sleeps 10 s per attempt on a 429 and ignores Retry-After, and its limiter is a process-wide
  // singleton: both stay off (0 retries, no limiterOptions) so the engine alone decides when to wait and resend.
  return new Client({
    accessToken: connection.accessToken,
    numberOfApiCallRetries: 0,
    ...(connection.basePath ? { basePath: connection.basePath.replace(/\/+$/, "") } : {}),
  });
}
