# txmon's production image (issue 23; deploy/kubernetes runs it): the compiled program with plain
# node and the runtime dependencies only, as docs/operations.md "Building for production" describes
# and tests/integration/compiled-cli.test.ts proves on a production install. Not built by CI (this
# machine has no Docker); deploy/kubernetes/manifests.test.ts checks what it copies exists.
#   docker build -t txmon:0.1.0 .
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# npm ci's postinstall replaces kafkajs's read_committed filter with txmon's fix (scripts/patch-kafkajs.js).
COPY scripts/patch-kafkajs.js ./scripts/
COPY scripts/kafkajs ./scripts/kafkajs
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm ci --omit=dev --no-audit --no-fund

FROM node:22-bookworm-slim
ENV NODE_ENV=production TXMON_START_LOCAL_SERVICES=false
WORKDIR /app
COPY --from=build /app/package.json ./package.json
COPY --from=build /app/bin ./bin
COPY --from=build /app/dist ./dist
COPY --from=build /app/node_modules ./node_modules
# The node image's unprivileged user (uid 1000, as the manifests' runAsUser).
USER node
ENTRYPOINT ["node", "bin/txmon.js"]
CMD ["--help"]
