/**
 * Where the dbt project and its artifacts are, by dbt's rules, for every command: `--project-dir` defaults to the
 * working directory or its nearest parent holding `dbt_project.yml`; the target path is `--target-path`, else
 * `$DBT_TARGET_PATH`, else `target-path` in `dbt_project.yml` (rendered: it may use `env_var`), else `target`, and a
 * relative one is relative to the project directory, as dbt joins it.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { BadInputError, errorMessage } from "../errors.ts";
import { renderDbtValue, type RenderContext } from "./jinja.ts";
import { readEnv } from "../config/env.ts";

export const PROJECT_FILE = "dbt_project.yml";

export interface ProjectLocation {
  /** `--project-dir`, when given. */
  projectDir?: string | undefined;
  /** `--target-path`, when given. */
  targetPath?: string | undefined;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** dbt's default project dir: the working directory or the nearest parent with a dbt_project.yml (else the working directory). */
export function resolveProjectDir(projectDir: string | undefined, cwd: string): string {
  if (projectDir !== undefined) return resolve(cwd, projectDir);
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    if (existsSync(join(dir, PROJECT_FILE))) return dir;
    if (dirname(dir) === dir) return resolve(cwd);
  }
}

const projectFileSchema = z.looseObject({ name: z.string().optional(), profile: z.string().optional(), "target-path": z.string().optional() });
export type ProjectFile = z.infer<typeof projectFileSchema>;

/** dbt_project.yml as YAML (not rendered: each caller renders the keys it reads). */
export async function readProjectFile(projectDir: string): Promise<{ path: string; project: ProjectFile }> {
  const path = join(projectDir, PROJECT_FILE);
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      throw new BadInputError(`${PROJECT_FILE} not found in ${projectDir} (--project-dir names the dbt project; default: the working directory or its nearest parent with one)`, { where: path });
    }
    throw new BadInputError(`cannot read ${path}: ${errorMessage(error)}`, { where: path });
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    throw new BadInputError(`${path} is not valid YAML: ${errorMessage(error)}`, { where: path });
  }
  const parsed = projectFileSchema.safeParse(raw);
  if (!parsed.success) throw new BadInputError(`${path} is not a dbt project file`, { where: path, details: parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`) });
  return { path, project: parsed.data };
}

/** The directory dbt writes `manifest.json` and `run_results.json` to, for this project and these flags. */
export async function resolveTargetDir(location: ProjectLocation): Promise<string> {
  const env = location.env ?? process.env;
  const cwd = location.cwd ?? process.cwd();
  const projectDir = resolveProjectDir(location.projectDir, cwd);
  let targetPath = location.targetPath ?? (readEnv(env, "DBT_TARGET_PATH")?.trim() || undefined);
  if (targetPath === undefined) {
    const { path, project } = await readProjectFile(projectDir);
    const configured = project["target-path"];
    targetPath = configured === undefined ? "target" : String(renderDbtValue(configured, { env } satisfies RenderContext, `${path}: target-path`));
  }
  // os.path.join(project_root, target_path): an absolute target path stays as it is.
  return resolve(projectDir, targetPath);
}
