#!/usr/bin/env bash
# Starts, stops and waits for the local AWS emulator (MiniStack, pinned in scripts/requirements.txt)
# as a native process on 127.0.0.1:4566. Usage: scripts/emulator.sh start|stop|status|wait
# `start` returns once /_ministack/health answers; state lives in .run/ (pid file and log).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
use_tools
RUN="$ROOT/.run"
PIDFILE="$RUN/ministack.pid"
LOGFILE="$RUN/ministack.log"
HEALTH="$AWS_ENDPOINT_URL/_ministack/health"
port="${AWS_ENDPOINT_URL##*:}"; port="${port%%/*}"

healthy() { curl -fsS --max-time 2 "$HEALTH" >/dev/null 2>&1; }

wait_healthy() {
  local deadline=$((SECONDS + ${1:-60}))
  until healthy; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    if [ -f "$PIDFILE" ] && ! kill -0 "$(cat "$PIDFILE")" 2>/dev/null; then
      tail -n 20 "$LOGFILE" >&2 || true
      die "emulator exited while starting; log above ($LOGFILE)"
    fi
    sleep 0.2
  done
}

case "${1:-}" in
  start)
    if healthy; then log "emulator already answers at $AWS_ENDPOINT_URL"; exit 0; fi
    [ -x "$VENV/bin/ministack" ] || die "emulator not installed: run scripts/bootstrap.sh"
    mkdir -p "$RUN"
    log "starting MiniStack on 127.0.0.1:$port (log: .run/ministack.log)"
    # setsid: its own process group, so `stop` ends the server and every worker it spawned.
    BIND_HOST=127.0.0.1 GATEWAY_PORT="$port" LOG_LEVEL="${MINISTACK_LOG_LEVEL:-WARNING}" \
      setsid "$VENV/bin/ministack" >"$LOGFILE" 2>&1 < /dev/null &
    echo $! > "$PIDFILE"
    wait_healthy 60 || die "emulator did not become healthy within 60s (log: $LOGFILE)"
    log "emulator healthy at $AWS_ENDPOINT_URL"
    ;;
  stop)
    if [ -f "$PIDFILE" ]; then
      pid="$(cat "$PIDFILE")"
      kill -TERM -- "-$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL -- "-$pid" 2>/dev/null || true
      rm -f "$PIDFILE"
      log "emulator stopped"
    fi
    ;;
  status) healthy && echo "healthy" || { echo "down"; exit 1; } ;;
  wait) wait_healthy "${2:-60}" || die "emulator not healthy at $HEALTH" ;;
  *) die "usage: scripts/emulator.sh start|stop|status|wait [seconds]" ;;
esac
