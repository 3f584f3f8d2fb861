#!/usr/bin/env bash
# Decode with the tensor-core decode attention and with the CUDA-core one (-Ddms.cuda.tensor-decode=false), the
# same classes, on the random Qwen3-8B-shaped checkpoint, from the unpacked bundle with REPO and OUT set.
#   TENSOR="true false"              which kernels
#   CASES="1:none 16:none 16:dms"    batch:policy (dms at --evict-rate 0.875)
#   PROMPT=4096 DECODE=64 LIMIT=150
# One JSON line per run in $OUT/bench.jsonl, with "tensor_decode" added.
set -uo pipefail
. "$(dirname "$0")/bench-env.sh"
ensure_model
for tensor in ${TENSOR:-true false}; do
    for run in ${CASES:-1:none 16:none 16:dms}; do
        batch=${run%%:*}
        policy=${run#*:}
        extra=()
        [[ $policy == dms ]] && extra=(--evict-rate 0.875)
        echo "=== tensor-decode=$tensor batch=$batch policy=$policy prompt=${PROMPT:-4096}" >> "$OUT/bench.log"
        timeout "${LIMIT:-150}" "${java[@]}" -Ddms.cuda.tensor-decode=$tensor io.dmsserve.DmsServeApplication gpubench \
            --model "$model" --batch "$batch" --prompt "${PROMPT:-4096}" --decode "${DECODE:-64}" --policy "$policy" \
            "${extra[@]}" "${bench_args[@]}" 2>>"$OUT/bench.log" | sed "s/^{/{\"tensor_decode\":$tensor,/" | tee -a "$OUT/bench.jsonl"
    done
done
