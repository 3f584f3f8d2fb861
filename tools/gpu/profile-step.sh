#!/usr/bin/env bash
# Nsight Compute's duration of every kernel of a few decode steps in the middle of a gpubench run (from the unpacked
# bundle; REPO and OUT set): BATCH (default 1) sequences of PROMPT (default 4096) tokens, POLICY none (default) or dms
# (EVICT, default 0.875, the rate the threshold is set for); KERNELS, a regex, profiles only the kernels it matches
# (SKIP and COUNT then count those); STEPS=N profiles only the launches of the last N timed decode steps (e.g. at
# 16 x 32K: POLICY=dms BATCH=16 PROMPT=32768 DECODE=12 STEPS=3 COUNT=2000; without it, SKIP must pass the warm-up's
# 48 decode steps and the prefill: a kernel filter with SKIP=288 landed in the warm-up, docs/benchmarks.md). One metric
# (gpu__time_duration.sum; METRICS, a comma list with it, measures more at the cost of replays; SECTIONS, a space
# list of Nsight sections, replaces the metrics), so each launch is measured once; graph nodes count as launches.
# On the H200 (2026-11-30) ncu profiled nothing under STEPS with a kernel filter, or with more than the one metric
# (graphs on or off): take sections or metrics without STEPS, with KERNELS, JAVA_OPTS=-Ddms.cuda.graphs=false and
# SKIP counting the filtered launches of the calibration, the warm-up's 48 decode steps and the timed run (e.g. the
# decode attention of the third timed step: SKIP=1800 COUNT=2); every launch is then slowed, so the 16 x 32K prefill
# took about 4 minutes. Writes $OUT/$NAME.csv (NAME default ncu-step) and prints the per-kernel sums of the launches
# measured (tools/gpu/ncu_sums.py).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/bench-env.sh"
ensure_model
filter=()
[[ -n ${KERNELS:-} ]] && filter=(-k "regex:$KERNELS")
extra=()
[[ ${POLICY:-none} == dms ]] && extra=(--evict-rate "${EVICT:-0.875}")
range=(--launch-skip "${SKIP:-30000}")
if [[ -n ${STEPS:-} ]]; then
    # Only the launches of the last STEPS timed decode steps (gpubench --profile-steps: cuProfilerStart / Stop), SKIP
    # counted from there (default 0): no guessing how many launches the prefill and the warm-up made.
    range=(--profile-from-start off --launch-skip "${SKIP:-0}")
    extra+=(--profile-steps "$STEPS")
fi
what=(--metrics "${METRICS:-gpu__time_duration.sum}")
if [[ -n ${SECTIONS:-} ]]; then
    what=()
    for section in $SECTIONS; do
        what+=(--section "$section")
    done
fi
timeout "${LIMIT:-240}" ncu --clock-control none --target-processes all "${filter[@]}" "${range[@]}" \
    --launch-count "${COUNT:-800}" "${what[@]}" --csv \
    "${java[@]}" io.dmsserve.DmsServeApplication gpubench --model "$model" --batch "${BATCH:-1}" \
    --prompt "${PROMPT:-4096}" --decode "${DECODE:-64}" --policy "${POLICY:-none}" "${extra[@]}" \
    > "$OUT/${NAME:-ncu-step}.csv" 2> "$OUT/${NAME:-ncu-step}.err"
echo "ncu rc=$?" >> "$OUT/bench.log"
python3 "$REPO/tools/gpu/ncu_sums.py" "$OUT/${NAME:-ncu-step}.csv" | tee -a "$OUT/bench.log"
