/**
 * The documentation's examples are run, its links resolve, and its generated tables match the code.
 *
 * Every fenced block of README.md and docs/*.md is checked by its info string:
 * - `yaml schema`: a schema YAML file; `validate` (the real one, in process) on a scratch dbt project holding it finds
 *   no error and every contract in it launch-ready.
 * - `yaml contract-part`: part of a contract (a `destination:`, a `monitoring:`, …), merged into a launch-ready contract
 *   and validated the same way.
 * - `yaml packages`: a packages.yml whose `local:` package is this repository as npm installs it.
 * - `yaml modeline`: the editor modeline names the JSON Schema this package ships.
 * - `yaml from=PATH`, `sql from=PATH`: the example is in that file of the repository (where a test builds it).
 * - `console run`: each `$ npx dbt-activation …` line is run, and its output is the block's next lines.
 * - `js webhook-verify`: the receiver's code verifies the syncer's real signature and refuses a tampered body.
 * - anything else (`bash`, `console`, no tag): each `dbt-activation <command>` has its command and flags checked against
 *   the CLI's own commander definitions, each `npm run X` against package.json, each `npx vitest run PATH` against the
 *   files; a block with none of these fails.
 * A block can opt out with `<!-- docs-test: skip: <reason> -->` on the line before it; the reason is required.
 */
import { Command, type Option } from "commander";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, readdir, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { inject } from "vitest";
import { parse, stringify } from "yaml";
import { signature } from "../../src/alerts/channels.ts";
import { COMMANDS } from "../../src/cli/main.ts";
import { defaultIo, logger } from "../../src/cli/io.ts";
import { ENVIRONMENT } from "../../src/config/env.ts";
import { runValidate } from "../../src/validate/validate.ts";
import { repoRoot } from "../../scripts/dbt.ts";
import { GENERATED, withGenerated } from "../../scripts/docs-tables.ts";
import { runCli } from "../support/cli.ts";

interface Block {
  file: string;
  line: number;
  lang: string;
  tags: string[];
  body: string;
  skip?: string | undefined;
}

const PAGES = ["README.md", ...(await readdir(join(repoRoot, "docs"))).filter((f) => f.endsWith(".md") && !f.startsWith("notes-")).map((f) => `docs/${f}`)];
const TEXT = Object.fromEntries(await Promise.all(PAGES.map(async (p) => [p, await readFile(join(repoRoot, p), "utf8")] as const)));

function blocksOf(file: string): Block[] {
  const lines = TEXT[file]!.split("\n");
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i += 1) {
    const open = /^(\s*)```(\S*)\s*(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const indent = open[1]!.length;
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !/^\s*```\s*$/.test(lines[j]!)) body.push(lines[(j += 1) - 1]!.slice(indent));
    const marker = /<!-- docs-test: skip:(.*)-->/.exec(lines[i - 1] ?? "") ?? /<!-- docs-test: skip:(.*)-->/.exec(lines[i - 2] ?? "");
    blocks.push({ file, line: i + 1, lang: open[2]!, tags: open[3]!.split(/\s+/).filter(Boolean), body: body.join("\n"), skip: marker?.[1]?.trim() });
    i = j;
  }
  return blocks;
}

const BLOCKS = PAGES.flatMap(blocksOf);
const where = (b: Block): string => `${b.file}:${b.line}`;

/** The CLI's commands and their long flags, from the same definitions the binary registers. */
function commandTable(): Map<string, Set<string>> {
  const program = new Command("dbt-activation");
  const context = { io: defaultIo, setExit: () => undefined, setJson: () => undefined, log: logger(defaultIo, "text"), logFormat: "text" as const };
  for (const register of COMMANDS) register(program, context);
  return new Map(program.commands.map((c) => [c.name(), new Set(["--help", "--log-format", ...c.options.map((o: Option) => o.long!).filter(Boolean)])]));
}
const CLI = commandTable();

/** `dbt-activation <command> …flags` on a line: the flags up to a `--` (dbt's) or a `#` comment. */
function invocations(text: string): { command: string; flags: string[] }[] {
  const found: { command: string; flags: string[] }[] = [];
  for (const line of text.split("\n")) {
    for (const m of line.matchAll(/(?:^|[\s$&;(])dbt-activation (\w[\w-]*)([^#\n]*)/g)) {
      const rest = m[2]!.split(/\s--(?:\s|$)/)[0]!;
      found.push({ command: m[1]!, flags: [...rest.matchAll(/(?:^|[\s[|])(--[a-z][a-z-]*)/g)].map((f) => f[1]!) });
    }
  }
  return found;
}

async function scratchProject(schemaYaml: string): Promise<string> {
  const dir = await mkdtemp(join(inject("scratchRoot"), "docs-"));
  await mkdir(join(dir, "models"), { recursive: true });
  await writeFile(join(dir, "dbt_project.yml"), "name: docs_example\nprofile: docs_example\nversion: '1.0'\nmodel-paths: [models]\n");
  await writeFile(join(dir, "models", "schema.yml"), schemaYaml);
  return dir;
}

async function validateSchema(schemaYaml: string, what: string): Promise<void> {
  const dir = await scratchProject(schemaYaml);
  const report = await runValidate({ projectDir: dir, targetDir: join(dir, "target"), cwd: dir, env: {} });
  expect(report.errors.map((e) => `${e.path ?? ""}: ${e.message}`), what).toEqual([]);
  expect(report.contracts.length, what).toBeGreaterThan(0);
  for (const c of report.contracts) expect([c.name, c.launchReady, c.reasons], what).toEqual([c.name, true, []]);
}

/** The launch-ready contract a `contract-part` block is merged into: the README's quickstart contract. */
function baseSchema(): { models: { config: { meta: { activation: Record<string, unknown>[] } } }[] } {
  const quickstart = BLOCKS.find((b) => b.file === "README.md" && b.tags.includes("schema"));
  if (!quickstart) throw new Error("README.md has no ```yaml schema block (the quickstart's contract)");
  return parse(quickstart.body) as ReturnType<typeof baseSchema>;
}

function isSubset(part: unknown, whole: unknown): boolean {
  if (Array.isArray(part)) return Array.isArray(whole) && part.every((p) => whole.some((w) => isSubset(p, w)));
  if (part && typeof part === "object") {
    return !!whole && typeof whole === "object" && Object.entries(part).every(([k, v]) => isSubset(v, (whole as Record<string, unknown>)[k]));
  }
  return part === whole;
}

const normalize = (s: string): string => s.replace(/\s+/g, " ").trim();

async function checkBlock(b: Block): Promise<void> {
  const what = where(b);
  const from = b.tags.find((t) => t.startsWith("from="))?.slice("from=".length);
  if (from) {
    const source = await readFile(join(repoRoot, from), "utf8");
    if (b.lang === "yaml") {
      const example = parse(b.body) as { models: { name: string }[] };
      const file = parse(source) as { models: { name: string }[] };
      for (const model of example.models) expect(isSubset(model, file.models.find((m) => m.name === model.name)), `${what}: model ${model.name} as in ${from}`).toBe(true);
    } else {
      const code = b.body.split("\n").filter((l) => !l.trim().startsWith("--")).join("\n");
      expect(normalize(source), `${what}: in ${from}`).toContain(normalize(code));
    }
    return;
  }
  if (b.lang === "yaml" && b.tags.includes("schema")) return validateSchema(b.body, what);
  if (b.lang === "yaml" && b.tags.includes("contract-part")) {
    const schema = baseSchema();
    const contract = schema.models[0]!.config.meta.activation[0]!;
    for (const [key, value] of Object.entries(parse(b.body) as Record<string, unknown>)) {
      contract[key] = value && typeof value === "object" && !Array.isArray(value) ? { ...(contract[key] as object), ...value } : value;
    }
    return validateSchema(stringify(schema), what);
  }
  if (b.lang === "yaml" && b.tags.includes("packages")) {
    const { packages } = parse(b.body) as { packages: { local?: string }[] };
    const local = packages.find((p) => p.local)!.local!;
    expect(local, what).toBe("node_modules/dbt-activation");
    const pkg = JSON.parse(await readFile(join(repoRoot, "package.json"), "utf8")) as { name: string; files: string[] };
    expect(pkg.name, what).toBe("dbt-activation");
    expect(pkg.files, what).toEqual(expect.arrayContaining(["dbt_project.yml", "macros", "models"]));
    expect(parse(await readFile(join(repoRoot, "dbt_project.yml"), "utf8")), what).toMatchObject({ name: "activation" });
    return;
  }
  if (b.lang === "yaml" && b.tags.includes("modeline")) {
    const schemaPath = /\$schema=(\S+)/.exec(b.body)![1]!;
    expect(schemaPath, what).toMatch(/node_modules\/dbt-activation\/dbt_package\/activation\.schema\.json$/);
    expect(existsSync(join(repoRoot, "dbt_package", "activation.schema.json")), what).toBe(true);
    const pkg = JSON.parse(await readFile(join(repoRoot, "package.json"), "utf8")) as { files: string[] };
    expect(pkg.files, what).toContain("dbt_package");
    return;
  }
  if (b.lang === "js" && b.tags.includes("webhook-verify")) {
    const source = b.body.replace(/^import .*$/m, "");
    const { createHmac, timingSafeEqual } = await import("node:crypto");
    const verify = new Function("createHmac", "timingSafeEqual", `${source}\nreturn verify;`)(createHmac, timingSafeEqual) as (s: string, h: string, body: string) => boolean;
    const body = JSON.stringify({ event: "trigger", contract: "c" });
    const header = signature("s3cret", Math.floor(Date.now() / 1000), body);
    expect(verify("s3cret", header, body), what).toBe(true);
    expect(verify("s3cret", header, `${body} `), what).toBe(false);
    expect(verify("other", header, body), what).toBe(false);
    expect(verify("s3cret", signature("s3cret", Math.floor(Date.now() / 1000) - 3600, body), body), `${what}: stale`).toBe(false);
    return;
  }
  if (b.tags.includes("run")) {
    const parts = b.body.split(/^\$ /m).filter((p) => p.trim());
    for (const part of parts) {
      const [command, ...output] = part.split("\n");
      const args = command!.replace(/^npx dbt-activation /, "").split(/\s+/);
      const run = await runCli(args);
      expect(normalize(run.stdout), `${what}: $ ${command}`).toBe(normalize(output.join("\n")));
    }
    return;
  }
  let checked = 0;
  for (const { command, flags } of invocations(b.body)) {
    const known = CLI.get(command);
    expect(known, `${what}: dbt-activation ${command}`).toBeDefined();
    for (const flag of flags) expect([...known!], `${what}: dbt-activation ${command} ${flag}`).toContain(flag);
    checked += 1;
  }
  const scripts = (JSON.parse(await readFile(join(repoRoot, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
  for (const m of b.body.matchAll(/npm (?:run (\S+)|(test))\b/g)) {
    expect(Object.keys(scripts), `${what}: npm run ${m[1] ?? m[2]}`).toContain(m[1] ?? m[2]);
    checked += 1;
  }
  for (const m of b.body.matchAll(/npx vitest run (\S+)/g)) {
    expect(existsSync(join(repoRoot, m[1]!)), `${what}: ${m[1]}`).toBe(true);
    checked += 1;
  }
  expect(checked, `${what}: a block the docs test cannot check (tag it, or opt out with <!-- docs-test: skip: reason -->)`).toBeGreaterThan(0);
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
function anchors(markdown: string): Set<string> {
  const out = new Set<string>();
  let fence = false;
  for (const line of markdown.split("\n")) {
    if (/^\s*```/.test(line)) fence = !fence;
    const h = !fence && /^#{1,6} (.*)$/.exec(line);
    if (h) {
      out.add(
        h[1]!
          .toLowerCase()
          .replace(/[^\p{L}\p{N}\s_-]/gu, "")
          .replace(/\s/g, "-"),
      );
    }
  }
  return out;
}

describe("documentation", () => {
  it("every fenced block is checked, or opts out with a reason", () => {
    expect(BLOCKS.length).toBeGreaterThan(20);
    for (const b of BLOCKS.filter((x) => x.skip !== undefined)) expect(b.skip, `${where(b)}: an opt-out needs a reason`).toMatch(/\w{3,}/);
  });

  it.each(BLOCKS.filter((b) => b.skip === undefined).map((b) => [where(b), b] as const))("example %s works", async (_, b) => {
    await checkBlock(b);
  });

  it("links between pages, and from the README, resolve (files and headings)", () => {
    const bad: string[] = [];
    for (const page of PAGES) {
      const text = TEXT[page]!.replace(/```[\s\S]*?```/g, "");
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1]!;
        if (/^[a-z]+:/.test(target)) continue;
        const [path, anchor] = target.split("#");
        const file = path ? resolve(dirname(join(repoRoot, page)), path) : join(repoRoot, page);
        if (!existsSync(file)) bad.push(`${page}: ${target} (no file ${relative(repoRoot, file)})`);
        else if (anchor && file.endsWith(".md")) {
          const targetText = TEXT[relative(repoRoot, file)] ?? "";
          if (!anchors(targetText).has(anchor)) bad.push(`${page}: ${target} (no heading #${anchor})`);
        }
      }
    }
    expect(bad).toEqual([]);
  });

  it("the README stays a front door", () => {
    const readme = TEXT["README.md"]!;
    expect(readme.split("\n").length).toBeLessThanOrEqual(260);
    // The two commands .ci/run and the suites refer to.
    expect(readme).toContain("npm ci && npm run demo");
    expect(readme).toContain("npm ci && npm test");
    for (const page of PAGES.filter((p) => p.startsWith("docs/"))) expect(readme, page).toContain(`](${page})`);
  });

  it.each(Object.entries(GENERATED))("the generated table %s is current (node scripts/docs-tables.ts rewrites it)", (name, { page, table }) => {
    const text = TEXT[page]!;
    expect(text).toBe(withGenerated(text, name, table()));
  });

  it("the environment table names every variable the syncer reads, and --help prints them all", async () => {
    const help = await runCli(["--help"]);
    for (const name of Object.keys(ENVIRONMENT)) {
      expect(TEXT["docs/operations.md"], name).toContain(`\`${name}\``);
      expect(help.stdout, name).toContain(name);
    }
  });

  it("only src/config/env.ts reads the environment", async () => {
    const offenders: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      for (const entry of await readdir(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) await walk(path);
        else if (entry.name.endsWith(".ts") && !path.endsWith(join("config", "env.ts"))) {
          const lines = (await readFile(path, "utf8")).split("\n");
          lines.forEach((l, i) => {
            // A read of a variable: env[NAME], env.NAME, process.env.NAME (passing the environment on is not a read).
            if (/\benv\[|\benv\.[A-Z_]+\b|process\.env\.[A-Z_]/.test(l)) offenders.push(`${relative(repoRoot, path)}:${i + 1}: ${l.trim()}`);
          });
        }
      }
    };
    // The emulators stand in for the destinations; they read no configuration.
    await walk(join(repoRoot, "src"));
    expect(offenders).toEqual([]);
  });
});
