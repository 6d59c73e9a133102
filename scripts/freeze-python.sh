#!/usr/bin/env bash
# Re-resolves requirements.in in a scratch virtualenv and writes the exact versions to requirements.txt.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"${PYTHON:-python3}" -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/requirements.in"
{ echo "# Frozen from requirements.in by scripts/freeze-python.sh: exact versions for a reproducible dbt."
  "$tmp/venv/bin/pip" freeze; } > "$root/requirements.txt"
