#!/usr/bin/env bash
# Starts, stops and waits for the local AWS emulator (MiniStack, pinned in scripts/emulator-requirements.txt)
# as a native process on the port of AWS_ENDPOINT_URL (default 127.0.0.1:4566).
#   scripts/emulator.sh start [--fresh] | stop | status | wait [seconds]
# `start` returns once /_ministack/health answers. Each port has its own directory,
# .run/emulator-<port>/ (pid file, log, saved state), so an emulator on another port (a test's
# private one) never touches the default one's files.
#
# Persistence (EMULATOR_PERSIST=1; `./scripts/run.sh` sets it, the test command's emulator does
# not): tables, items, queues with their messages, and S3 objects are saved to EMULATOR_STATE_DIR
# (default .run/emulator-<port>/state) and loaded at the next start. MiniStack saves only on a
# graceful stop, so `stop` sends SIGTERM and waits for the save to finish (EMULATOR_STOP_TIMEOUT,
# default 180 s; 200,000 items took 7.5 s) before it would ever SIGKILL. `start --fresh` wipes the
# saved state first, and refuses when an emulator it did not start already answers on that port.
#
# ECS: the emulator runs each task as a container (label ministack=ecs) through the Docker SDK in
# the engine named by DOCKER_HOST. `start` gives it the engine scripts/docker-engine.sh finds when
# that engine answers; without one, ECS still records clusters, services and tasks but runs nothing.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
use_tools
HEALTH="$AWS_ENDPOINT_URL/_ministack/health"
port="${AWS_ENDPOINT_URL##*:}"; port="${port%%/*}"
DIR="$ROOT/.run/emulator-$port"
PIDFILE="$DIR/ministack.pid"
LOGFILE="$DIR/ministack.log"
# Present while the running emulator persists: where it saves, so `stop` can say so.
STATEFILE="$DIR/ministack.state-dir"
PERSIST="${EMULATOR_PERSIST:-0}"
STATE_DIR="${EMULATOR_STATE_DIR:-$DIR/state}"
STOP_TIMEOUT="${EMULATOR_STOP_TIMEOUT:-180}"
case "$PERSIST" in 0|1) ;; *) die "EMULATOR_PERSIST must be 0 or 1, not '$PERSIST'" ;; esac

healthy() { curl -fsS --max-time 2 "$HEALTH" >/dev/null 2>&1; }

running_pid() { owned_pid "$PIDFILE" ministack; }

stop_emulator() {
  local pid
  if ! pid="$(running_pid)"; then rm -f "$PIDFILE" "$STATEFILE"; return 0; fi
  # The whole process group (setsid at start): the server and anything it spawned.
  kill -TERM -- "-$pid" 2>/dev/null || true
  if [ -f "$STATEFILE" ]; then
    log "stopping the emulator on port $port: saving its state to $(cat "$STATEFILE") (up to ${STOP_TIMEOUT}s)"
  fi
  local deadline=$((SECONDS + STOP_TIMEOUT)) next_note=$((SECONDS + 10))
  while kill -0 "$pid" 2>/dev/null; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      kill -KILL -- "-$pid" 2>/dev/null || true
      rm -f "$PIDFILE" "$STATEFILE"
      die "emulator on port $port did not exit within ${STOP_TIMEOUT}s of SIGTERM; killed it, its state may not be saved (log: $LOGFILE)"
    fi
    if [ "$SECONDS" -ge "$next_note" ]; then log "still saving emulator state..."; next_note=$((SECONDS + 10)); fi
    sleep 0.1
  done
  rm -f "$PIDFILE" "$STATEFILE"
  log "emulator on port $port stopped"
}

wait_healthy() {
  local deadline=$((SECONDS + ${1:-60}))
  until healthy; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    if [ -n "${interrupted:-}" ]; then
      stop_emulator
      exit 130
    fi
    if [ -f "$PIDFILE" ] && ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
      tail -n 20 "$LOGFILE" >&2 || true
      die "emulator exited while starting; log above ($LOGFILE)"
    fi
    sleep 0.2
  done
}

case "${1:-}" in
  start)
    fresh=0
    case "${2:-}" in --fresh) fresh=1 ;; "") ;; *) die "usage: scripts/emulator.sh start [--fresh]" ;; esac
    if healthy; then
      [ "$fresh" = 0 ] || die "an emulator already answers at $AWS_ENDPOINT_URL: --fresh refuses to wipe the state of an emulator it did not start (stop it first, or use another port via AWS_ENDPOINT_URL)"
      log "emulator already answers at $AWS_ENDPOINT_URL"; exit 0
    fi
    [ -x "$VENV/bin/ministack" ] || die "emulator not installed: run scripts/bootstrap.sh"
    mkdir -p "$DIR"
    if [ "$PERSIST" = 1 ]; then
      if [ "$fresh" = 1 ]; then log "--fresh: wiping the saved emulator state in $STATE_DIR"; rm -rf "$STATE_DIR"; fi
      mkdir -p "$STATE_DIR/services" "$STATE_DIR/s3"
      log "starting MiniStack on 127.0.0.1:$port with its state in $STATE_DIR (log: $LOGFILE)"
    else
      log "starting MiniStack on 127.0.0.1:$port, in memory (log: $LOGFILE)"
    fi
    # The engine is resolved here, once: an emulator started without an answering engine keeps
    # recording ECS tasks without running them until it is restarted.
    if bash "$ROOT/scripts/docker-engine.sh" status >/dev/null 2>&1; then
      DOCKER_HOST="$(bash "$ROOT/scripts/docker-engine.sh" host)"
      export DOCKER_HOST
      log "the emulator's ECS runs tasks as containers in the Docker engine at $DOCKER_HOST"
    else
      unset DOCKER_HOST
      log "no Docker engine answers: the emulator's ECS tasks will be recorded but not run (start one with scripts/docker-engine.sh start)"
    fi
    # An interrupt while starting is noted, not acted on at once: the pid file must be written
    # before anything stops, so the emulator just spawned is stopped rather than orphaned. A
    # trapped (not ignored) signal is reset to its default in the emulator itself.
    interrupted=""
    trap 'interrupted=1' INT TERM
    # setsid: its own process group, so `stop` ends the server and every worker it spawned, and a
    # Ctrl-C in the terminal does not reach it (the caller stops it, letting it save its state).
    # ministack-serve.py: MiniStack's entry point, exiting once its state is saved instead of
    # waiting for Step Functions executions still blocked on task tokens (builds in flight).
    PERSIST_STATE="$PERSIST" STATE_DIR="$STATE_DIR/services" S3_PERSIST="$PERSIST" S3_DATA_DIR="$STATE_DIR/s3" \
      BIND_HOST=127.0.0.1 GATEWAY_PORT="$port" LOG_LEVEL="${MINISTACK_LOG_LEVEL:-WARNING}" \
      setsid "$VENV/bin/python" "$ROOT/scripts/ministack-serve.py" >"$LOGFILE" 2>&1 < /dev/null &
    echo $! > "$PIDFILE"
    if [ "$PERSIST" = 1 ]; then echo "$STATE_DIR" > "$STATEFILE"; else rm -f "$STATEFILE"; fi
    wait_healthy 60 || { stop_emulator; die "emulator did not become healthy within 60s (log: $LOGFILE)"; }
    trap - INT TERM
    if [ -n "$interrupted" ]; then stop_emulator; exit 130; fi
    log "emulator healthy at $AWS_ENDPOINT_URL"
    ;;
  stop) stop_emulator ;;
  status) healthy && echo "healthy" || { echo "down"; exit 1; } ;;
  wait) wait_healthy "${2:-60}" || die "emulator not healthy at $HEALTH" ;;
  *) die "usage: scripts/emulator.sh start [--fresh]|stop|status|wait [seconds]" ;;
esac
