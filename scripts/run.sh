#!/usr/bin/env bash
# The README's run command: install what is missing, then start the emulator (its state kept in
# .run/ across restarts), the stack and every service (scripts/run.ts).
#   ./scripts/run.sh [--prefix flotilla] [--port-base 8080] [--fresh]
# Ports are checked before anything starts; Ctrl-C at any moment stops everything it started.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bash "$ROOT/scripts/bootstrap.sh"
use_tools
# The console the build service serves at / (services/build/web), built afresh: a second or two.
log "building the console"
(cd "$ROOT" && pnpm --silent build:console)
exec node "$ROOT/scripts/run.ts" "$@"
