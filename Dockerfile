# One image for every farm process: `farm orchestrator`, `farm worker`, `farm submit`.
# The dashboard is built with the dev dependencies (Vite, Preact) in a first stage; the image
# keeps only its static output.
FROM node:20-bookworm-slim AS dashboard
WORKDIR /farm
COPY package.json package-lock.json ./
COPY dashboard dashboard
COPY shared shared
# `prepare` builds the dashboard.
RUN npm ci --no-audit --no-fund

FROM node:20-bookworm-slim
# The Vulkan loader, through which Dawn (the webgpu package) finds a GPU's driver, and glvnd,
# which NVIDIA's Vulkan driver (libGLX_nvidia, mounted by the container toolkit) loads through:
# on the H200 this was lent, Dawn found no adapter without it. Without them a worker says so and
# renders on the CPU (webasm).
RUN apt-get update && apt-get install -y --no-install-recommends libvulkan1 libglvnd0 libglx0 libegl1 && rm -rf /var/lib/apt/lists/*
WORKDIR /farm
COPY package.json package-lock.json ./
# Without Vite here, `prepare` cannot run: skip the scripts, then build the dependencies' own.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm rebuild
COPY bin bin
COPY cli cli
COPY orchestrator orchestrator
COPY worker worker
COPY shared shared
COPY scenes scenes
COPY --from=dashboard /farm/dashboard/dist dashboard/dist
ENTRYPOINT ["node", "bin/farm.js"]
