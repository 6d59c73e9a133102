/** `report`: the HTML run report of any past run, or of the last N runs per contract, from the run-log tables. */
import { Option, type Command } from "commander";
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { InvalidArgumentError } from "commander";
import { EXIT } from "../../exit-codes.ts";
import type { CommandContext } from "../io.ts";
import { splitList } from "../flags.ts";

function positive(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("must be a whole number, at least 1");
  return n;
}

export function registerReport(program: Command, { io, setExit, setJson, log }: CommandContext): void {
  program
    .command("report")
    .description("Write the HTML run report of a past run (--run) or of the last N runs per contract, from the run log")
    .requiredOption("--project-dir <dir>", "the dbt project (its profile names the warehouse)")
    .requiredOption("--out <file.html>", "where to write the report")
    .option("--profiles-dir <dir>", "the directory of profiles.yml")
    .option("--target <name>", "the profile target")
    .option("--ledger-schema <schema>", "where the syncer's tables live (default: the profile target's schema)")
    .addOption(new Option("--select <contract...>", "only these contracts").default([]))
    .option("--run <id>", "one run (run_id in the run log; see `status`)")
    .option("--last <n>", "runs per contract in the history (default 20)", positive)
    .option("--json", "print {path, contracts} as JSON")
    .action(async (opts: { projectDir: string; out: string; profilesDir?: string; target?: string; ledgerSchema?: string; select: string[]; run?: string; last?: number; json?: boolean }) => {
      setJson(Boolean(opts.json));
      const selected = splitList(opts.select);
      const { buildHtmlReport } = await import("../../pipeline/report.ts");
      const { html, contracts } = await buildHtmlReport({
        projectDir: opts.projectDir,
        profilesDir: opts.profilesDir,
        target: opts.target,
        ledgerSchema: opts.ledgerSchema,
        env: io.env,
        cwd: io.cwd,
        ...(selected.length ? { contracts: selected } : {}),
        runId: opts.run,
        ...(opts.last ? { last: opts.last } : {}),
      });
      const path = resolve(io.cwd, opts.out);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, html);
      log(`wrote the run report ${path} (${contracts} contracts)`, { path, contracts });
      if (opts.json) io.stdout(`${JSON.stringify({ path, contracts, exitCode: EXIT.ok }, null, 2)}\n`);
      setExit(EXIT.ok);
    });
}
