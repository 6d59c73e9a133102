/** The `dbt-activation` command line: one binary, one file per subcommand in commands/. */
import { Command, CommanderError } from "commander";
import { redact, secretValues } from "../config/secrets.ts";
import { BadInputError, BusyError } from "../errors.ts";
import { EXIT } from "../exit-codes.ts";
import { registerEmulate } from "./commands/emulate.ts";
import { registerExport } from "./commands/export.ts";
import { registerControl } from "./commands/control.ts";
import { registerGenerate } from "./commands/generate.ts";
import { registerRecover } from "./commands/recover.ts";
import { registerReport } from "./commands/report.ts";
import { registerRun } from "./commands/run.ts";
import { registerServe } from "./commands/serve.ts";
import { registerSync } from "./commands/sync.ts";
import { registerValidate } from "./commands/validate.ts";
import { EXIT_CODES_HELP } from "./help.ts";
import { VERSION } from "./version.ts";
import { defaultIo, LOG_FORMAT_ENV, LOG_FORMATS, logger, type CommandContext, type Io, type LogFormat } from "./io.ts";
import { environmentHelp, readEnv } from "../config/env.ts";

export { VERSION } from "./version.ts";

type Register = (program: Command, context: CommandContext) => void;

export const COMMANDS: Register[] = [registerSync, registerRun, registerGenerate, registerValidate, registerExport, registerControl, registerRecover, registerReport, registerServe, registerEmulate];

/** The JSON error object every command prints on stdout under `--json`, whatever went wrong. */
function jsonError(io: Io, exitCode: number, error: { kind: string; message: string; where?: string | undefined; details?: string[] }): void {
  io.stdout(`${JSON.stringify({ error, exitCode }, null, 2)}\n`);
}

/**
 * `--log-format text|json` anywhere on the line (before or after the command, as dbt takes its global flags), else
 * DBT_ACTIVATION_LOG_FORMAT, else text. Taken out of argv before commander sees it.
 */
function takeLogFormat(argv: string[], io: Io): { argv: string[]; format: LogFormat } {
  const rest: string[] = [];
  let format: string | undefined = readEnv(io.env, LOG_FORMAT_ENV)?.trim() || undefined;
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i]!;
    if (arg === "--") {
      rest.push(...argv.slice(i));
      break;
    }
    if (arg === "--log-format") format = argv[(i += 1)] ?? "";
    else if (arg.startsWith("--log-format=")) format = arg.slice("--log-format=".length);
    else rest.push(arg);
  }
  if (format !== undefined && !(LOG_FORMATS as readonly string[]).includes(format)) {
    throw new BadInputError(`--log-format ${format}: expected ${LOG_FORMATS.join(" or ")}`);
  }
  return { argv: rest, format: (format as LogFormat | undefined) ?? "text" };
}

/**
 * An error's text as printed: the last guard before the terminal, with the environment's secrets and URL credentials
 * masked (the sources mask their own; a driver or a stack trace may still quote one).
 */
function errorText(io: Io): (text: string) => string {
  const secrets = secretValues(io.env, undefined, { endpoints: false });
  return (text) => redact(text, secrets);
}

function reportError(error: BadInputError, json: boolean, io: Io): number {
  const clean = errorText(io);
  const message = clean(error.message);
  const where = error.where === undefined ? undefined : clean(error.where);
  const details = error.details.map(clean);
  if (json) jsonError(io, EXIT.badInput, { kind: "bad_input", message, where, details });
  io.stderr(`error: ${message}\n`);
  if (where && !message.includes(where)) io.stderr(`  at ${where}\n`);
  for (const detail of details) io.stderr(`  - ${detail}\n`);
  return EXIT.badInput;
}

export async function main(rawArgv: string[], io: Io = defaultIo, commands: Register[] = COMMANDS): Promise<number> {
  let exitCode: number = EXIT.ok;
  // Known before commander parses, so a usage error under --json is JSON too.
  let json = rawArgv.includes("--json");
  let parsed: { argv: string[]; format: LogFormat };
  try {
    parsed = takeLogFormat(rawArgv, io);
  } catch (error) {
    return reportError(error as BadInputError, json, io);
  }
  const { argv, format } = parsed;
  const program = new Command("dbt-activation")
    .description("Sync dbt models to SaaS tools only when dbt build proved their activation contracts.")
    .version(VERSION)
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .addHelpText("after", `\nGlobal options:\n  --log-format text|json  log lines on stderr as text or one JSON object per line (default: $${LOG_FORMAT_ENV} or text)\n${EXIT_CODES_HELP}\n\nEnvironment variables (docs/operations.md):\n${environmentHelp()}`);
  const context: CommandContext = { io, setExit: (code) => (exitCode = code), setJson: (j) => (json = j), log: logger(io, format), logFormat: format };
  for (const register of commands) register(program, context);

  try {
    await program.parseAsync(argv, { from: "user" });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end with code 0; every usage error is bad input.
      if (error.exitCode === 0) return EXIT.ok;
      if (json) jsonError(io, EXIT.badInput, { kind: "usage", message: error.message.replace(/^error: /, "") });
      return EXIT.badInput;
    }
    if (error instanceof BadInputError) return reportError(error, json, io);
    const clean = errorText(io);
    if (error instanceof BusyError) {
      if (json) jsonError(io, EXIT.busy, { kind: "busy", message: clean(error.message) });
      io.stderr(`busy: ${clean(error.message)}\n`);
      return EXIT.busy;
    }
    // The stack goes to stderr only: stdout under --json stays one parseable object.
    if (json) jsonError(io, EXIT.internal, { kind: "internal", message: clean(error instanceof Error ? error.message : String(error)) });
    io.stderr(`internal error: ${clean(error instanceof Error ? (error.stack ?? error.message) : String(error))}\n`);
    return EXIT.internal;
  }
}
