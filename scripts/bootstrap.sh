#!/usr/bin/env bash
# Installs everything Flotilla needs into .tools/ and node_modules/, idempotently:
#   Node 24 (from the npm registry package node@24 when the system Node is older),
#   pnpm at the version pinned by package.json's packageManager,
#   the workspace's npm dependencies (frozen lockfile),
#   a Python virtualenv with the pinned local AWS emulator (MiniStack), awslocal and cfn-lint.
# Safe to run again: each step is skipped when its stamp matches what is pinned.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
mkdir -p "$TOOLS"
NODE_MAJOR_WANTED=24
NODE_PACKAGE="node@24.21.0"

node_major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

# --- Node ---------------------------------------------------------------------------------
use_tools
if [ "$(node_major node)" -lt "$NODE_MAJOR_WANTED" ]; then
  log "system Node is $(node --version 2>/dev/null || echo missing); installing $NODE_PACKAGE into .tools/node"
  command -v npm >/dev/null || die "npm is needed to fetch Node $NODE_MAJOR_WANTED from the npm registry"
  npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$TOOLS/node" "$NODE_PACKAGE" >&2
  use_tools
  [ "$(node_major node)" -ge "$NODE_MAJOR_WANTED" ] || die "Node $NODE_MAJOR_WANTED install failed"
fi

# --- pnpm (version pinned by packageManager) -----------------------------------------------
PNPM_VERSION="$(node -p 'require(process.argv[1]).packageManager.split("@")[1]' "$ROOT/package.json")"
if [ "$(pnpm --version 2>/dev/null || true)" != "$PNPM_VERSION" ]; then
  log "installing pnpm $PNPM_VERSION into .tools/pnpm"
  npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$TOOLS/pnpm" "pnpm@$PNPM_VERSION" >&2
  use_tools
fi

# --- npm dependencies ----------------------------------------------------------------------
log "pnpm install"
(cd "$ROOT" && pnpm install --frozen-lockfile --reporter=silent) >&2

# --- Python tools (emulator, awslocal, cfn-lint) --------------------------------------------
REQS="$ROOT/scripts/requirements.txt"
EMULATOR_REQS="$ROOT/scripts/emulator-requirements.txt"
STAMP="$VENV/.requirements.sha256"
want="$(cat "$REQS" "$EMULATOR_REQS" | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null || true)" != "$want" ]; then
  log "creating Python environment .tools/venv from scripts/requirements.txt"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$REQS" >&2
  echo "$want" > "$STAMP"
fi
log "tools ready: node $(node --version), pnpm $(pnpm --version), $("$VENV/bin/ministack" --version 2>/dev/null || "$VENV/bin/pip" show ministack | sed -n 's/^Version: /ministack /p')"
