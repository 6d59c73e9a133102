/** The `dbt-activation` command line: one binary, subcommands. */
import { Command, CommanderError, Option } from "commander";
import { BadInputError } from "../errors.ts";
import { runSync } from "../pipeline/sync.ts";
import { EXIT } from "../report/exit-codes.ts";
import { formatText, toJson } from "../report/format.ts";
import { progressPrinter } from "./progress.ts";

export const VERSION = "0.1.0";

const EXIT_CODES_HELP = `
Exit codes:
  0  every gated contract synced and every row was written
  1  internal error
  2  bad input (flags, artifacts, profiles, a contract, or a contract that does not fit its destination)
  3  at least one contract was held back by its gate
  4  at least one row failed, was rejected before sending, or was not sent`;

interface Io {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
  cwd: string;
  stderrIsTty: boolean;
}

const defaultIo: Io = {
  stdout: (t) => process.stdout.write(t),
  stderr: (t) => process.stderr.write(t),
  env: process.env,
  cwd: process.cwd(),
  stderrIsTty: Boolean(process.stderr.isTTY),
};

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

  program
    .command("sync")
    .description("Sync every contract whose model built and whose tests passed in the dbt invocation of --target-dir")
    .requiredOption("--project-dir <dir>", "the dbt project (holds dbt_project.yml)")
    .option("--target-dir <dir>", "where dbt wrote manifest.json and run_results.json (default: <project-dir>/target)")
    .option("--profiles-dir <dir>", "the directory of profiles.yml (default: as dbt: $DBT_PROFILES_DIR, ., <project-dir>, ~/.dbt)")
    .option("--target <name>", "the profile target to read the warehouse from (default: the profile's target)")
    .addOption(new Option("--select <contract...>", "sync only these contracts (names, space or comma separated)").default([]))
    .option("--json", "print the report as JSON on stdout")
    .addHelpText("after", `${EXIT_CODES_HELP}\n\nCredentials: HUBSPOT_ACCESS_TOKEN (and HUBSPOT_BASE_PATH for an emulator or proxy).`)
    .action(async (opts: { projectDir: string; targetDir?: string; profilesDir?: string; target?: string; select: string[]; json?: boolean }) => {
      json = Boolean(opts.json);
      const report = await runSync({
        projectDir: opts.projectDir,
        targetDir: opts.targetDir,
        profilesDir: opts.profilesDir,
        target: opts.target,
        select: opts.select.flatMap((s) => s.split(",")).map((s) => s.trim()).filter(Boolean),
        env: io.env,
        cwd: io.cwd,
        onProgress: progressPrinter(io.stderr, io.stderrIsTty),
      });
      io.stdout(`${json ? toJson(report) : formatText(report)}\n`);
      exitCode = report.exitCode;
    });

  try {
    await program.parseAsync(argv, { from: "user" });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end with code 0; every usage error is bad input.
      return error.exitCode === 0 ? EXIT.ok : EXIT.badInput;
    }
    if (error instanceof BadInputError) return reportError(error, json, io);
    io.stderr(`internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return EXIT.internal;
  }
}
