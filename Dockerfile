# One image for every Flotilla service; the container's command picks the service
# (node services/<name>/src/main.ts). Node 24 runs the TypeScript sources directly.
FROM node:24-slim
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
# pnpm at the version package.json's packageManager pins, through corepack.
# Every dependency, the root's devDependencies included: scripts/deploy.ts (the compose init
# container) imports zod and @flotilla/platform through them. NODE_ENV is set after the install so
# that no pnpm version reads it as --prod.
RUN corepack enable && pnpm install --frozen-lockfile
ENV NODE_ENV=production
COPY . .
USER node
CMD ["node", "services/build/src/main.ts"]
