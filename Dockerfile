# One image for every Flotilla service; the container's command picks the service
# (node services/<name>/src/main.ts). Node 24 runs the TypeScript sources directly.
FROM node:24-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml ./
COPY packages/events/package.json packages/events/
COPY packages/platform/package.json packages/platform/
COPY services/build/package.json services/build/
COPY services/replication/package.json services/replication/
COPY services/region-sync/package.json services/region-sync/
COPY services/orchestrator/package.json services/orchestrator/
# pnpm at the version package.json's packageManager pins, through corepack.
RUN corepack enable && pnpm install --frozen-lockfile
COPY . .
USER node
CMD ["node", "services/build/src/main.ts"]
