# One image for every farm process: `farm orchestrator`, `farm worker`, `farm submit`.
FROM node:20-bookworm-slim
WORKDIR /farm
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY bin bin
COPY cli cli
COPY orchestrator orchestrator
COPY worker worker
COPY shared shared
COPY scenes scenes
ENTRYPOINT ["node", "bin/farm.js"]
