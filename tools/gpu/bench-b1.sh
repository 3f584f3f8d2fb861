#!/usr/bin/env bash
# The batch-1 decode figure alone (after a kernel change): random 8B checkpoint, then gpubench at batch 1.
set -uo pipefail
. "$(dirname "$0")/bench-env.sh"
ensure_model
timeout 150 "${java[@]}" io.dmsserve.DmsServeApplication gpubench --model "$model" --batch 1 --prompt 4096 --decode 64 \
    --policy none 2>>"$OUT/bench.log" | tee -a "$OUT/bench.jsonl"
timeout 150 "${java[@]}" io.dmsserve.DmsServeApplication gpubench --model "$model" --batch 16 --prompt 4096 --decode 32 \
    --policy none 2>>"$OUT/bench.log" | tee -a "$OUT/bench.jsonl"
