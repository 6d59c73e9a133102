#!/usr/bin/env bash
# Headless Chromium from Debian's packages, for the test that opens the HTML run report and checks its charts
# rendered (test/report/html.test.ts). Idempotent: does nothing when `chromium` is on the PATH. Needs root for apt-get.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then exit 0; fi
echo "setup-chromium: installing chromium with apt-get" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
apt-get install -y -qq chromium >&2
