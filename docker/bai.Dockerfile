# The bai binary (manager and agent). The base image is a build argument so the same file
# builds from a public base where a registry is reachable and from a locally imported base here:
#   docker build -f docker/bai.Dockerfile --build-arg BASE=node:20-bookworm-slim -t bai:0.1 .
ARG BASE=node:20-bookworm-slim
FROM ${BASE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# No scripts yet: `prepare` builds, and the sources are copied below; the build runs after them.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json knexfile.ts ./
COPY src ./src
COPY migrations ./migrations
COPY scripts ./scripts
COPY test ./test
COPY bench ./bench
RUN npm run build && npm prune --omit=dev

FROM ${BASE}
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY bin ./bin
COPY package.json ./
USER node
ENTRYPOINT ["node", "/app/bin/bai.js"]
CMD ["manager"]
