#!/usr/bin/env bash
# The README's run command: install what is missing, then start the emulator, the stack and every
# service (scripts/run.ts). Ctrl-C stops everything it started.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bash "$ROOT/scripts/bootstrap.sh"
use_tools
exec node "$ROOT/scripts/run.ts" "$@"
