#!/usr/bin/env bash
# Installs the load generator the load tests use, vegeta (an open-model, constant-arrival-rate HTTP
# load tool, MIT licence), from the Go module proxy at a pinned version, into .tools/vegeta/<version>/,
# and prints the binary's path. A binary already there is reused, so only the first run builds
# (about 50 s on two cores). Issue 8 named k6; this machine's package notes mark go.k6.io/k6 as not to
# be used (AGPL), so the constant-arrival-rate load comes from vegeta instead (load-tests/README.md).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
VEGETA_VERSION="v12.13.0"
dir="$TOOLS/vegeta/$VEGETA_VERSION"
bin="$dir/vegeta"
if [ ! -x "$bin" ]; then
  command -v go >/dev/null 2>&1 || die "vegeta is built with Go, and no 'go' is on PATH"
  log "building vegeta $VEGETA_VERSION from the Go module proxy into $dir (once)"
  mkdir -p "$dir"
  # A temporary GOBIN, moved into place only once complete, so an interrupted build leaves no half binary.
  tmp="$(mktemp -d)"
  GOBIN="$tmp" GOFLAGS=-buildvcs=false go install "github.com/tsenart/vegeta/v12@$VEGETA_VERSION" >&2
  mv "$tmp/vegeta" "$bin"
  rmdir "$tmp"
fi
echo "$bin"
