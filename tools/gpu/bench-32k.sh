#!/usr/bin/env bash
# 16 sequences x 32K context: decode with DMS at ~7/8 evicted against DMS off (our own figure) on the random
# Qwen3-8B-shaped checkpoint, from the unpacked bundle with REPO and OUT set. One JSON line per run in
# $OUT/bench.jsonl. The dense peer's figure at the same shape: tools/gpu/dense_peer.py peer --batch 16 --context 32768.
set -uo pipefail
. "$(dirname "$0")/bench-env.sh"
ensure_model
for policy in ${POLICIES:-dms none}; do
    extra=()
    [[ $policy == dms ]] && extra=(--evict-rate 0.875)
    echo "=== 16x32K policy=$policy" >> "$OUT/bench.log"
    timeout "${LIMIT:-200}" "${java[@]}" io.dmsserve.DmsServeApplication gpubench --model "$model" --batch 16 \
        --prompt "${PROMPT:-32768}" --decode 32 --policy "$policy" "${extra[@]}" "${bench_args[@]}" 2>>"$OUT/bench.log" \
        | tee -a "$OUT/bench.jsonl"
done
