#!/usr/bin/env bash
# Nsight Compute's duration of every kernel of a few decode steps in the middle of a gpubench run (from the unpacked
# bundle; REPO and OUT set): BATCH (default 1) sequences of PROMPT (default 4096) tokens, no eviction. One metric
# (gpu__time_duration.sum), so each launch is measured once; graph nodes count as launches. Writes
# $OUT/ncu-step.csv and prints the per-kernel sums of the launches measured (tools/gpu/ncu_sums.py).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/bench-env.sh"
ensure_model
timeout "${LIMIT:-240}" ncu --clock-control none --target-processes all --launch-skip "${SKIP:-30000}" \
    --launch-count "${COUNT:-800}" --metrics gpu__time_duration.sum --csv \
    "${java[@]}" io.dmsserve.DmsServeApplication gpubench --model "$model" --batch "${BATCH:-1}" \
    --prompt "${PROMPT:-4096}" --decode "${DECODE:-64}" --policy none > "$OUT/ncu-step.csv" 2> "$OUT/ncu-step.err"
echo "ncu rc=$?" >> "$OUT/bench.log"
python3 "$REPO/tools/gpu/ncu_sums.py" "$OUT/ncu-step.csv" | tee -a "$OUT/bench.log"
