#!/usr/bin/env bash
# Creates the project-local virtualenv .venv with the pinned dbt from requirements.txt.
# Idempotent and quick when done: it reinstalls only when requirements.txt changed (stamp holds its hash).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/.venv"
stamp="$venv/.requirements.sha256"
want="$(sha256sum "$root/requirements.txt" | cut -d' ' -f1)"

if [ -x "$venv/bin/dbt" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi

python="${PYTHON:-python3}"
if ! "$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)'; then
  echo "setup-python: dbt needs Python >= 3.10; $("$python" --version 2>&1) found (set PYTHON=...)" >&2
  exit 1
fi
echo "setup-python: installing dbt into $venv (requirements.txt changed or first run)" >&2
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$root/requirements.txt"
echo "$want" > "$stamp"
DO_NOT_TRACK=1 "$venv/bin/dbt" --version >&2
