/**
 * `dbt-activation emulate hubspot|salesforce|braze|zendesk`: a destination emulator on loopback for demos and trials, running
 * until SIGINT/SIGTERM. It prints the URL and the environment variables a sync needs to talk to it.
 */
import { InvalidArgumentError, type Command } from "commander";
import { BadInputError } from "../../errors.ts";
import { CUSTOM_FIELD_TYPES, type ZendeskFieldDefinition, type ZendeskFieldType } from "../../../emulators/zendesk/fields.ts";
import { ATTRIBUTE_TYPES, type BrazeAttributeDefinition, type BrazeAttributeType } from "../../../emulators/braze/store.ts";
import type { CommandContext } from "../io.ts";

interface EmulateFlags {
  port: number;
  token?: string;
  perTenSeconds?: number;
  daily?: number;
  field?: ZendeskFieldDefinition[];
  organizationField?: ZendeskFieldDefinition[];
  perMinute?: number;
  attribute: BrazeAttributeDefinition[];
}

/** Zendesk `--field key:type` or `key:dropdown=a|b|c`, repeatable. */
function zendeskField(value: string, previous: ZendeskFieldDefinition[] = []): ZendeskFieldDefinition[] {
  const m = /^([A-Za-z0-9_]+):([a-z]+)(?:=(.+))?$/.exec(value);
  if (!m || !(CUSTOM_FIELD_TYPES as readonly string[]).includes(m[2]!)) {
    throw new InvalidArgumentError(`expected key:type or key:dropdown=a|b with type one of ${CUSTOM_FIELD_TYPES.join(", ")}`);
  }
  return [...previous, { key: m[1]!, type: m[2] as ZendeskFieldType, ...(m[3] ? { options: m[3].split("|") } : {}) }];
}

/** `--attribute name:Type` (Braze), repeatable; the type is one of Braze's (case-insensitive), default String. */
function brazeAttribute(value: string, previous: BrazeAttributeDefinition[]): BrazeAttributeDefinition[] {
  const [name = "", rawType = "String"] = value.split(":");
  const type = ATTRIBUTE_TYPES.find((t) => t.toLowerCase() === rawType.toLowerCase());
  if (!/^[A-Za-z_][\w.]*$/.test(name) || !type) throw new InvalidArgumentError(`expected name:type with type one of ${ATTRIBUTE_TYPES.join(", ")} (got ${value})`);
  return [...previous, { name, type: type as BrazeAttributeType }];
}

function whole(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("must be a whole number");
  return n;
}

/** Resolves on the first SIGINT or SIGTERM (tests pass their own `until`). */
function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      process.off("SIGINT", done);
      process.off("SIGTERM", done);
      resolve();
    };
    process.on("SIGINT", done);
    process.on("SIGTERM", done);
  });
}

export function registerEmulate(program: Command, { io, setExit, setJson }: CommandContext, until: () => Promise<void> = untilSignal): void {
  program
    .command("emulate")
    .description("Run a local HubSpot, Salesforce, Braze or Zendesk emulator (loopback only) until interrupted, for demos and trials")
    .argument("<destination>", "hubspot | salesforce | braze | zendesk")
    .option("--port <n>", "port on 127.0.0.1 (default: a free one)", whole, 0)
    .option("--token <token>", "the token the emulator accepts (HubSpot: the private-app token, default emulator-token; Braze: the REST API key, default emulator-key)")
    .option("--per-ten-seconds <n>", "HubSpot: requests allowed per 10 s (default 190); Salesforce: requests per 10 s before throttling", whole)
    .option("--daily <n>", "requests allowed per day (HubSpot default 1,000,000; Salesforce default 100,000)", whole)
    .option("--field <key:type>", "Zendesk: a custom user field, e.g. plan_tier:text or band:dropdown=high|medium|low (repeatable)", zendeskField)
    .option("--organization-field <key:type>", "Zendesk: a custom organization field, same form as --field (repeatable)", zendeskField)
    .option("--per-minute <n>", "Zendesk: requests allowed per minute (default 700)", whole)
    .option("--attribute <name:type>", "Braze: a custom attribute the workspace lists (repeatable; type String, Number, Boolean, Time or Array)", brazeAttribute, [])
    .option("--json", "print {destination, url, env} as one JSON line once listening (then run until interrupted)")
    .action(async (which: string, opts: EmulateFlags & { json?: boolean }) => {
      setJson(Boolean(opts.json));
      // One line, so a caller reading stdout line by line has it whole while the emulator keeps running.
      const ready = (destination: string, url: string, env: Record<string, string>): void => io.stdout(`${JSON.stringify({ destination, url, env })}\n`);
      // Only the emulator asked for is loaded.
      if (which === "hubspot") {
        const { startHubSpotEmulator } = await import("../../../emulators/hubspot/index.ts");
        const token = opts.token ?? "emulator-token";
        const emulator = await startHubSpotEmulator({
          port: opts.port,
          accessToken: token,
          limits: { ...(opts.perTenSeconds === undefined ? {} : { perTenSeconds: opts.perTenSeconds }), ...(opts.daily === undefined ? {} : { daily: opts.daily }) },
        });
        if (opts.json) ready("hubspot", emulator.url, { HUBSPOT_BASE_PATH: emulator.url, HUBSPOT_ACCESS_TOKEN: token });
        else io.stdout(`HubSpot emulator listening on ${emulator.url} (Ctrl-C to stop)\n\n  export HUBSPOT_BASE_PATH=${emulator.url}\n  export HUBSPOT_ACCESS_TOKEN=${token}\n\n`);
        await until();
        await emulator.close();
      } else if (which === "salesforce") {
        if (opts.token !== undefined) throw new BadInputError("--token applies to hubspot only: the Salesforce emulator issues its own tokens (printed below)");
        const { startSalesforceEmulator } = await import("../../../emulators/salesforce/index.ts");
        const emulator = await startSalesforceEmulator({
          port: opts.port,
          limits: { ...(opts.perTenSeconds === undefined ? {} : { perWindow: opts.perTenSeconds, windowMs: 10_000 }), ...(opts.daily === undefined ? {} : { dailyApiRequests: opts.daily }) },
        });
        // The emulator's own fixed demo credentials: nothing secret is printed.
        if (opts.json) ready("salesforce", emulator.url, { SALESFORCE_INSTANCE_URL: emulator.url, SALESFORCE_ACCESS_TOKEN: emulator.accessToken, SALESFORCE_LOGIN_URL: emulator.url, SALESFORCE_CLIENT_ID: "emulator-client", SALESFORCE_CLIENT_SECRET: "emulator-secret" });
        else io.stdout(
          `Salesforce emulator listening on ${emulator.url} (Ctrl-C to stop)\n\n` +
            `  export SALESFORCE_INSTANCE_URL=${emulator.url}\n  export SALESFORCE_ACCESS_TOKEN='${emulator.accessToken}'\n\n` +
            `or, for OAuth client credentials:\n\n  export SALESFORCE_LOGIN_URL=${emulator.url}\n  export SALESFORCE_CLIENT_ID=emulator-client\n  export SALESFORCE_CLIENT_SECRET=emulator-secret\n\n`,
        );
        await until();
        await emulator.close();
      } else if (which === "zendesk") {
        const { startZendeskEmulator } = await import("../../../emulators/zendesk/index.ts");
        const emulator = await startZendeskEmulator({
          port: opts.port,
          ...(opts.token === undefined ? {} : { apiToken: opts.token }),
          ...(opts.perMinute === undefined ? {} : { requestsPerMinute: opts.perMinute }),
          userFields: opts.field ?? [],
          organizationFields: opts.organizationField ?? [],
        });
        const { email, apiToken, oauthToken } = emulator.credentials;
        // The emulator's own demo credentials: nothing secret is printed.
        io.stdout(
          `Zendesk emulator listening on ${emulator.url} (Ctrl-C to stop)\n\n  export ZENDESK_URL=${emulator.url}\n  export ZENDESK_EMAIL=${email}\n  export ZENDESK_API_TOKEN=${apiToken}\n\n` +
            `or, for OAuth:\n\n  export ZENDESK_URL=${emulator.url}\n  export ZENDESK_OAUTH_TOKEN=${oauthToken}\n\n`,
        );
        await until();
        await emulator.close();
      } else if (which === "braze") {
        if (opts.perTenSeconds !== undefined || opts.daily !== undefined) throw new BadInputError("--per-ten-seconds and --daily apply to hubspot and salesforce only");
        const key = opts.token ?? "emulator-key";
        const { startBrazeEmulator } = await import("../../../emulators/braze/index.ts");
        const emulator = await startBrazeEmulator({ port: opts.port, apiKey: key, attributes: opts.attribute });
        io.stdout(`Braze emulator listening on ${emulator.url} (Ctrl-C to stop)\n\n  export BRAZE_REST_ENDPOINT=${emulator.url}\n  export BRAZE_API_KEY=${key}\n\n`);
        await until();
        await emulator.close();
      } else {
        throw new BadInputError(`emulate: unknown destination ${which} (hubspot | salesforce | braze | zendesk)`);
      }
      setExit(0);
    });
}
