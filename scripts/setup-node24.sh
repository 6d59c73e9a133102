#!/usr/bin/env bash
# Node 24 for the CLI end-to-end suites of scripts/test-matrix.sh: the `node` npm package at an exact version,
# installed into .node24/ (not node_modules). Idempotent.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="24.21.0"
dir="$root/.node24"
if [ -x "$dir/node_modules/.bin/node" ] && [ "$("$dir/node_modules/.bin/node" --version)" = "v$version" ]; then
  exit 0
fi
mkdir -p "$dir"
# npm 11 runs the `node` package's install script (it links the binary) only when approved.
printf '{"private": true, "allowScripts": {"node": true}}\n' > "$dir/package.json"
npm install --prefix "$dir" --no-audit --no-fund --save-exact "node@$version" >&2
"$dir/node_modules/.bin/node" --version >&2
