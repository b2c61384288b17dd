#!/usr/bin/env bash
# A farm from the bundled CLI (bench/gpu/pack.sh): Redis, an orchestrator, two of the operator's
# workers on `--backend auto`; one job, its frame compared pixel for pixel with `farm render`.
# Args: size spp tile scene. Run from the repository root, the bundle in .dev/.
SIZE=$1 SPP=$2 TILE=$3 SCENE=$4
NAME=$(basename "$SCENE" .json) WORK=/tmp/farm-trial-$NAME URL=http://127.0.0.1:8091
OUT=${OUT:-/tmp/farm-trial-out}
rm -rf "$WORK" && mkdir -p "$WORK" "$OUT"
export LD_LIBRARY_PATH=$PWD/.dev/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} FARM_TOKEN=farm_trial_$RANDOM$RANDOM$RANDOM LOG_LEVEL=warn
get() { node -e "fetch('$URL$1', { headers: { authorization: 'Bearer $FARM_TOKEN' } }).then(async (r) => { process.stdout.write(await r.text()); process.exit(r.ok ? 0 : 1) }, () => process.exit(1))"; }
pixels() { node -e "require('$PWD/.dev/node_modules/sharp')('$1').raw().toBuffer().then((b) => console.log(require('crypto').createHash('sha256').update(b).digest('hex')))"; }
# Whatever happens, the farm goes with the script (its ports are fixed).
trap 'kill $(jobs -p) 2> /dev/null; wait 2> /dev/null' EXIT
.dev/lib/redis-server --port 6391 --save '' --appendonly no --dir "$WORK" > "$WORK/redis.log" 2>&1 &
sleep 0.5
node .dev/farm.mjs orchestrator --port 8091 --redis redis://127.0.0.1:6391 --data "$WORK/orchestrator" > "$WORK/orchestrator.log" 2>&1 &
for _ in $(seq 40); do get /healthz > /dev/null && break; sleep 0.5; done
for i in 1 2; do
  FARM_OPERATOR_TOKEN=$FARM_TOKEN node .dev/farm.mjs worker --orchestrator $URL --name gpu-$i --key "$WORK/w$i.key" --backend auto > "$WORK/worker-$i.log" 2>&1 &
done
echo "== $(date +%T) $NAME $SIZE, $SPP spp, $TILE px tiles"
t0=$(date +%s%N)
node .dev/farm.mjs submit "$SCENE" --orchestrator $URL --size "$SIZE" --spp "$SPP" --tile "$TILE" --wait --out "$WORK/job" 2>&1 | tail -3
echo "job: $(( ($(date +%s%N) - t0) / 1000000 )) ms from submission to frame downloaded (workers starting and calibrating included)"
node .dev/farm.mjs render "$SCENE" --size "$SIZE" --spp "$SPP" --out "$WORK/local.png" 2>&1 | tail -1
frame=$(find "$WORK/job" -name '*.png' | head -1)
if [ -n "$frame" ] && [ "$(pixels "$frame")" = "$(pixels "$WORK/local.png")" ]; then echo "pixels: farm frame = farm render"; else echo "pixels: DIFFERENT"; fi
get /api/workers | node -e "for (const w of JSON.parse(require('fs').readFileSync(0)).workers) console.log(w.name, w.device, w.class, w.classState, 'valid', w.valid)"
cp "$frame" "$OUT/$NAME-farm.png" 2>/dev/null; cp "$WORK/orchestrator.log" "$OUT/$NAME-orchestrator.log"
