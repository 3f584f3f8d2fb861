#!/usr/bin/env bash
# The batch-1 decode figure alone (after a kernel change): random 8B checkpoint, then gpubench at batch 1.
set -uo pipefail
model=/tmp/qwen3-8b-random
java=(./jre/bin/java --add-modules jdk.incubator.vector -Xmx8g -cp "classes:$(ls lib/*.jar | paste -sd:)")
[[ -d $model ]] || timeout 240 python3 "$REPO/tools/gpu/make_random_qwen3.py" --out "$model" | tee -a "$OUT/bench.log"
timeout 150 "${java[@]}" io.dmsserve.DmsServeApplication gpubench --model "$model" --batch 1 --prompt 4096 --decode 64 \
    --policy none 2>>"$OUT/bench.log" | tee -a "$OUT/bench.jsonl"
timeout 150 "${java[@]}" io.dmsserve.DmsServeApplication gpubench --model "$model" --batch 16 --prompt 4096 --decode 32 \
    --policy none 2>>"$OUT/bench.log" | tee -a "$OUT/bench.jsonl"
