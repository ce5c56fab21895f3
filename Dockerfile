# One image for every Flotilla service; the container's command picks the service
# (node services/<name>/src/main.ts). Node 24 runs the TypeScript sources directly.
#
# Two ways to build it:
#   - From a registry (the default, `docker compose up`): BASE is the public Node image and the
#     dependencies are installed here with pnpm (DEPS=registry).
#   - From this machine alone (scripts/images.sh): BASE is the local Node layer on a Debian base made
#     with mmdebstrap, and the dependencies are the ones scripts/bootstrap.sh installed on the host,
#     sent in the build context (DEPS=context), so nothing is downloaded while building.
ARG BASE=node:24-slim
FROM ${BASE}
ARG DEPS=registry
WORKDIR /app
# Corepack fetches pnpm without asking (a build has no terminal to answer).
ENV COREPACK_ENABLE_DOWNLOAD_PROMPT=0
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml ./
COPY packages/events/package.json packages/events/
COPY packages/platform/package.json packages/platform/
COPY packages/cli/package.json packages/cli/
COPY services/build/package.json services/build/
COPY services/replication/package.json services/replication/
COPY services/region-sync/package.json services/region-sync/
COPY services/orchestrator/package.json services/orchestrator/
# pnpm at the version package.json's packageManager pins, through corepack. Every dependency, the
# root's devDependencies included: scripts/deploy.ts (the compose init container) imports zod and
# @flotilla/platform through them. NODE_ENV is set only after the install, so that no pnpm version
# reads it as --prod and prunes what the deploy step needs.
# The IAM test's evaluator (@cloud-copilot/*, AGPL-3.0) is a test-only dev dependency: it never
# enters the image (removed in the install's own layer; scripts/images.sh leaves it out of the context).
RUN case "$DEPS" in \
      registry) corepack enable && pnpm install --frozen-lockfile && rm -rf node_modules/@cloud-copilot node_modules/.pnpm/@cloud-copilot+* ;; \
      context) echo "dependencies come with the build context" ;; \
      *) echo "DEPS must be registry or context, not '$DEPS'" >&2; exit 1 ;; \
    esac
ENV NODE_ENV=production
COPY . .
# The console the build service serves at / (its package's build:console script; pnpm may be absent here).
RUN cd services/build && node_modules/.bin/vite build --config web/vite.config.ts --logLevel warn
RUN node -e "import('@flotilla/platform').then(() => console.log('dependencies resolve'))" \
  || { echo "the workspace's dependencies are missing: with DEPS=context the build context must carry the installed node_modules (scripts/images.sh sends them)" >&2; exit 1; }
USER node
# Every service answers GET /health on PORT once it can work.
HEALTHCHECK --interval=2s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT ?? 8080}/health`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "services/build/src/main.ts"]
