// Lint: the recommended JS and type-aware TypeScript rules over source, tests, scripts and benchmarks.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", ".venv/", ".venv-dbt-*/", ".node24/", ".tmp/", ".pg/", "integration_tests/", "**/target/", "**/dbt_packages/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  { files: ["bin/*.js"], languageOptions: { globals: { process: "readonly" } } },
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-console": "off",
    },
  },
);
