#!/usr/bin/env bash
# The README's test command: installs what is missing, then runs every check and every test.
#   typecheck and lint -> template render check -> cfn-lint -> vitest (unit, conformance check,
#   integration tests against the emulator, which the test setup starts when nothing answers)
# Ends with the runner's summary and a plain 'N passed, N failed' line.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bash "$ROOT/scripts/bootstrap.sh"
use_tools
cd "$ROOT"

# docker-compose.yml is validated by Debian's docker-compose (no engine is needed for `config`).
if ! command -v docker-compose >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || die "docker-compose is missing and apt-get is not available to install it"
  log "installing Debian's docker-compose to validate docker-compose.yml"
  sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq docker-compose >/dev/null
fi

log "typecheck"; tsc -p tsconfig.json
log "lint"; eslint --max-warnings=0 .
log "template render check"; node deploy/render.ts --check
log "cfn-lint"; cfn-lint deploy/cloudformation/flotilla.json

mkdir -p .reports
log "vitest"
status=0
vitest run --reporter=default --reporter=json --outputFile.json=.reports/vitest.json "$@" || status=$?
node -e '
  const r = require(process.argv[1]);
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed`);
' "$ROOT/.reports/vitest.json" || true
exit "$status"
