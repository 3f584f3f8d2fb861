#!/usr/bin/env bash
# 16 sequences x 32K context: decode with DMS at ~7/8 evicted against DMS off (our own figure) on the random
# Qwen3-8B-shaped checkpoint, from the unpacked bundle with REPO and OUT set. One JSON line per run in
# $OUT/bench.jsonl. The dense peer's figure at the same shape: tools/gpu/dense_peer.py peer --batch 16 --context 32768.
set -uo pipefail
model=/tmp/qwen3-8b-random
java=(./jre/bin/java --add-modules jdk.incubator.vector -Xmx8g -cp "classes:$(ls lib/*.jar | paste -sd:)")
[[ -d $model ]] || timeout 240 python3 "$REPO/tools/gpu/make_random_qwen3.py" --out "$model" >> "$OUT/bench.log" 2>&1
for policy in ${POLICIES:-dms none}; do
    extra=()
    [[ $policy == dms ]] && extra=(--evict-rate 0.875)
    echo "=== 16x32K policy=$policy" >> "$OUT/bench.log"
    timeout "${LIMIT:-200}" "${java[@]}" io.dmsserve.DmsServeApplication gpubench --model "$model" --batch 16 \
        --prompt "${PROMPT:-32768}" --decode 32 --policy "$policy" "${extra[@]}" 2>>"$OUT/bench.log" \
        | tee -a "$OUT/bench.jsonl"
done
