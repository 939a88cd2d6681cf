# syntax=docker/dockerfile:1
# Node: the current LTS, pinned to one release (.ci/run tests the same version; a test keeps them equal).
# Pin the digest too when you build (docker buildx imagetools inspect node:24.22.3-bookworm-slim).
ARG NODE_IMAGE=node:24.22.3-bookworm-slim

# Build: compile TypeScript and better-sqlite3 (needs dev dependencies and a C++ toolchain).
FROM ${NODE_IMAGE} AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
# bin/ is a file: dependency (it links the `parley` command); npm ci needs it present.
COPY bin ./bin
RUN npm ci --ignore-scripts && npm rebuild better-sqlite3
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build
# Production dependencies only: no dev dependencies, and of better-sqlite3's build tree only the
# compiled module it loads (its sqlite sources and object files are most of its size).
RUN npm prune --omit=dev \
  && cp node_modules/better-sqlite3/build/Release/better_sqlite3.node /tmp/ \
  && rm -rf node_modules/better-sqlite3/build node_modules/better-sqlite3/deps node_modules/better-sqlite3/src \
  && mkdir -p node_modules/better-sqlite3/build/Release \
  && mv /tmp/better_sqlite3.node node_modules/better-sqlite3/build/Release/ \
  && node -e "new (require('better-sqlite3'))(':memory:').close()"

# Run: the compiled code and production dependencies, as the non-root `node` user, under tini.
FROM ${NODE_IMAGE}
# tini as PID 1: forwards SIGTERM to Parley and reaps exited children (`parley shards` runs one
# process per shard). Without it, run with `docker run --init`.
RUN apt-get update && apt-get install -y --no-install-recommends tini && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production PORT=3000 STORE_URL=sqlite:///data/parley.sqlite
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY bin ./bin
# No knowledge is shipped: mount yours and set KNOWLEDGE_DIR (or PARLEY_CONFIG), see docs/operations.md.
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
EXPOSE 3000
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# SIGTERM lets replies finish for SHUTDOWN_DEADLINE_MS (25 s by default): give the container longer
# than that before Docker kills it (`docker run --stop-timeout 30`, compose `stop_grace_period`).
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/bin/tini", "--", "node", "dist/cli/main.js"]
CMD ["start"]
