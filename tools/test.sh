#!/usr/bin/env bash
# The README's test command: sets up everything a fresh Debian 12 machine needs, then runs every
# test (units beside the code, end-to-end suites in test/ on the lab's real dumps). Ends with
# vitest's own summary.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d node_modules ] || npm ci --no-audit --no-fund
npx vitest run
