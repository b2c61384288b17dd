#!/usr/bin/env bash
# On the lent GPU machine, from the repository root, with .pack (bench/gpu/pack.sh) and
# dashboard/dist carried: bench:gpu, bench:render, then a farm on the GPU rendering two jobs,
# each compared with `farm render`. What it writes under $OUT comes back.
for deb in .pack/debs/*.deb; do dpkg -x "$deb" /; done
ldconfig
# The driver's own Vulkan ICD (the NVIDIA machines here mount it under /usr/local/nvidia).
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f $icd ] && export VK_DRIVER_FILES=$icd
mkdir -p /tmp/bin .dev && xz -dc .pack/node.xz > /tmp/bin/node && chmod +x /tmp/bin/node && export PATH=/tmp/bin:$PATH
tar -xJf .pack/kit.tar.xz -C .dev
OUT=${OUT:-/tmp/gpu-out} && mkdir -p "$OUT"
echo "== $(date +%T) $(nvidia-smi -L 2>/dev/null), $(nproc) cores; farm render's auto choice:"
node .dev/farm.mjs render scenes/cornell.json --size 16x12 --spp 1 --out /tmp/auto.png
echo "== $(date +%T) bench:gpu"
timeout 180 node .dev/gpu-check.mjs && cp .dev/results/gpu.json "$OUT/"
echo "== $(date +%T) bench:render"
timeout 180 node .dev/render.mjs && cp .dev/results/render.json "$OUT/render-gpu.json"
# Each step's limit keeps the whole inside one device call's 600 s (it took 85 s on an H200).
OUT=$OUT timeout 100 bash .dev/farm-trial.sh 1920x1080 64 128 scenes/cornell.json
OUT=$OUT timeout 100 bash .dev/farm-trial.sh 640x480 256 64 scenes/room.json
echo "== $(date +%T) done"
