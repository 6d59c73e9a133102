/**
 * The orchestrator recipes in examples/ stay runnable: the GitHub Actions workflow is valid YAML whose jobs run
 * dbt-activation with flags the CLI has (and passes actionlint where it is installed), the Airflow DAG compiles under
 * the project's Python, the Dagster assets compile with the sync downstream of the dbt build and reading that build's
 * target path, and every dbt-activation flag any of them uses is one the command's --help lists.
 */
import { execa } from "execa";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { repoRoot } from "../../scripts/dbt.ts";
import { runCli } from "../support/cli.ts";

const WORKFLOW = join(repoRoot, "examples", "github-actions", "dbt-activation.yml");
const DAG = join(repoRoot, "examples", "airflow", "dbt_activation_dag.py");
const DAGSTER = join(repoRoot, "examples", "dagster", "dbt_activation_assets.py");

/** Compiles a Python recipe with the project's Python (Airflow and Dagster are not installed here: compiled, not run). */
async function compilePython(path: string): Promise<void> {
  const compiled = await execa(join(repoRoot, ".venv", "bin", "python"), ["-c", "import ast, sys; ast.parse(open(sys.argv[1]).read())", path], { reject: false });
  expect(compiled.exitCode, compiled.stderr).toBe(0);
}

/** `npx dbt-activation <command> --flag …` invocations in a text, up to a `--` (what follows goes to dbt). */
function invocations(text: string): { command: string; flags: string[] }[] {
  return [...text.matchAll(/npx dbt-activation (\w+)([^\n"]*)/g)].map((m) => ({ command: m[1]!, flags: [...(m[2]!.split(" -- ")[0]!.matchAll(/(--[a-z][a-z-]*)/g))].map((f) => f[1]!) }));
}

async function checkFlags(text: string): Promise<number> {
  const found = invocations(text);
  for (const { command, flags } of found) {
    const help = await runCli([command, "--help"]);
    expect(help.exitCode, `${command} --help`).toBe(0);
    for (const flag of flags) expect(help.stdout, `${command} ${flag}`).toContain(flag);
  }
  return found.length;
}

describe("orchestrator recipes", () => {
  it("GitHub Actions: a workflow with a plan job on pull requests and a sync job on main, using real flags", async () => {
    const text = await readFile(WORKFLOW, "utf8");
    const workflow = parse(text) as { on: Record<string, unknown>; jobs: Record<string, { steps: { run?: string; uses?: string }[]; if?: string }> };
    expect(Object.keys(workflow.on).sort()).toEqual(["pull_request", "push"]);
    expect(Object.keys(workflow.jobs).sort()).toEqual(["plan", "sync"]);
    expect(workflow.jobs.plan!.steps.some((s) => s.run?.includes("plan") && s.run.includes('--markdown "$GITHUB_STEP_SUMMARY"'))).toBe(true);
    expect(workflow.jobs.sync!.steps.some((s) => s.run?.includes("dbt-activation run -- --target prod"))).toBe(true);
    expect(await checkFlags(text)).toBe(2);
    const actionlint = await execa("actionlint", [WORKFLOW], { reject: false });
    if (actionlint.exitCode !== undefined && !actionlint.failed) expect(actionlint.stdout).toBe("");
    else if ((actionlint.cause as NodeJS.ErrnoException | undefined)?.code !== "ENOENT") expect(actionlint.stdout, "actionlint").toBe("");
  });

  it("Airflow: the DAG compiles, maps one sync task per shard, and its commands use real flags", async () => {
    const text = await readFile(DAG, "utf8");
    await compilePython(DAG);
    expect(text).toContain(".expand(");
    expect(text).toMatch(/--shard \{shard\}/);
    expect(await checkFlags(text)).toBe(1);
  });

  it("Dagster: the assets compile, the sync asset is downstream of the dbt assets and reads their build's target path", async () => {
    const text = await readFile(DAGSTER, "utf8");
    await compilePython(DAGSTER);
    expect(text).toMatch(/@dbt_assets\(manifest=/);
    expect(text).toContain('dbt.cli(["build", "--target-path", run_target_path(context)], context=context)');
    expect(text).toMatch(/@asset\(deps=\[analytics_dbt_assets\]\)\ndef activation_sync/);
    expect(text).toContain("--target-path {run_target_path(context)}");
    expect(await checkFlags(text)).toBe(1);
  });
});
