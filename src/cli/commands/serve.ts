/** `serve`: the dbt Cloud webhook receiver, running until SIGTERM/SIGINT (then stopping gracefully). */
import { InvalidArgumentError, Option, type Command } from "commander";
import { resolveProjectDir } from "../../dbt/project.ts";
import { BadInputError } from "../../errors.ts";
import { WEBHOOK_PATH } from "../../dbt/cloud-webhook.ts";
import { EXIT } from "../../exit-codes.ts";
import { connectionOptions, type ConnectionFlags } from "../flags.ts";
import { DBT_CLOUD_ENVIRONMENT_HELP } from "../help.ts";
import type { CommandContext } from "../io.ts";

function whole(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("must be a whole number");
  return n;
}

/** Resolves on the first SIGINT or SIGTERM. */
function untilSignal(): Promise<string> {
  return new Promise((resolve) => {
    const done = (signal: string): void => {
      process.off("SIGINT", done);
      process.off("SIGTERM", done);
      resolve(signal);
    };
    process.on("SIGINT", done);
    process.on("SIGTERM", done);
  });
}

export function registerServe(program: Command, { io, setExit }: CommandContext): void {
  connectionOptions(program.command("serve"))
    .description(`Listen for dbt Cloud job webhooks (job.run.completed on POST ${WEBHOOK_PATH}) and sync each completed run from its artifacts`)
    .addOption(new Option("--project-dir <dir>", "the dbt project, whose profile names the warehouse (default, as dbt: the working directory or its nearest parent with dbt_project.yml)"))
    .option("--host <address>", "address to listen on (0.0.0.0 behind a proxy that terminates TLS)", "127.0.0.1")
    .option("--port <n>", "port", whole, 8080)
    .addOption(new Option("--job <id...>", "only runs of these dbt Cloud jobs (default: every job of the account)").default([]))
    .addHelpText(
      "after",
      `\n${DBT_CLOUD_ENVIRONMENT_HELP}\n\nGET /healthz answers {status, queued, processing, received, rejected, duplicates, synced, failed}.`,
    )
    .action(async (opts: ConnectionFlags & { host: string; port: number; job: string[] }) => {
      const jobs = opts.job.flatMap((j) => j.split(",")).map((j) => {
        if (!/^\d+$/.test(j.trim())) throw new BadInputError(`--job ${j}: a dbt Cloud job id is a whole number`);
        return Number(j.trim());
      });
      const { startServe } = await import("../../pipeline/serve.ts");
      const handle = await startServe({
        ...opts,
        projectDir: resolveProjectDir(opts.projectDir, io.cwd),
        jobs,
        env: io.env,
        cwd: io.cwd,
        log: (line) => io.stderr(`${new Date().toISOString()} ${line}\n`),
      });
      io.stdout(`listening on ${handle.url}${WEBHOOK_PATH} (health: ${handle.url}/healthz)\n`);
      const signal = await untilSignal();
      io.stderr(`${signal}: finishing the batch in flight, then stopping\n`);
      await handle.stop();
      io.stderr("stopped\n");
      setExit(EXIT.ok);
    });
}
