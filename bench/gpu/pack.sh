#!/usr/bin/env bash
# Packs the GPU checks for a lent GPU machine that has a driver and nothing else (the H200 had no
# Node, no Redis, no Vulkan loader, and no network): Node itself, the CLI and the two benchmarks
# bundled by esbuild, the native modules they load (Dawn, sharp), bull-board's static files,
# redis-server with the two libraries Debian links it to, the Lua scripts, and the Vulkan loader
# and glvnd packages. Writes .pack/ (about 40 MB; `git` ignores it through .git/info/exclude).
# Then: device run `bash bench/gpu/run.sh`, carrying .pack and dashboard/dist (README, "On a GPU").
set -euo pipefail
cd "$(dirname "$0")/../.."
grep -qx '/.pack/' .git/info/exclude 2>/dev/null || echo '/.pack/' >> .git/info/exclude
kit=$(mktemp -d)
trap 'rm -rf "$kit"' EXIT
banner="import { createRequire as __cr } from 'module'; const require = __cr(import.meta.url);"
for entry in cli/main.ts bench/gpu-check.ts bench/render.ts; do
  npx esbuild "$entry" --bundle --platform=node --format=esm --target=node20 --log-level=warning \
    --external:webgpu --external:gl --external:sharp --banner:js="$banner" \
    --outfile="$kit/$(basename "$entry" .ts | sed 's/^main$/farm/').mjs"
done
# orchestrator/state/lua/scripts.ts reads its scripts beside itself: beside the bundle here.
cp orchestrator/state/lua/*.lua "$kit/" && cp -r orchestrator/state/lua/includes "$kit/"
mkdir -p "$kit/node_modules/@img" "$kit/node_modules/@bull-board" "$kit/node_modules/webgpu/dist/linux-x64" "$kit/lib"
cp -r node_modules/{sharp,detect-libc,semver} "$kit/node_modules/"
cp -r node_modules/@img/{colour,sharp-libvips-linux-x64,sharp-linux-x64} "$kit/node_modules/@img/"
cp -r node_modules/@bull-board/ui "$kit/node_modules/@bull-board/"
cp node_modules/webgpu/{index.js,package.json} "$kit/node_modules/webgpu/"
cp node_modules/webgpu/dist/linux-x64/dawn.node "$kit/node_modules/webgpu/dist/linux-x64/"
cp -L "$(command -v redis-server)" "$kit/lib/redis-server"
for lib in liblzf.so.1 libjemalloc.so.2; do cp -L "$(ldconfig -p | awk -v l="$lib" '$1 == l { print $NF; exit }')" "$kit/lib/"; done
cp bench/gpu/farm-trial.sh "$kit/"
rm -rf .pack && mkdir -p .pack/debs
tar -C "$kit" -cf - . | xz -T0 -6 > .pack/kit.tar.xz
xz -T0 -6 -c "$(command -v node)" > .pack/node.xz
(cd .pack/debs && apt-get download libvulkan1 libglvnd0 libglx0 libegl1 libgl1 libgles2 libopengl0 2>/dev/null)
du -sh .pack
