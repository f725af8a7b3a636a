# The greenlight worker and CLI. Build: docker build -t greenlight .
# Three stages: the build (all dependencies, TypeScript compiled), the production dependencies alone,
# and the image itself, which runs as the unprivileged `node` user.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
# Scripts are skipped: `prepare` would build before the sources are here.
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY src ./src
RUN npx tsc -p tsconfig.json

FROM node:20-bookworm-slim AS production-dependencies
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund --ignore-scripts && npm cache clean --force

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    GREENLIGHT_STATE_DIR=/var/lib/greenlight
WORKDIR /app
COPY --from=production-dependencies /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY package.json ./
COPY bin ./bin
COPY examples ./examples
RUN mkdir -p /var/lib/greenlight && chown node:node /var/lib/greenlight
USER node
VOLUME ["/var/lib/greenlight"]
# The admin endpoint (/metrics, /breakers): on loopback unless GREENLIGHT_ADMIN_HOST and GREENLIGHT_ADMIN_TOKEN say otherwise.
EXPOSE 9464
ENTRYPOINT ["node", "dist/src/main.js"]
