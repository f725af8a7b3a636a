# The greenlight worker. Build: docker build -t greenlight .
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY scripts ./scripts
COPY bin ./bin
COPY src ./src
COPY examples ./examples
RUN npm ci --no-audit --no-fund && npm prune --omit=dev
ENV NODE_ENV=production \
    GREENLIGHT_STATE_DIR=/var/lib/greenlight
VOLUME ["/var/lib/greenlight"]
USER node
ENTRYPOINT ["node", "dist/src/main.js"]
