/**
 * Headless Chromium from Debian's packages (scripts/setup-chromium.sh installs it): loads a local file with every
 * network feature off and a fresh profile, and returns the DOM after its scripts ran, or a screenshot.
 */
import { execa } from "execa";
import { mkdtemp, rm } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { inject } from "vitest";

const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-dev-shm-usage"];

async function withProfile<T>(fn: (profile: string) => Promise<T>): Promise<T> {
  const profile = await mkdtemp(join(inject("scratchRoot"), "chromium-"));
  try {
    return await fn(profile);
  } finally {
    await rm(profile, { recursive: true, force: true });
  }
}

/** The DOM as the page's scripts left it (`--dump-dom`). */
export function renderedDom(file: string): Promise<string> {
  return withProfile(async (profile) => {
    const run = await execa("chromium", [...FLAGS, `--user-data-dir=${profile}`, "--dump-dom", pathToFileURL(file).href], { reject: false, timeout: 120_000 });
    if (run.exitCode !== 0) throw new Error(`chromium --dump-dom failed (${run.exitCode}): ${run.stderr.slice(-2000)}`);
    return run.stdout;
  });
}

export function screenshot(file: string, png: string, size = "1280,1600"): Promise<void> {
  return withProfile(async (profile) => {
    const run = await execa("chromium", [...FLAGS, `--user-data-dir=${profile}`, `--screenshot=${png}`, `--window-size=${size}`, "--hide-scrollbars", pathToFileURL(file).href], { reject: false, timeout: 120_000 });
    if (run.exitCode !== 0) throw new Error(`chromium --screenshot failed (${run.exitCode}): ${run.stderr.slice(-2000)}`);
  });
}
