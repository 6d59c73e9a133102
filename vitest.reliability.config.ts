import { defineConfig } from "vitest/config";

// The slow reliability suites (`npm run test:reliability`): crash-resume, faults and concurrency on 50,000-row syncs.
// Same global setup as `npm test` (pinned dbt, the integration build, loopback PostgreSQL).
export default defineConfig({
  test: {
    include: ["test/reliability-slow/**/*.test.ts"],
    // The model-based suite's six cells run in a vitest run of their own (`npm run test:model`), side by side; the
    // other suites here run one at a time.
    exclude: process.env.ACTIVATION_MODEL_SUITE ? [] : ["test/reliability-slow/model/**"],
    globalSetup: ["test/setup/global.ts"],
    testTimeout: 900_000,
    hookTimeout: 600_000,
    pool: "forks",
  },
});
