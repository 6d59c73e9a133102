/**
 * `dbt-activation emulate hubspot|salesforce`: a destination emulator on loopback for demos and trials, running
 * until SIGINT/SIGTERM. It prints the URL and the environment variables a sync needs to talk to it.
 */
import { InvalidArgumentError, type Command } from "commander";
import { BadInputError } from "../../errors.ts";
import { startHubSpotEmulator } from "../../emulators/hubspot/index.ts";
import { startSalesforceEmulator } from "../../emulators/salesforce/index.ts";
import type { CommandContext } from "../io.ts";

interface EmulateFlags {
  port: number;
  token?: string;
  perTenSeconds?: number;
  daily?: number;
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
    .description("Run a local HubSpot or Salesforce emulator (loopback only) until interrupted, for demos and trials")
    .argument("<destination>", "hubspot | salesforce")
    .option("--port <n>", "port on 127.0.0.1 (default: a free one)", whole, 0)
    .option("--token <token>", "the access token the emulator accepts (HubSpot: the private-app token; default emulator-token)")
    .option("--per-ten-seconds <n>", "HubSpot: requests allowed per 10 s (default 190); Salesforce: requests per 10 s before throttling", whole)
    .option("--daily <n>", "requests allowed per day (HubSpot default 1,000,000; Salesforce default 100,000)", whole)
    .option("--json", "print {destination, url, env} as one JSON line once listening (then run until interrupted)")
    .action(async (which: string, opts: EmulateFlags & { json?: boolean }) => {
      setJson(Boolean(opts.json));
      // One line, so a caller reading stdout line by line has it whole while the emulator keeps running.
      const ready = (destination: string, url: string, env: Record<string, string>): void => io.stdout(`${JSON.stringify({ destination, url, env })}\n`);
      if (which === "hubspot") {
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
      } else {
        throw new BadInputError(`emulate: unknown destination ${which} (hubspot | salesforce)`);
      }
      setExit(0);
    });
}
