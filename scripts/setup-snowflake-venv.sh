#!/usr/bin/env bash
# Creates .venv-snowflake: dbt-core 1.11 (the project's pin) with dbt-snowflake, dbt-bigquery and fakesnow, from the
# frozen requirements-snowflake.txt, for the dbt package's third-engine check (test/compat/warehouses.test.ts:
# integration_tests built on Snowflake emulated by fakesnow, and compiled for BigQuery). Its own virtualenv so the
# adapters and their Google/Snowflake clients stay out of .venv. Installed with --no-deps (the file lists every package
# at its exact version). Idempotent: reinstalled only when requirements-snowflake.txt changed.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python3}"
requirements="$root/requirements-snowflake.txt"
venv="$root/.venv-snowflake"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$requirements" | cut -d' ' -f1)"
if [ -x "$venv/bin/dbt" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "setup-snowflake-venv: installing dbt-snowflake, dbt-bigquery and fakesnow into $venv" >&2
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -r "$requirements"
echo "$want" > "$stamp"
DO_NOT_TRACK=1 "$venv/bin/dbt" --version >&2
