/**
 * The HubSpot emulator as the end-to-end suites use it: one per test file, started before its tests with the
 * integration portal's properties, emptied and fault-free before each test, closed after the file.
 */
import { afterAll, beforeAll, beforeEach } from "vitest";
import { startHubSpotEmulator, type HubSpotEmulator, type HubSpotEmulatorOptions } from "../../emulators/hubspot/index.ts";
import { integrationPortalProperties } from "../../scripts/hubspot-portal.ts";

export interface SuiteHubSpotEmulator extends HubSpotEmulator {
  /** HUBSPOT_ACCESS_TOKEN and HUBSPOT_BASE_PATH for the CLI's environment. */
  cliEnv(): Record<string, string>;
}

/**
 * Registers the file's hooks (call it at the top level of a test file) and returns the emulator: it is usable from
 * the first hook on, and answers to the file's tests as the emulator started for them. `properties` defaults to the
 * integration portal's.
 */
export function useHubSpotEmulator(options: HubSpotEmulatorOptions & { accessToken: string }): SuiteHubSpotEmulator {
  let current: HubSpotEmulator | undefined;
  beforeAll(async () => {
    current = await startHubSpotEmulator({ properties: integrationPortalProperties, ...options });
  });
  afterAll(async () => {
    await current?.close();
  });
  beforeEach(() => {
    running().reset();
    running().setFaults({});
  });
  const running = (): HubSpotEmulator => {
    if (!current) throw new Error("the HubSpot emulator starts in beforeAll: use it in a hook or a test");
    return current;
  };
  const cliEnv = (): Record<string, string> => ({ HUBSPOT_ACCESS_TOKEN: options.accessToken, HUBSPOT_BASE_PATH: running().url });
  // The suites read `emulator.url` and call its methods from describe bodies' closures; forwarding each read to the
  // running emulator lets them keep one const instead of a `let` assigned in beforeAll.
  return new Proxy({} as SuiteHubSpotEmulator, {
    get: (_, property) => (property === "cliEnv" ? cliEnv : Reflect.get(running(), property)),
  });
}
