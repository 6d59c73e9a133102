/**
 * The emulators as the end-to-end suites use them, each registered with its hooks by one call at the top of a test
 * file: the HubSpot emulator once per file (the integration portal's properties), emptied and fault-free before each
 * test; the dbt Cloud emulator fresh for each test.
 */
import { afterAll, beforeAll, beforeEach } from "vitest";
import { startDbtCloudEmulator, type DbtCloudEmulator } from "../../emulators/dbt-cloud/index.ts";
import { startHubSpotEmulator, type HubSpotEmulator, type HubSpotEmulatorOptions } from "../../emulators/hubspot/index.ts";
import { integrationPortalProperties } from "../../scripts/hubspot-portal.ts";

/**
 * The emulator a hook started, as one const: the suites read `emulator.url` and call its methods from closures in
 * describe bodies, so each read is forwarded to the one running now (an error before the hook has run).
 */
function running<T extends object>(current: () => T | undefined, hook: string, extra: Record<string, unknown> = {}): T {
  const now = (): T => current() ?? assertStarted(hook);
  return new Proxy({} as T, { get: (_, property) => (property in extra ? extra[property as string] : Reflect.get(now(), property)) });
}

function assertStarted(hook: string): never {
  throw new Error(`the emulator starts in ${hook}: use it in a hook or a test`);
}

export interface SuiteHubSpotEmulator extends HubSpotEmulator {
  /** HUBSPOT_ACCESS_TOKEN and HUBSPOT_BASE_PATH for the CLI's environment. */
  cliEnv(): Record<string, string>;
}

/** The file's HubSpot emulator; `properties` defaults to the integration portal's. */
export function useHubSpotEmulator(options: HubSpotEmulatorOptions & { accessToken: string }): SuiteHubSpotEmulator {
  let current: HubSpotEmulator | undefined;
  beforeAll(async () => {
    current = await startHubSpotEmulator({ properties: integrationPortalProperties, ...options });
  });
  afterAll(async () => {
    await current?.close();
  });
  beforeEach(() => {
    current!.reset();
    current!.setFaults({});
  });
  const cliEnv = (): Record<string, string> => ({ HUBSPOT_ACCESS_TOKEN: options.accessToken, HUBSPOT_BASE_PATH: current?.url ?? assertStarted("beforeAll") });
  return running<SuiteHubSpotEmulator>(() => current as SuiteHubSpotEmulator | undefined, "beforeAll", { cliEnv });
}

/** A dbt Cloud emulator of its own for each test, closed after it. */
export function useDbtCloudEmulator(): DbtCloudEmulator {
  let current: DbtCloudEmulator | undefined;
  beforeEach(async () => {
    const cloud = await startDbtCloudEmulator();
    current = cloud;
    return () => cloud.close();
  });
  return running(() => current, "beforeEach");
}
