/** The `dbt-activation` command line: one binary, one file per subcommand in commands/. */
import { Command, CommanderError } from "commander";
import { BadInputError, BusyError } from "../errors.ts";
import { EXIT } from "../exit-codes.ts";
import { registerEmulate } from "./commands/emulate.ts";
import { registerExport } from "./commands/export.ts";
import { registerControl } from "./commands/control.ts";
import { registerGenerate } from "./commands/generate.ts";
import { registerRecover } from "./commands/recover.ts";
import { registerRun } from "./commands/run.ts";
import { registerServe } from "./commands/serve.ts";
import { registerSync } from "./commands/sync.ts";
import { registerValidate } from "./commands/validate.ts";
import { EXIT_CODES_HELP } from "./help.ts";
import { defaultIo, type CommandContext, type Io } from "./io.ts";

export const VERSION = "0.1.0";

const COMMANDS: ((program: Command, context: CommandContext) => void)[] = [registerSync, registerRun, registerGenerate, registerValidate, registerExport, registerControl, registerRecover, registerServe, registerEmulate];

function reportError(error: BadInputError, json: boolean, io: Io): number {
  if (json) {
    io.stdout(`${JSON.stringify({ error: { message: error.message, where: error.where, details: error.details }, exitCode: EXIT.badInput }, null, 2)}\n`);
  }
  io.stderr(`error: ${error.message}\n`);
  if (error.where && !error.message.includes(error.where)) io.stderr(`  at ${error.where}\n`);
  for (const detail of error.details) io.stderr(`  - ${detail}\n`);
  return EXIT.badInput;
}

export async function main(argv: string[], io: Io = defaultIo): Promise<number> {
  let exitCode: number = EXIT.ok;
  let json = false;
  const program = new Command("dbt-activation")
    .description("Sync dbt models to SaaS tools only when dbt build proved their activation contracts.")
    .version(VERSION)
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .addHelpText("after", EXIT_CODES_HELP);
  const context: CommandContext = { io, setExit: (code) => (exitCode = code), setJson: (j) => (json = j) };
  for (const register of COMMANDS) register(program, context);

  try {
    await program.parseAsync(argv, { from: "user" });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end with code 0; every usage error is bad input.
      return error.exitCode === 0 ? EXIT.ok : EXIT.badInput;
    }
    if (error instanceof BadInputError) return reportError(error, json, io);
    if (error instanceof BusyError) {
      if (json) io.stdout(`${JSON.stringify({ error: { message: error.message }, exitCode: EXIT.busy }, null, 2)}\n`);
      io.stderr(`busy: ${error.message}\n`);
      return EXIT.busy;
    }
    io.stderr(`internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return EXIT.internal;
  }
}
