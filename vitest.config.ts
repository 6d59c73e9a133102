import { availableParallelism } from "node:os";
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // The slow reliability suites run in `npm run test:reliability` (vitest.reliability.config.ts), the compatibility
    // suites in scripts/test-matrix.sh (vitest.compat.config.ts).
    exclude: ["test/reliability-slow/**", "test/compat/**", "**/node_modules/**"],
    globalSetup: ["test/setup/global.ts"],
    // dbt builds and emulator runs are real processes: give them room, and keep files in separate workers.
    testTimeout: 120_000,
    hookTimeout: 600_000,
    pool: "forks",
    // At least two files at a time: a CLI test is a chain (the test, the CLI child, the emulator in the test's process)
    // that keeps about one core busy, and vitest's default (cores - 1) is one worker on a 2-core machine.
    maxWorkers: Math.max(2, availableParallelism() - 1),
  },
});
