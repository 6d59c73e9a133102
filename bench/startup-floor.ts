/**
 * The floor of `validate` for the startup benchmark: what any reader of the project pays, in a process of its own.
 * It reads dbt_project.yml and every schema YAML under the project's model paths and parses them (nothing else).
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? yamlFiles(join(dir, e.name)) : /\.ya?ml$/.test(e.name) ? [join(dir, e.name)] : []));
}

const project = process.argv[2] ?? ".";
const config = parse(readFileSync(join(project, "dbt_project.yml"), "utf8")) as { "model-paths"?: string[] } | null;
let documents = 0;
for (const dir of config?.["model-paths"] ?? ["models"]) {
  for (const file of yamlFiles(join(project, dir))) {
    parse(readFileSync(file, "utf8"));
    documents += 1;
  }
}
process.stdout.write(`${documents} YAML files read\n`);
