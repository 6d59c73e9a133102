import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/setup/global.ts"],
    // dbt builds and emulator runs are real processes: give them room, and keep files in separate workers.
    testTimeout: 120_000,
    hookTimeout: 600_000,
    pool: "forks",
  },
});
