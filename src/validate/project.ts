/** The dbt project as validate and export need it: its name, version, model paths and the schema YAML files in them. */
import { readdir, readFile } from "node:fs/promises";
import { join, relative, resolve, sep } from "node:path";
import { parse } from "yaml";
import { z } from "zod";
import { BadInputError, errorMessage } from "../errors.ts";

export interface DbtProject {
  /** Absolute path of the project directory. */
  dir: string;
  name: string;
  version: string | undefined;
  /** Model paths relative to the project (dbt's `model-paths`, default `models`). */
  modelPaths: string[];
  /**
   * Where dbt also reads property YAML: seed and snapshot paths (defaults `seeds`, `snapshots`). Contracts declared
   * there are found only to say why they cannot sync.
   */
  otherPropertyPaths: string[];
  /** dbt's `target-path` (default `target`), relative to the project. */
  targetPath: string;
}

const projectFileSchema = z.looseObject({
  name: z.string().min(1),
  version: z.union([z.string(), z.number()]).optional(),
  "model-paths": z.array(z.string()).optional(),
  "seed-paths": z.array(z.string()).optional(),
  "snapshot-paths": z.array(z.string()).optional(),
  "target-path": z.string().optional(),
});

export async function readDbtProject(projectDir: string, cwd: string = process.cwd()): Promise<DbtProject> {
  const dir = resolve(cwd, projectDir);
  const path = join(dir, "dbt_project.yml");
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === "ENOENT";
    throw new BadInputError(missing ? `no dbt_project.yml in ${dir} (--project-dir names the dbt project)` : `cannot read ${path}: ${errorMessage(error)}`, { where: path });
  }
  let raw: unknown;
  try {
    raw = parse(text);
  } catch (error) {
    throw new BadInputError(`dbt_project.yml is not valid YAML: ${errorMessage(error)}`, { where: path });
  }
  const parsed = projectFileSchema.safeParse(raw);
  if (!parsed.success) {
    throw new BadInputError(`dbt_project.yml at ${path} is not a dbt project file`, { where: path, details: parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`) });
  }
  const p = parsed.data;
  return {
    dir,
    name: p.name,
    version: p.version === undefined ? undefined : String(p.version),
    modelPaths: p["model-paths"] ?? ["models"],
    otherPropertyPaths: [...(p["seed-paths"] ?? ["seeds"]), ...(p["snapshot-paths"] ?? ["snapshots"])],
    targetPath: p["target-path"] ?? "target",
  };
}

async function walk(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw error;
  }
  const files: string[] = [];
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await walk(path)));
    else if (entry.isFile() && /\.ya?ml$/i.test(entry.name)) files.push(path);
  }
  return files;
}

/** Every `.yml`/`.yaml` under the model (and seed, snapshot) paths, relative to the project with `/` separators, sorted. */
export async function schemaFiles(project: DbtProject): Promise<string[]> {
  const files = new Set<string>();
  for (const modelPath of [...project.modelPaths, ...project.otherPropertyPaths]) {
    for (const file of await walk(join(project.dir, modelPath))) files.add(relative(project.dir, file).split(sep).join("/"));
  }
  return [...files].sort();
}
