#!/usr/bin/env bash
# A Docker engine for the container paths (images, the compose fleet, Testcontainers, the
# emulator's ECS), used when one answers and started when none does.
#   scripts/docker-engine.sh start | stop | status | host
# `start` uses the engine at DOCKER_HOST (or the default socket) when it answers. Otherwise it
# installs Debian's docker.io when dockerd is missing and starts dockerd as root under .run/docker/,
# with its own data root, exec root, pid file and socket. `stop` stops only a dockerd this script
# started (the pid file says so), and with it every container still running in it. `host` prints
# the DOCKER_HOST to use: the answering engine's, or this script's socket.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
DIR="$ROOT/.run/docker"
PIDFILE="$DIR/dockerd.pid"
LOGFILE="$DIR/dockerd.log"
OWN_HOST="unix://$DIR/docker.sock"
STOP_TIMEOUT="${DOCKER_STOP_TIMEOUT:-60}"

answers() { DOCKER_HOST="$1" docker version --format '{{.Server.Version}}' >/dev/null 2>&1; }

# The engine to use: DOCKER_HOST when set, else the one this script started, else the default socket.
engine_host() {
  if [ -n "${DOCKER_HOST:-}" ]; then echo "$DOCKER_HOST"; return; fi
  if answers "$OWN_HOST"; then echo "$OWN_HOST"; return; fi
  echo "unix:///var/run/docker.sock"
}

running_pid() { owned_pid "$PIDFILE" dockerd; }

start_engine() {
  local host; host="$(engine_host)"
  if answers "$host"; then log "Docker engine answers at $host"; return 0; fi
  if [ -n "${DOCKER_HOST:-}" ]; then die "DOCKER_HOST=$DOCKER_HOST does not answer; unset it to let this script start an engine of its own"; fi
  [ "$(id -u)" -eq 0 ] || die "starting dockerd needs root (or set DOCKER_HOST to an engine that answers)"
  command -v dockerd >/dev/null 2>&1 || apt_install "dockerd is missing" docker.io
  # A unix socket path is at most 107 bytes.
  [ "${#DIR}" -le 90 ] || die "the checkout's path is too long for dockerd's socket under .run/docker/; set DOCKER_HOST to an engine instead"
  mkdir -p "$DIR/data" "$DIR/exec"
  log "starting dockerd with its data in $DIR (log: $LOGFILE)"
  # setsid: a Ctrl-C in the terminal does not reach the engine; `stop` ends it and its containers.
  setsid dockerd --data-root "$DIR/data" --exec-root "$DIR/exec" --pidfile "$PIDFILE" \
    --host "$OWN_HOST" >"$LOGFILE" 2>&1 < /dev/null &
  local spawned=$!
  local deadline=$((SECONDS + 60))
  until answers "$OWN_HOST"; do
    if ! kill -0 "$spawned" 2>/dev/null; then tail -n 20 "$LOGFILE" >&2 || true; die "dockerd exited while starting; log above ($LOGFILE)"; fi
    if [ "$SECONDS" -ge "$deadline" ]; then kill -TERM "$spawned" 2>/dev/null || true; die "dockerd did not answer within 60s (log: $LOGFILE)"; fi
    sleep 0.2
  done
  log "Docker engine started at $OWN_HOST"
}

stop_engine() {
  local pid
  if ! pid="$(running_pid)"; then rm -f "$PIDFILE"; return 0; fi
  # dockerd stops its running containers (each gets SIGTERM, then SIGKILL after 10 s) and its containerd.
  kill -TERM "$pid" 2>/dev/null || true
  local deadline=$((SECONDS + STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then kill -KILL "$pid" 2>/dev/null || true; break; fi
    sleep 0.2
  done
  rm -f "$PIDFILE"
  # dockerd leaves its default network namespace mounted under the exec root; unmount what is left
  # under .run/docker/ (deepest first), so the checkout can be deleted.
  local mounts; mounts="$(awk -v dir="$DIR/" 'index($5, dir) == 1 { print $5 }' /proc/self/mountinfo | sort -r)"
  if [ -n "$mounts" ]; then echo "$mounts" | xargs -r -n1 umount -l; fi
  log "Docker engine it started is stopped"
}

case "${1:-}" in
  start) start_engine ;;
  stop) stop_engine ;;
  status) if answers "$(engine_host)"; then echo "answers at $(engine_host)"; else echo "down"; exit 1; fi ;;
  host) engine_host ;;
  *) die "usage: scripts/docker-engine.sh start|stop|status|host" ;;
esac
