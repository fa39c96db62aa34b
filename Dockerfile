# syntax=docker/dockerfile:1
# Portico's container image: `docker build -t portico:0.1.0 .` (or `minikube image build`).
#
# Three stages: `deps` installs the production dependencies (re2 is a native addon compiled here,
# so this stage has the toolchain); `build` installs everything and compiles TypeScript to dist/;
# the runtime stage gets only node_modules from `deps` and dist/ from `build`, and runs as a
# non-root user. test/packaging/dockerfile.test.ts checks this file and runs the runtime stage's
# commands (npm ci --omit=dev, npm run build, node dist/cli.js serve --help) outside Docker.
#
# Node 24 LTS, pinned by tag; the full image brings python3, make and g++ for node-gyp. Bump
# both stages together (the test checks they agree and match .nvmrc's major).
ARG NODE_VERSION=24.20.0

FROM node:${NODE_VERSION}-trixie AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# Production dependencies only; package.json's allowScripts approves re2's install script, which
# fetches a prebuilt binary or compiles RE2 with node-gyp.
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:${NODE_VERSION}-trixie AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Install scripts skipped: compiling TypeScript needs no native addon (re2 is built in deps).
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

FROM node:${NODE_VERSION}-trixie-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
# The image's `node` user, by number so Kubernetes can verify runAsNonRoot (the chart runs as
# 1000:1000 with a read-only root filesystem; nothing here is written at runtime).
USER 1000:1000
# HTTP proxy, HTTPS proxy, admin (/healthz, /readyz, /metrics): the chart's containerPorts.
EXPOSE 8080 8443 10254
# Exec form, no shell: node is PID 1 and receives SIGTERM itself. Portico installs SIGTERM and
# SIGINT handlers (src/main.ts, stopOnSignals), so the kernel's PID-1 rule (no default action
# for unhandled signals) does not apply: SIGTERM drains and exits 0. Portico starts no child
# processes, so there are no zombies to reap and no init (tini) is needed.
# --max-semi-space-size=16 (MiB): V8 otherwise lets the young generation grow to 64 MiB per
# semi-space while the manifests or the first watch lists are read (most of what is allocated
# then survives), and keeps it: about 90 MiB more RSS at 10,000 Ingresses (bench/README.md,
# bench:scale). Under proxy load about 13 MiB filled between scavenges (bench/README.md,
# bench:cost). V8 sizes its heap at start, so the code cannot set this; workers inherit it.
ENTRYPOINT ["node", "--max-semi-space-size=16", "dist/cli.js"]
# The chart passes its own args, starting with `serve`.
CMD ["serve"]
