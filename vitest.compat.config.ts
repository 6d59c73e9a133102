import { defineConfig } from "vitest/config";

// The compatibility suites of scripts/test-matrix.sh that `npm test` leaves out (the install test needs the registry).
export default defineConfig({
  test: {
    include: ["test/compat/**/*.test.ts"],
    globalSetup: ["test/setup/global.ts"],
    testTimeout: 900_000,
    hookTimeout: 900_000,
    pool: "forks",
  },
});
