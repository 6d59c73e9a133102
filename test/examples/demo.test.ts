/**
 * The README's first command: `npm run demo` builds examples/acme_saas with the real dbt, syncs it to the HubSpot
 * emulator, and syncs again. It must show one contract synced, one held back by its gate, and a second sync with
 * zero API calls; its generated activation models must be current (`generate --check` inside the demo).
 */
import { execa } from "execa";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../../scripts/dbt.ts";

describe("npm run demo", () => {
  it("syncs the example project's proven contract, holds back the other, and a rerun makes no call", async () => {
    const run = await execa(process.execPath, [join(repoRoot, "scripts", "demo.ts")], { cwd: repoRoot, reject: false, env: { DO_NOT_TRACK: "1" } });
    // stderr carries the progress lines (not a terminal); nothing there may be an error.
    expect(run.stderr).not.toMatch(/error|Error|\bat .*\.ts:\d+/);
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toContain("2 contracts: 0 written, 10 unchanged, 0 removed, 0 drifted");
    expect(run.stdout).toMatch(/SYNCED\s+contact_engagement_to_hubspot .*: 7 eligible rows, 7 created, 0 updated, 0 unchanged, 0 failed/);
    expect(run.stdout).toMatch(/SKIPPED\s+account_health_to_hubspot[\s\S]*held back by the gate: test not_null_account_health_domain: fail \(1 failing row\)/);
    // Consent withdrawn (Sofia, Ben) and the internal QA user never reach HubSpot.
    expect(run.stdout).toContain("contact maya.okafor@northwind.example: Maya Okafor, plan_tier=enterprise, engagement_band=high");
    expect(run.stdout).not.toMatch(/sofia\.rossi|ben\.osei|qa\.bot/);
    expect(run.stdout).toContain("API calls made by the second sync: 0");
    expect(run.stdout).toContain("sync exit codes 3, 3");
    // The README's abridged output ("…" stands for lines or figures left out) is what the demo prints, in order.
    const readme = await readFile(join(repoRoot, "README.md"), "utf8");
    const shown = /What the demo shows \(abridged\):\n\n(?:<!--.*-->\n)?```\n([\s\S]*?)```/.exec(readme)![1]!;
    const pattern = shown
      .split("\n")
      .map((l) => l.trim())
      .filter(Boolean)
      .map((l) => l.split("…").map((s) => s.trim().replace(/[.*+?^${}()|[\]\\]/g, "\\$&").replace(/\s+/g, "\\s+")).join("[\\s\\S]*?"))
      .join("[\\s\\S]*?");
    expect(run.stdout).toMatch(new RegExp(pattern));
  }, 600_000);
});
