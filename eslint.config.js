// Lint: the recommended JS and type-aware TypeScript rules over source, tests, scripts and benchmarks, and the
// direction of the data: each folder of src/ imports only the folders listed for it below.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

/**
 * What each folder of src/ may import, besides itself and the shared modules (files directly in src/, and src/config/).
 * The stages run contract → gate → eligible rows → plan → engine → destination → ledger → report, and only
 * `pipeline/` wires them together. Below the stages sit the lower floors every stage may stand on: `dbt/` (reading
 * dbt's files), `warehouse/` and `destinations/` (one folder per engine or destination behind one interface), and
 * `ledger/` (the syncer's tables in the warehouse, which the plan diffs against and the engine's checkpoints write).
 * `validate/`, `generate/` and `export/` are the contract's read-only commands. `cli/` parses flags and prints: it calls
 * `pipeline/` (and those read-only commands), reads dbt's conventions, and may name any stage's types. The emulators
 * live outside src/ (the top-level `emulators/`, shipped for `dbt-activation emulate`): they import nothing of the
 * syncer, and only `cli/` (the emulate command) imports them. A folder not listed here is an error (test/architecture.test.ts), so a new stage is placed
 * on purpose.
 */
export const STAGE_IMPORTS = {
  dbt: [],
  contract: ["dbt"],
  warehouse: ["dbt"],
  destinations: ["contract", "warehouse"],
  gate: ["dbt", "contract"],
  eligible: ["dbt", "contract", "warehouse"],
  ledger: ["contract", "warehouse", "destinations"],
  plan: ["dbt", "contract", "warehouse", "destinations", "eligible", "ledger"],
  engine: ["contract", "destinations", "plan"],
  report: ["dbt", "contract", "gate", "eligible", "plan", "engine", "ledger", "destinations", "warehouse"],
  // After the report: what the run's outcomes mean for the owners (Slack, signed webhooks, PagerDuty), deduplicated in
  // the ledger. The report names the alerts it carries (a type import).
  alerts: ["dbt", "contract", "warehouse", "destinations", "ledger", "report"],
  validate: ["dbt", "contract", "warehouse", "destinations"],
  generate: ["dbt", "contract", "export"],
  export: ["dbt", "contract", "validate", "alerts"],
  pipeline: ["dbt", "contract", "warehouse", "destinations", "gate", "eligible", "ledger", "plan", "engine", "report", "alerts", "validate", "generate", "export"],
  // dbt/: the CLI follows dbt's conventions for finding the project and its artifacts (local or dbt Cloud); contract/:
  // `plan --markdown` names the contracts' sensitive columns. Neither runs a stage.
  cli: ["pipeline", "report", "validate", "export", "dbt", "contract"],
};

/** Modules every folder may import. */
const SHARED = ["config"];

const folders = Object.keys(STAGE_IMPORTS);

/** An import of src/<folder>/… written relative to a file anywhere under src/ (`../plan/diff.ts`, `../../plan/x.ts`). */
const importOf = (names) => `^(\\.\\./)+(${names.join("|")})/`;

function directionRules(folder) {
  const allowed = new Set([folder, ...STAGE_IMPORTS[folder], ...SHARED]);
  // The top-level emulators/ (two or more ../ up from a src folder) are the CLI's alone.
  const forbidden = [...folders.filter((f) => !allowed.has(f)), ...(folder === "cli" ? [] : ["emulators"])];
  if (forbidden.length === 0) return [];
  const why = `src/${folder}/ may import only ${[...STAGE_IMPORTS[folder], ...SHARED].join(", ") || "shared modules"} (see STAGE_IMPORTS in eslint.config.js)`;
  return [
    {
      files: [`src/${folder}/**/*.ts`],
      rules: {
        "@typescript-eslint/no-restricted-imports": [
          "error",
          // The CLI and the report may name any stage's types (what they print), never call a stage.
          { patterns: [{ regex: importOf(forbidden), message: why, allowTypeImports: folder === "cli" || folder === "report" }] },
        ],
      },
    },
  ];
}

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", ".venv/", ".venv-dbt-*/", ".venv-snowflake/", ".node24/", ".tmp/", ".pg/", "integration_tests/", "**/target/", "**/dbt_packages/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  { files: ["bin/*.js"], languageOptions: { globals: { process: "readonly" } } },
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-console": "off",
    },
  },
  ...folders.flatMap(directionRules),
  {
    // The emulators stand apart from the syncer: what they answer must not depend on what the syncer believes.
    files: ["emulators/**/*.ts"],
    rules: { "@typescript-eslint/no-restricted-imports": ["error", { patterns: [{ regex: "^(\\.\\./)+src/", message: "emulators/ imports nothing of the syncer (src/)" }] }] },
  },
  {
    // The shared modules directly in src/ stand below every folder.
    files: ["src/*.ts", "src/config/**/*.ts"],
    rules: { "@typescript-eslint/no-restricted-imports": ["error", { patterns: [{ regex: `^\\.\\./(${folders.join("|")})/|^\\./(${folders.join("|")})/|^(\\.\\./)+emulators/`, message: "shared modules import no stage" }] }] },
  },
);
