#!/usr/bin/env bash
# Builds the local images from what this machine reaches, pulling from no registry:
#   flotilla-local/debian:bookworm     Debian minbase with python3-venv, made by mmdebstrap
#   flotilla-local/node:24             + the Node binary scripts/bootstrap.sh installed (deploy/images/node.Dockerfile)
#   flotilla-local/ministack:<pin>     + MiniStack at its pin, from a wheelhouse built on the host (deploy/images/ministack.Dockerfile)
#   flotilla-local/app:latest          the repo's Dockerfile on the Node layer, with the host's installed node_modules
#   flotilla-local/runner:latest       + vegeta from scripts/vegeta.sh: the load-test runner (deploy/images/runner.Dockerfile)
#   scripts/images.sh [all|base|node|ministack|app|runner]     (default all; each builds what it stands on)
# Each image carries a label with the hash of what it was built from; an image whose label matches
# is kept ("cached"), so a second run builds nothing. Prints each image and how long it took.
# Uses the engine scripts/docker-engine.sh finds (start one first with `scripts/docker-engine.sh start`).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
use_tools
cd "$ROOT"
DOCKER_HOST="$(bash "$ROOT/scripts/docker-engine.sh" host)"
export DOCKER_HOST
docker version --format '{{.Server.Version}}' >/dev/null 2>&1 \
  || die "no Docker engine answers at $DOCKER_HOST: start one with scripts/docker-engine.sh start"

# BASE_IMAGE, NODE_IMAGE, MINISTACK_IMAGE (at the pin), APP_IMAGE and RUNNER_IMAGE, named where the TypeScript reads them.
images="$(node packages/platform/src/testing/local-images.ts)" || die "could not read the image names"
eval "$images"
KEY_LABEL="flotilla.source-hash"
# Bump to rebuild the base; the package list is part of its hash.
BASE_RECIPE="mmdebstrap --variant=minbase --include=python3-venv bookworm (1)"

hash_of() { sha256sum | cut -c1-16; }
label_of() { docker image inspect --format "{{ index .Config.Labels \"$KEY_LABEL\" }}" "$1" 2>/dev/null || true; }
image_id() { docker image inspect --format '{{.Id}}' "$1"; }

# Runs `build` for the image unless it exists with the same source hash; prints how long it took.
ensure() {
  local image="$1" key="$2" build="$3" started=$SECONDS
  if [ "$(label_of "$image")" = "$key" ]; then log "image $image: cached"; return 0; fi
  log "image $image: building"
  "$build" "$key"
  [ "$(label_of "$image")" = "$key" ] || die "image $image was built without its source hash label"
  log "image $image: built in $((SECONDS - started)) s"
}

build_base() {
  command -v mmdebstrap >/dev/null 2>&1 || apt_install "the Debian base image is made with mmdebstrap" mmdebstrap
  # Debian's packages come from the host's own apt sources, the one package source it reaches.
  mmdebstrap --quiet --variant=minbase --include=python3-venv bookworm - \
    | docker import --change "LABEL $KEY_LABEL=$1" --change 'CMD ["/bin/bash"]' - "$BASE_IMAGE" >/dev/null
}

NODE_BIN="$(node -p 'process.execPath')"
build_node() {
  # The context is a tar of the Dockerfile and the binary, streamed: nothing is copied on disk.
  tar -c --dereference -C "$ROOT/deploy/images" node.Dockerfile -C "$(dirname "$NODE_BIN")" "$(basename "$NODE_BIN")" \
    | docker build --quiet --label "$KEY_LABEL=$1" --build-arg "BASE=$BASE_IMAGE" -f node.Dockerfile -t "$NODE_IMAGE" - >/dev/null
}

WHEELS="$TOOLS/wheels"
build_ministack() {
  # The wheelhouse is built on the host, whose pip reaches PyPI, once per pin.
  local stamp="$WHEELS/.requirements.sha256" want
  want="$(hash_of < scripts/emulator-requirements.txt)"
  if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
    log "building the emulator's wheelhouse in $WHEELS"
    rm -rf "$WHEELS"; mkdir -p "$WHEELS"
    "$VENV/bin/pip" wheel --quiet --disable-pip-version-check --wheel-dir "$WHEELS" -r scripts/emulator-requirements.txt >&2
    echo "$want" > "$stamp"
  fi
  tar -c -C "$ROOT/deploy/images" ministack.Dockerfile -C "$ROOT/scripts" ministack-serve.py emulator-requirements.txt \
      -C "$TOOLS" --exclude=.requirements.sha256 wheels \
    | docker build --quiet --label "$KEY_LABEL=$1" --build-arg "BASE=$BASE_IMAGE" -f ministack.Dockerfile -t "$MINISTACK_IMAGE" - >/dev/null
}

# The app's sources: every file git tracks or would track (what a fresh clone has, plus work in progress).
app_sources() { git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do [ -f "$f" ] && printf '%s\0' "$f"; done; }
build_app() {
  # The sources and the installed node_modules (the root's and each workspace package's: pnpm's
  # links inside them are relative, so they resolve the same under /app); the workspace's globs
  # are pnpm-workspace.yaml's. The IAM test's evaluator (@cloud-copilot/*, AGPL-3.0, test only)
  # stays out: nothing the image runs imports it, and it must never ship.
  { app_sources; printf '%s\0' node_modules packages/*/node_modules services/*/node_modules; } \
    | tar -c --null --exclude='node_modules/@cloud-copilot' --exclude='node_modules/.pnpm/@cloud-copilot+*' -T - \
    | docker build --quiet --label "$KEY_LABEL=$1" --build-arg "BASE=$NODE_IMAGE" --build-arg DEPS=context -f Dockerfile -t "$APP_IMAGE" - >/dev/null
}

VEGETA_BIN=""
build_runner() {
  tar -c --dereference -C "$ROOT/deploy/images" runner.Dockerfile -C "$(dirname "$VEGETA_BIN")" vegeta \
    | docker build --quiet --label "$KEY_LABEL=$1" --build-arg "BASE=$APP_IMAGE" -f runner.Dockerfile -t "$RUNNER_IMAGE" - >/dev/null
}

# The emulator and the Node layer both stand on the base: `all` checks it once.
base_ready=0
base() {
  [ "$base_ready" = 0 ] || return 0
  ensure "$BASE_IMAGE" "$(echo "$BASE_RECIPE" | hash_of)" build_base
  base_ready=1
}
node_layer() {
  base
  ensure "$NODE_IMAGE" "$({ image_id "$BASE_IMAGE"; "$NODE_BIN" --version; cat deploy/images/node.Dockerfile; } | hash_of)" build_node
}
ministack() {
  base
  ensure "$MINISTACK_IMAGE" "$({ image_id "$BASE_IMAGE"; cat deploy/images/ministack.Dockerfile scripts/emulator-requirements.txt scripts/ministack-serve.py; } | hash_of)" build_ministack
}
app() {
  node_layer
  # node_modules is what the frozen lockfile installs, so the lockfile (one of the sources) stands for it.
  ensure "$APP_IMAGE" "$({ image_id "$NODE_IMAGE"; app_sources | xargs -0 sha256sum; } | hash_of)" build_app
}

runner() {
  app
  # Built once into .tools/ at its pin (about 50 s), then reused; the script prints the binary's path.
  VEGETA_BIN="$(bash "$ROOT/scripts/vegeta.sh")"
  ensure "$RUNNER_IMAGE" "$({ image_id "$APP_IMAGE"; sha256sum < "$VEGETA_BIN"; cat deploy/images/runner.Dockerfile; } | hash_of)" build_runner
}

case "${1:-all}" in
  # The runner stands on the app.
  all) ministack; runner ;;
  base) base ;;
  node) node_layer ;;
  ministack) ministack ;;
  app) app ;;
  runner) runner ;;
  *) die "usage: scripts/images.sh [all|base|node|ministack|app|runner]" ;;
esac
