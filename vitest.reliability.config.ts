import { defineConfig } from "vitest/config";

// The slow reliability suites (`npm run test:reliability`): crash-resume, faults and concurrency on 50,000-row syncs.
// Same global setup as `npm test` (pinned dbt, the integration build, loopback PostgreSQL).
export default defineConfig({
  test: {
    include: ["test/reliability-slow/**/*.test.ts"],
    // The model-based suite runs on its own (`npm run test:model`) until the counterexamples it found with case twins
    // on (CASE_COLLISIONS) are settled: see docs/reliability.md.
    exclude: process.env.ACTIVATION_MODEL_SUITE ? [] : ["test/reliability-slow/model.test.ts"],
    globalSetup: ["test/setup/global.ts"],
    testTimeout: 900_000,
    hookTimeout: 600_000,
    pool: "forks",
  },
});
