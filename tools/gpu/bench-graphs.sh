#!/usr/bin/env bash
# Decode with and without the step graphs (the same classes, -Ddms.cuda.graphs=false for launch by launch), at
# batch 1 and 16, on the random Qwen3-8B-shaped checkpoint. Run from the unpacked bundle with REPO and OUT set.
set -uo pipefail
. "$(dirname "$0")/bench-env.sh"
ensure_model
for graphs in ${GRAPHS:-true false}; do
    for batch in ${BATCHES:-1 16}; do
        echo "=== graphs=$graphs batch=$batch" >> "$OUT/bench.log"
        timeout 120 "${java[@]}" -Ddms.cuda.graphs=$graphs io.dmsserve.DmsServeApplication gpubench --model "$model" \
            --batch $batch --prompt 4096 --decode 64 --policy none 2>>"$OUT/bench.log" \
            | sed "s/^{/{\"graphs\":$graphs,/" | tee -a "$OUT/bench.jsonl"
    done
done
