#!/usr/bin/env bash
# Nsight Compute's duration of every kernel of a few decode steps in the middle of a gpubench run (from the unpacked
# bundle; REPO and OUT set): BATCH (default 1) sequences of PROMPT (default 4096) tokens, POLICY none (default) or dms
# (EVICT, default 0.875, the rate the threshold is set for); KERNELS, a regex, profiles only the kernels it matches
# (SKIP and COUNT then count those: e.g. KERNELS='attention_decode|attention_merge' at 16 x 32K). One metric
# (gpu__time_duration.sum), so each launch is measured once; graph nodes count as launches. Writes
# $OUT/ncu-step.csv and prints the per-kernel sums of the launches measured (tools/gpu/ncu_sums.py).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/bench-env.sh"
ensure_model
filter=()
[[ -n ${KERNELS:-} ]] && filter=(-k "regex:$KERNELS")
extra=()
[[ ${POLICY:-none} == dms ]] && extra=(--evict-rate "${EVICT:-0.875}")
timeout "${LIMIT:-240}" ncu --clock-control none --target-processes all "${filter[@]}" --launch-skip "${SKIP:-30000}" \
    --launch-count "${COUNT:-800}" --metrics gpu__time_duration.sum --csv \
    "${java[@]}" io.dmsserve.DmsServeApplication gpubench --model "$model" --batch "${BATCH:-1}" \
    --prompt "${PROMPT:-4096}" --decode "${DECODE:-64}" --policy "${POLICY:-none}" "${extra[@]}" \
    > "$OUT/ncu-step.csv" 2> "$OUT/ncu-step.err"
echo "ncu rc=$?" >> "$OUT/bench.log"
python3 "$REPO/tools/gpu/ncu_sums.py" "$OUT/ncu-step.csv" | tee -a "$OUT/bench.log"
