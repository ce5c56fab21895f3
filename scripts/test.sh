#!/usr/bin/env bash
# The README's test command: installs what is missing, then runs every check and every test.
#   typecheck and lint -> the console's production build -> render check (template, compose files) -> cfn-lint -> licences of what
#   ships (no copyleft) -> a Docker engine
#   (the one answering, else one started under .run/docker) -> the local images (cached) -> vitest
#   (unit, conformance check, integration tests against the emulator, which the test setup starts
#   when nothing answers, the compose fleet; every AWS call the services make is recorded) -> no
#   container the run started is left -> every recorded call allowed by its service's task role.
# Ends with the runner's summary and a plain 'N passed, N failed' line. An engine it started is
# stopped at the end; one that was already answering is left running.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bash "$ROOT/scripts/bootstrap.sh"
use_tools
cd "$ROOT"

# Debian's docker-compose (v1) validates both compose files and runs the compose fleet's test
# (Compose v2 has no package here). scripts/docker-engine.sh installs the engine itself.
command -v docker-compose >/dev/null 2>&1 || apt_install "docker-compose is missing" docker-compose
# The console's browser test drives Debian's headless Chromium (tests/e2e/console.test.ts).
command -v chromium >/dev/null 2>&1 || apt_install "chromium is missing (the console's browser test)" chromium

# The chaos and outage runs' load generator, built once into .tools/ and reused (scripts/vegeta.sh).
FLOTILLA_VEGETA="$(bash scripts/vegeta.sh)"
export FLOTILLA_VEGETA

# Typecheck and lint side by side (each keeps about one core busy), then report both. tsc keeps its
# incremental state under node_modules/.cache, so a second run checks only what changed (exactly:
# it tracks what each file depends on); a fresh checkout checks everything.
mkdir -p .reports node_modules/.cache/flotilla
log "typecheck and lint"
# The console (services/build/web) is its own project: DOM types, JSX; checked after the rest.
{
  tsc -p tsconfig.json --incremental --tsBuildInfoFile node_modules/.cache/flotilla/tsc.tsbuildinfo \
    && tsc -p services/build/web/tsconfig.json --incremental --tsBuildInfoFile node_modules/.cache/flotilla/tsc-web.tsbuildinfo
} > .reports/typecheck.log 2>&1 & typecheck_pid=$!
eslint --max-warnings=0 . > .reports/lint.log 2>&1 & lint_pid=$!
checks_failed=0
wait "$typecheck_pid" || { log "typecheck failed:"; cat .reports/typecheck.log >&2; checks_failed=1; }
wait "$lint_pid" || { log "lint failed:"; cat .reports/lint.log >&2; checks_failed=1; }
[ "$checks_failed" = 0 ] || exit 1
# The console's production build, which the build service serves at / (the browser test opens it).
log "console build"; pnpm --silent build:console
log "render check"; node deploy/render.ts --check
log "cfn-lint"; cfn-lint deploy/cloudformation/flotilla.json
# What ships (the workspace's production dependency closure) carries no copyleft licence.
log "licences"; node scripts/licenses.ts

step_started=$SECONDS
if bash scripts/docker-engine.sh status >/dev/null 2>&1; then
  engine_started=0
else
  engine_started=1
  bash scripts/docker-engine.sh start
fi
stop_engine() { if [ "$engine_started" = 1 ]; then bash "$ROOT/scripts/docker-engine.sh" stop; fi; }
trap stop_engine EXIT
DOCKER_HOST="$(bash scripts/docker-engine.sh host)"
# No Testcontainers reaper: its image would come from a registry; the tests remove their containers.
export DOCKER_HOST TESTCONTAINERS_RYUK_DISABLED=true
log "Docker engine at $DOCKER_HOST ready in $((SECONDS - step_started)) s"
step_started=$SECONDS
bash scripts/images.sh
log "images ready in $((SECONDS - step_started)) s"
containers_before="$(docker ps -aq --no-trunc | sort)"

# Every service the tests start records each AWS call it makes here (test only, JSONL per
# process); the IAM check below evaluates them against the task roles in the template.
FLOTILLA_TEST_AWS_CALLS="$ROOT/.reports/aws-calls"
rm -rf "$FLOTILLA_TEST_AWS_CALLS"; mkdir -p "$FLOTILLA_TEST_AWS_CALLS"
export FLOTILLA_TEST_AWS_CALLS
log "vitest"
status=0
vitest run --reporter=default --reporter=json --outputFile.json=.reports/vitest.json "$@" || status=$?

# Every container a test started (compose fleets, the Testcontainers emulator, the emulator's ECS
# tasks) must be gone: a leftover is listed, removed, and fails the run.
leftover="$(comm -13 <(echo "$containers_before") <(docker ps -aq --no-trunc | sort))"
if [ -n "$leftover" ]; then
  log "containers the tests left behind:"
  # shellcheck disable=SC2086
  docker ps -a --no-trunc --format '{{.ID}} {{.Names}} {{.Image}} {{.Status}} {{.Labels}}' | grep -F -f <(echo "$leftover") >&2 || true
  # shellcheck disable=SC2086
  docker rm -f $leftover >/dev/null
  status=1
fi
# The emulator enforces no IAM: a call the role does not allow would fail only on AWS (review C1).
# A full run must have recorded calls; a run of chosen files may have started no service.
log "iam: recorded AWS calls against the task roles"
iam_args=()
if [ $# -eq 0 ]; then iam_args=(--require-calls); fi
node tests/iam/evaluate.ts "$FLOTILLA_TEST_AWS_CALLS" ${iam_args[@]+"${iam_args[@]}"} || status=1
node -e '
  const r = require(process.argv[1]);
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed`);
' "$ROOT/.reports/vitest.json" || true
exit "$status"
