# A region's load-test runner (seed 000), run by ECS as the runner service's task: the app image
# (the repository, its dependencies and the Node layer) plus the load generator, vegeta, which
# scripts/vegeta.sh builds on the host from the Go module proxy at its pin (k6 is AGPL and not
# used here). The agent (load-tests/agent.ts) finds it through FLOTILLA_VEGETA. Nothing is
# downloaded while building.
ARG BASE=flotilla-local/app:latest
FROM ${BASE}
COPY vegeta /usr/local/bin/vegeta
ENV FLOTILLA_VEGETA=/usr/local/bin/vegeta
RUN vegeta -version
# The runner serves no HTTP, so the app image's GET /health check would only ever fail.
HEALTHCHECK NONE
CMD ["node", "load-tests/agent.ts"]
