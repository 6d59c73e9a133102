/**
 * The direction of the data, enforced: every folder of src/ has its place in STAGE_IMPORTS (eslint.config.js), the
 * table has no cycle, and the lint rule built from it refuses an import that runs back up.
 */
import { ESLint } from "eslint";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { STAGE_IMPORTS } from "../../eslint.config.js";
import { repoRoot } from "../../scripts/dbt.ts";

const table: Record<string, string[]> = STAGE_IMPORTS;
const SHARED_FOLDERS = ["config"];

async function lintAs(filePath: string, code: string): Promise<string[]> {
  const eslint = new ESLint({ cwd: repoRoot });
  const [result] = await eslint.lintText(code, { filePath: join(repoRoot, filePath) });
  return result!.messages.filter((m) => m.ruleId === "@typescript-eslint/no-restricted-imports").map((m) => m.message);
}

describe("import direction", () => {
  it("places every folder of src/ in the table", () => {
    const folders = readdirSync(join(repoRoot, "src"), { withFileTypes: true })
      .filter((d) => d.isDirectory() && !SHARED_FOLDERS.includes(d.name))
      .map((d) => d.name);
    expect(folders.filter((f) => !(f in table))).toEqual([]);
    for (const allowed of Object.values(table)) for (const f of allowed) expect(Object.keys(table)).toContain(f);
  });

  it("has no cycle between folders", () => {
    const state = new Map<string, "visiting" | "done">();
    const cycle: string[] = [];
    const visit = (folder: string, path: string[]): void => {
      if (state.get(folder) === "done") return;
      if (state.get(folder) === "visiting") {
        cycle.push([...path, folder].join(" → "));
        return;
      }
      state.set(folder, "visiting");
      for (const next of table[folder] ?? []) visit(next, [...path, folder]);
      state.set(folder, "done");
    };
    for (const folder of Object.keys(table)) visit(folder, []);
    expect(cycle).toEqual([]);
  });

  it("refuses an import back up the flow, and lets the CLI name a stage's types but not call it", async () => {
    expect(await lintAs("src/ledger/probe.ts", `import { plannedRecords } from "../plan/diff.ts";\nexport const x = plannedRecords;\n`)).toEqual([
      expect.stringContaining("src/ledger/ may import only contract, warehouse, destinations"),
    ]);
    expect(await lintAs("src/destinations/hubspot/probe.ts", `import { sendRecords } from "../../engine/send.ts";\nexport const x = sendRecords;\n`)).toHaveLength(1);
    expect(await lintAs("src/plan/probe.ts", `import { Ledger } from "../ledger/ledger.ts";\nexport const x = Ledger;\n`)).toEqual([]);
    expect(await lintAs("src/cli/probe.ts", `import type { SendSummary } from "../engine/send.ts";\nexport type X = SendSummary;\n`)).toEqual([]);
    expect(await lintAs("src/cli/probe.ts", `import { sendRecords } from "../engine/send.ts";\nexport const x = sendRecords;\n`)).toHaveLength(1);
    // The emulators (top-level emulators/) import nothing of the syncer, and only the CLI imports them.
    expect(await lintAs("emulators/probe.ts", `import { EXIT } from "../src/exit-codes.ts";\nimport { Ledger } from "../src/ledger/ledger.ts";\nexport const x = [EXIT, Ledger];\n`)).toHaveLength(2);
    expect(await lintAs("src/engine/probe.ts", `import { startHubSpotEmulator } from "../../emulators/hubspot/index.ts";\nexport const x = startHubSpotEmulator;\n`)).toHaveLength(1);
    expect(await lintAs("src/cli/commands/probe.ts", `import { startHubSpotEmulator } from "../../../emulators/hubspot/index.ts";\nexport const x = startHubSpotEmulator;\n`)).toEqual([]);
  });
});
