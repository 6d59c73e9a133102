#!/usr/bin/env bash
# Creates one virtualenv per dbt-core version of the compatibility matrix, each from its frozen requirement file:
#   .venv-dbt-1.10  requirements-dbt-1.10.txt   dbt-core 1.10 + dbt-duckdb / dbt-postgres 1.10
#   .venv-dbt-1.12  requirements-dbt-1.12.txt   dbt-core 1.12 + dbt-duckdb / dbt-postgres 1.11
# (1.11 is the project's own .venv, scripts/setup-python.sh.) Installed with --no-deps: the files list every package
# with its exact version, and dbt-core 1.12's requirement dbt-core-experimental-parser is left out on purpose (its
# source distribution downloads a wheel from outside the package registries at install time; dbt-core 1.12 runs
# without it). Idempotent: a virtualenv is reinstalled only when its requirement file changed.
# Usage: bash scripts/setup-dbt-matrix.sh [1.10 1.12]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python3}"
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(1.10 1.12)

for version in "${versions[@]}"; do
  requirements="$root/requirements-dbt-$version.txt"
  venv="$root/.venv-dbt-$version"
  [ -f "$requirements" ] || { echo "setup-dbt-matrix: no $requirements" >&2; exit 2; }
  stamp="$venv/.requirements.sha256"
  want="$(sha256sum "$requirements" | cut -d' ' -f1)"
  if [ -x "$venv/bin/dbt" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    continue
  fi
  echo "setup-dbt-matrix: installing dbt $version into $venv" >&2
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -r "$requirements"
  echo "$want" > "$stamp"
  DO_NOT_TRACK=1 "$venv/bin/dbt" --version >&2
done
