/**
 * Finds the warehouse connection the way dbt does: the project's `profile` in `profiles.yml`, one target of it,
 * rendered as dbt renders it (jinja.ts). Or, where there is no profiles.yml (dbt Cloud keeps the connection itself),
 * the same fields from `DBT_ACTIVATION_TARGET_*` environment variables (config/env.ts).
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { connectionFromEnv, readEnv } from "../config/env.ts";
import { BadInputError, errorMessage } from "../errors.ts";
import { renderDbtTree } from "./jinja.ts";
import { readProjectFile } from "./project.ts";

export interface ProfileTarget {
  profile: string;
  target: string;
  /** The rendered output block, e.g. `{type: "duckdb", path: "…", threads: 4}`. */
  config: Record<string, unknown> & { type: string };
  profilesPath: string;
}

export interface ProfileOptions {
  projectDir: string;
  profilesDir?: string | undefined;
  target?: string | undefined;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** dbt's `--vars`, for `var()` in the profile. */
  vars?: Record<string, unknown> | undefined;
}

const profileSchema = z.looseObject({
  target: z.string().optional(),
  outputs: z.record(z.string(), z.looseObject({ type: z.string() })),
});

/** Renders a profile's templates as dbt does (see jinja.ts). */
function renderDeep(value: unknown, env: NodeJS.ProcessEnv, where: string, vars?: Record<string, unknown>): unknown {
  return renderDbtTree(value, { env, ...(vars ? { vars } : {}) }, where);
}

async function readYaml(path: string): Promise<unknown> {
  try {
    return parseYaml(await readFile(path, "utf8")) as unknown;
  } catch (error) {
    throw new BadInputError(`cannot read ${path}: ${errorMessage(error)}`, { where: path });
  }
}

/** dbt's search order: --profiles-dir, DBT_PROFILES_DIR, the working directory, the project directory, ~/.dbt. */
export function findProfilesFile(options: ProfileOptions): string {
  const env = options.env ?? process.env;
  const explicit = options.profilesDir ?? readEnv(env, "DBT_PROFILES_DIR");
  if (explicit) {
    // Relative to the invocation's working directory, as dbt resolves it (not the syncer process's, when they differ).
    const dir = resolve(options.cwd ?? process.cwd(), explicit);
    const path = join(dir, "profiles.yml");
    if (!existsSync(path)) throw new BadInputError(`profiles.yml not found in ${dir}`, { where: path });
    return path;
  }
  const candidates = [options.cwd ?? process.cwd(), options.projectDir, join(homedir(), ".dbt")].map((d) => join(resolve(d), "profiles.yml"));
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new BadInputError(`profiles.yml not found (looked in ${candidates.join(", ")}); pass --profiles-dir, or give the connection as DBT_ACTIVATION_TARGET_TYPE and DBT_ACTIVATION_TARGET_<FIELD> variables`);
  return found;
}

export async function resolveProfileTarget(options: ProfileOptions): Promise<ProfileTarget> {
  const env = options.env ?? process.env;
  const fromEnv = connectionFromEnv(env);
  if (fromEnv) {
    if (options.profilesDir !== undefined) throw new BadInputError(`--profiles-dir and ${fromEnv.source} both name a connection: use one`);
    return { profile: "(environment)", target: options.target ?? readEnv(env, "DBT_TARGET") ?? "default", config: fromEnv.config, profilesPath: fromEnv.source };
  }
  const projectDir = resolve(options.projectDir);
  const { path: projectPath, project } = await readProjectFile(projectDir);
  if (!project.name) throw new BadInputError(`${projectPath} is not a dbt project file (no name)`, { where: projectPath });
  const profileName = String(renderDeep(project.profile ?? project.name, env, `${projectPath}: profile`, options.vars));

  const profilesPath = findProfilesFile(options);
  const profiles = (await readYaml(profilesPath)) as Record<string, unknown> | null;
  const rawProfile = profiles?.[profileName];
  if (rawProfile === undefined) {
    throw new BadInputError(`profile "${profileName}" (from ${projectPath}) is not in ${profilesPath}`, { where: profilesPath });
  }
  const profile = profileSchema.safeParse(rawProfile);
  if (!profile.success) {
    throw new BadInputError(`profile "${profileName}" in ${profilesPath} has no valid outputs`, {
      where: profilesPath,
      details: profile.error.issues.map((i) => `${profileName}.${i.path.join(".")}: ${i.message}`),
    });
  }
  const targetName = String(renderDeep(options.target ?? readEnv(env, "DBT_TARGET") ?? profile.data.target ?? "dev", env, `${profilesPath}: ${profileName}.target`, options.vars));
  const output = profile.data.outputs[targetName];
  if (!output) {
    throw new BadInputError(`target "${targetName}" is not an output of profile "${profileName}" in ${profilesPath}`, {
      where: profilesPath,
      details: [`outputs: ${Object.keys(profile.data.outputs).join(", ")}`],
    });
  }
  const config = renderDeep(output, env, `${profilesPath}: ${profileName}.outputs.${targetName}`, options.vars) as ProfileTarget["config"];
  return { profile: profileName, target: targetName, config, profilesPath };
}
