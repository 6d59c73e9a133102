/** The CLI on a Node older than 22: one line saying what it needs, exit 2, no stack trace. */
import { execa } from "execa";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../../scripts/dbt.ts";

const bin = join(repoRoot, "bin", "dbt-activation.js");
/** The machine's own Node (20 on the project's machines), when there is one older than 22. */
const systemNode = "/usr/bin/node";
const systemMajor = existsSync(systemNode) ? Number(String((await execa(systemNode, ["-p", "process.versions.node"])).stdout).split(".")[0]) : undefined;

function expectRefusal(run: { exitCode?: number | undefined; stdout: unknown; stderr: unknown }, version: RegExp): void {
  expect(run.exitCode).toBe(2);
  expect(String(run.stdout)).toBe("");
  const stderr = String(run.stderr);
  expect(stderr).toMatch(/^dbt-activation needs Node 22 or newer; this is Node /);
  expect(stderr).toMatch(version);
  expect(stderr).not.toMatch(/\n\s+at /);
}

describe("bin/dbt-activation.js on an old Node", () => {
  it.skipIf(systemMajor === undefined || systemMajor >= 22)(`${systemNode} (Node ${systemMajor ?? "?"}) gets the message, not a crash`, async () => {
    for (const args of [["--version"], ["sync", "--project-dir", "."]]) {
      expectRefusal(await execa(systemNode, [bin, ...args], { reject: false, cwd: repoRoot }), new RegExp(`Node ${systemMajor}\\.`));
    }
  });

  it("checks the version before importing anything (a Node 22 that reports 21.9.0 is refused too)", async () => {
    // The check runs before the compiled code is imported, so it holds even where dist/ does not exist.
    const pretend = `data:text/javascript,Object.defineProperty(process.versions, "node", { value: "21.9.0" });`;
    expectRefusal(await execa(process.execPath, ["--import", pretend, bin, "--version"], { reject: false, cwd: repoRoot }), /this is Node 21\.9\.0/);
  });

  it("runs on Node 22 or newer", async () => {
    const run = await execa(process.execPath, [bin, "--version"], { reject: false, cwd: repoRoot });
    expect(run.stderr).toBe("");
    expect(run.exitCode).toBe(0);
    expect(String(run.stdout).trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});
