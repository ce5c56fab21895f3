# Shared shell helpers for the project's scripts: where the tools live and how to put them on PATH.
# Sourced, never run. Every script that needs Node 24, pnpm or the Python tools sources this.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
VENV="$TOOLS/venv"
export AWS_ENDPOINT_URL="${AWS_ENDPOINT_URL:-http://127.0.0.1:4566}"
# The emulator accepts any credentials; real AWS never sees these because AWS_ENDPOINT_URL is loopback.
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-test}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-test}"
export AWS_REGION="${AWS_REGION:-us-east-1}"
export AWS_DEFAULT_REGION="$AWS_REGION"

log() { printf '\033[1;34m[flotilla]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[flotilla]\033[0m %s\n' "$*" >&2; exit 1; }

# Installs Debian packages when a command is missing: `apt_install <why> <package>...`.
apt_install() {
  local why="$1"; shift
  command -v apt-get >/dev/null 2>&1 || die "$why: apt-get is not available to install $*"
  log "installing Debian's $* ($why)"
  local sudo_cmd=""; [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# The pid in a pid file, only while that process's command line still has the word (a stale
# file whose pid was reused by something else must never be signalled): `owned_pid <file> <word>`.
owned_pid() {
  [ -f "$1" ] || return 1
  local pid; pid="$(cat "$1")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q "$2" || return 1
  echo "$pid"
}

use_tools() {
  if [ -x "$TOOLS/node/node_modules/.bin/node" ]; then
    export PATH="$TOOLS/node/node_modules/.bin:$PATH"
  fi
  if [ -x "$TOOLS/pnpm/node_modules/.bin/pnpm" ]; then
    export PATH="$TOOLS/pnpm/node_modules/.bin:$PATH"
  fi
  if [ -d "$VENV/bin" ]; then
    export PATH="$VENV/bin:$PATH"
  fi
  export PATH="$ROOT/node_modules/.bin:$PATH"
}
