/**
 * Finds the warehouse connection the way dbt does: the project's `profile` in `profiles.yml`, one target of it,
 * with `env_var()` rendered. The syncer never takes a second connection config.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { BadInputError, errorMessage } from "../errors.ts";

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
}

const projectFileSchema = z.looseObject({ name: z.string(), profile: z.string().optional() });
const profileSchema = z.looseObject({
  target: z.string().optional(),
  outputs: z.record(z.string(), z.looseObject({ type: z.string() })),
});

const TEMPLATE = /\{\{\s*(.*?)\s*\}\}/g;
const ENV_VAR = /^env_var\(\s*(['"])([^'"]+)\1\s*(?:,\s*(['"])(.*?)\3\s*)?\)\s*((?:\|\s*\w+\s*)*)$/;

/** Renders the subset of dbt's Jinja that profiles use: `env_var('X')`, `env_var('X', 'default')` and cast filters. */
export function renderTemplate(value: string, env: NodeJS.ProcessEnv, where: string): unknown {
  let cast: string | undefined;
  const rendered = value.replace(TEMPLATE, (_whole, expression: string) => {
    const match = ENV_VAR.exec(expression);
    if (!match) {
      throw new BadInputError(`unsupported template {{ ${expression} }}: profiles may use env_var('NAME'[, 'default']) only`, { where });
    }
    const [, , name, , fallback, filters] = match;
    const filter = filters?.split("|").map((f) => f.trim()).filter(Boolean).pop();
    if (filter) cast = filter;
    const fromEnv = env[name!];
    if (fromEnv !== undefined) return fromEnv;
    if (fallback !== undefined) return fallback;
    throw new BadInputError(`environment variable ${name} is not set and has no default`, { where });
  });
  switch (cast) {
    case undefined:
    case "as_text":
    case "string":
      return rendered;
    case "as_number":
    case "int":
    case "float": {
      const n = Number(rendered);
      if (rendered.trim() === "" || Number.isNaN(n)) throw new BadInputError(`"${rendered}" is not a number`, { where });
      return n;
    }
    case "as_bool":
      return rendered.trim().toLowerCase() === "true";
    default:
      throw new BadInputError(`unsupported filter | ${cast}: use as_number, as_bool or as_text`, { where });
  }
}

function renderDeep(value: unknown, env: NodeJS.ProcessEnv, where: string): unknown {
  if (typeof value === "string") return value.includes("{{") ? renderTemplate(value, env, where) : value;
  if (Array.isArray(value)) return value.map((v, i) => renderDeep(v, env, `${where}[${i}]`));
  if (value && typeof value === "object") {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, renderDeep(v, env, `${where}.${k}`)]));
  }
  return value;
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
  const explicit = options.profilesDir ?? env.DBT_PROFILES_DIR;
  if (explicit) {
    // Relative to the invocation's working directory, as dbt resolves it (not the syncer process's, when they differ).
    const dir = resolve(options.cwd ?? process.cwd(), explicit);
    const path = join(dir, "profiles.yml");
    if (!existsSync(path)) throw new BadInputError(`profiles.yml not found in ${dir}`, { where: path });
    return path;
  }
  const candidates = [options.cwd ?? process.cwd(), options.projectDir, join(homedir(), ".dbt")].map((d) => join(resolve(d), "profiles.yml"));
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new BadInputError(`profiles.yml not found (looked in ${candidates.join(", ")}); pass --profiles-dir`);
  return found;
}

export async function resolveProfileTarget(options: ProfileOptions): Promise<ProfileTarget> {
  const env = options.env ?? process.env;
  const projectPath = join(resolve(options.projectDir), "dbt_project.yml");
  if (!existsSync(projectPath)) throw new BadInputError(`dbt_project.yml not found in ${resolve(options.projectDir)}`, { where: projectPath });
  const project = projectFileSchema.safeParse(await readYaml(projectPath));
  if (!project.success) throw new BadInputError(`${projectPath} is not a dbt project file`, { where: projectPath });
  const profileName = String(renderDeep(project.data.profile ?? project.data.name, env, `${projectPath}: profile`));

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
  const targetName = String(renderDeep(options.target ?? env.DBT_TARGET ?? profile.data.target ?? "dev", env, `${profilesPath}: ${profileName}.target`));
  const output = profile.data.outputs[targetName];
  if (!output) {
    throw new BadInputError(`target "${targetName}" is not an output of profile "${profileName}" in ${profilesPath}`, {
      where: profilesPath,
      details: [`outputs: ${Object.keys(profile.data.outputs).join(", ")}`],
    });
  }
  const config = renderDeep(output, env, `${profilesPath}: ${profileName}.outputs.${targetName}`) as ProfileTarget["config"];
  return { profile: profileName, target: targetName, config, profilesPath };
}
