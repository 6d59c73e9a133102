#!/usr/bin/env bash
# The compatibility matrix, run by CI (.ci/run) after `npm test` (which covers dbt-core 1.11 on Node 22):
#   1. dbt-core 1.10 and 1.12 (scripts/setup-dbt-matrix.sh): the dbt package's integration tests and the syncer's
#      end-to-end suites, each version in its own pinned virtualenv;
#   2. Node 24 (scripts/setup-node24.sh): the CLI end-to-end suites, the CLI running on Node 24;
#   3. install as a user (test/compat/install.test.ts): npm pack, install into a fresh dbt project, deps, generate,
#      build, sync;
#   4. the dbt package on a third engine (scripts/setup-snowflake-venv.sh, test/compat/warehouses.test.ts):
#      integration_tests built by dbt-snowflake against fakesnow, and every model and test compiled for Snowflake and
#      for BigQuery (offline).
# Each step prints how long it took. Usage: bash scripts/test-matrix.sh [--quick] [dbt|node24|install|snowflake ...]
# (default: all four). --quick runs the dbt step with the package's tests and the gate only (test/dbt-package/dbt-package.test.ts,
# test/gate/gate.test.ts: what depends on dbt's own behaviour and artifacts) instead of every dbt-dependent suite, and
# the node24 step with the sync, Fusion and Node-version suites instead of every CLI suite.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export DO_NOT_TRACK=1
export PATH="$root/node_modules/.bin:$PATH"
quick=false
if [ "${1:-}" = "--quick" ]; then quick=true; shift; fi
steps=("$@")
[ ${#steps[@]} -gt 0 ] || steps=(dbt node24 install snowflake)

timed() {
  local label="$1"; shift
  local start=$SECONDS
  "$@"
  echo "test-matrix: $label passed in $((SECONDS - start))s" >&2
}

# The suites that depend on the dbt version: the package's tests on DuckDB and PostgreSQL, the gate on real
# invocations, the syncer end to end, and the rows-proof rules.
DBT_SUITES=(test/dbt-package/dbt-package.test.ts test/gate/gate.test.ts test/e2e/sync.e2e.test.ts test/e2e/rows-proof.e2e.test.ts)
$quick && DBT_SUITES=(test/dbt-package/dbt-package.test.ts test/gate/gate.test.ts)
# The CLI end-to-end suites (the CLI runs as a child process of the test's Node).
CLI_SUITES=(test/e2e/sync.e2e.test.ts test/e2e/modes.e2e.test.ts test/e2e/operations.e2e.test.ts test/e2e/rows-proof.e2e.test.ts test/e2e/fusion.test.ts test/e2e/node-version.test.ts)
# --quick: the sync end to end on DuckDB and PostgreSQL (HubSpot's client, both drivers), the Fusion artifacts and the
# version check on Node 24; the other suites add paths of our own code more than of the runtime.
$quick && CLI_SUITES=(test/e2e/sync.e2e.test.ts test/e2e/fusion.test.ts test/e2e/node-version.test.ts)

for step in "${steps[@]}"; do
  case "$step" in
    dbt)
      bash scripts/setup-dbt-matrix.sh 1.10 1.12
      for version in 1.10 1.12; do
        timed "dbt-core $version" env ACTIVATION_DBT_VENV=".venv-dbt-$version" vitest run "${DBT_SUITES[@]}"
      done
      ;;
    node24)
      bash scripts/setup-node24.sh
      # Node 24 first on the PATH too, so nothing falls back to the project's Node 22.
      timed "Node 24" env PATH="$root/.node24/node_modules/.bin:$PATH" "$root/.node24/node_modules/.bin/node" node_modules/vitest/vitest.mjs run "${CLI_SUITES[@]}"
      ;;
    install)
      timed "install as a user" vitest run -c vitest.compat.config.ts test/compat/install.test.ts
      ;;
    snowflake)
      bash scripts/setup-snowflake-venv.sh
      timed "dbt package on Snowflake (fakesnow) and BigQuery (compile)" vitest run -c vitest.compat.config.ts test/compat/warehouses.test.ts
      ;;
    *)
      echo "test-matrix: unknown step $step (dbt, node24, install, snowflake)" >&2
      exit 2
      ;;
  esac
done
