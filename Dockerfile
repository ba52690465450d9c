# One image for the three services; docker-compose.yml picks the entry point per service.
# Node's current LTS line; the code itself supports Node 20.19 and later.
ARG NODE_VERSION=24

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.base.json tsconfig.json ./
COPY packages/shared/package.json packages/shared/
COPY packages/cli/package.json packages/cli/
COPY packages/migrate/package.json packages/migrate/
COPY packages/client/package.json packages/client/
COPY services/gateway/package.json services/gateway/
COPY services/resolver/package.json services/resolver/
COPY services/runner/package.json services/runner/
COPY apps/web/package.json apps/web/
RUN npm ci --no-audit --no-fund
COPY packages packages
COPY services services
COPY apps apps
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

FROM node:${NODE_VERSION}-bookworm-slim AS runtime
ENV NODE_ENV=production
# A fixed old-space cap, so the heap grows the same way wherever the image runs. Without one, Node
# sizes the heap from the machine's (or cgroup's) memory: on a large host the cap is 4 GiB and V8
# then lets the old space grow up to 4x its live size between full collections, so after a burst
# of requests a service keeps 100+ MiB of garbage resident until the next one (docs/performance.md,
# section 6). A 1 GiB cap lowers that factor to about 1.6; the live heap is under 60 MiB. The chart
# sets a smaller cap per service, below its pod's memory limit (values.yaml, extraEnv).
# A smaller old space would also shrink the young generation (V8 sizes it as old/128, at most
# 16 MiB), and with it throughput: more scavenges, more early promotion. So the young generation
# stays at what V8 picks for a large heap (`--max-semi-space-size=16`).
# bench/support/process-stack.mjs reads this line, so benchmarks start the services the same way.
ENV NODE_OPTIONS="--max-old-space-size=1024 --max-semi-space-size=16"
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/packages/shared/package.json packages/shared/
COPY --from=build /app/packages/shared/dist packages/shared/dist
COPY --from=build /app/services/gateway/package.json services/gateway/
COPY --from=build /app/services/gateway/dist services/gateway/dist
COPY --from=build /app/services/resolver/package.json services/resolver/
COPY --from=build /app/services/resolver/dist services/resolver/dist
COPY --from=build /app/services/runner/package.json services/runner/
COPY --from=build /app/services/runner/dist services/runner/dist
# The web app, served by the gateway at /app (WEB_APP_DIR defaults to this folder).
COPY --from=build /app/apps/web/dist apps/web/dist
COPY scripts/healthcheck.mjs scripts/
# The image's unprivileged user; the services need no root and write only the heartbeat in /tmp.
USER node
CMD ["node", "services/gateway/dist/main.js"]
