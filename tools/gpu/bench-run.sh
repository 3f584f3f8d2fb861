#!/usr/bin/env bash
# One benchmark pass on the GPU host, from the unpacked bundle (cwd) and the repository (REPO): the host's
# ceilings, a Qwen3-8B-shaped random checkpoint, the dense peers and our CUDA backend (gpubench).
# Usage: REPO=... OUT=... bench-run.sh     Each result is one JSON line in $OUT/bench.jsonl.
set -uo pipefail
. "$(dirname "$0")/bench-env.sh"  # model, java
log="$OUT/bench.log"
jsonl="$OUT/bench.jsonl"
step() {  # step SECONDS NAME COMMAND...
    local limit=$1 name=$2
    shift 2
    echo "=== $name" >> "$log"
    local start=$(date +%s)
    timeout "$limit" "$@" 2>>"$log" | tee -a "$log" | grep '^{' >> "$jsonl"
    echo "=== $name rc=${PIPESTATUS[0]} $(( $(date +%s) - start ))s" | tee -a "$log"
}
step 60 ceilings python3 "$REPO/tools/gpu/dense_peer.py" ceilings
step 240 checkpoint python3 "$REPO/tools/gpu/make_random_qwen3.py" --out "$model"
step 120 peer-b1 python3 "$REPO/tools/gpu/dense_peer.py" peer --model "$model" --batch 1 --context 4096 --steps 64
step 120 peer-b16-4k python3 "$REPO/tools/gpu/dense_peer.py" peer --model "$model" --batch 16 --context 4096 --steps 32
step 150 ours-b1 "${java[@]}" io.dmsserve.DmsServeApplication gpubench --model "$model" --batch 1 --prompt 4096 \
    --decode 64 --policy none
step 200 ours-b16-dms "${java[@]}" io.dmsserve.DmsServeApplication gpubench --model "$model" --batch 16 --prompt 4096 \
    --decode 32 --policy dms --evict-rate 0.875
