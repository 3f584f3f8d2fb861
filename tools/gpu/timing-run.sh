#!/usr/bin/env bash
# The checks after a kernel or backend change, then an A/B of one JVM option and where a step's time goes, in one
# device call (about 8 minutes on the H200), from the unpacked bundle with REPO and OUT set and the kernel_test binary at
# $KT (and attention_bench at $AB, optional):
#   kernel_test (every case); the gpu suite (SUITE=0 skips it); attention_bench on lists shaped like a 16 x 32K DMS
#   step (ATTENTION_BENCH="pages=400 spread=0.74 live=0.72 kernels=tc,tcb", when $AB is set); then for each of A and
#   B (JVM options, default A="" and B=""; B empty skips it): 16 x 32K with DMS under step timing and batch 1 at 4K;
#   then under A's options the runs named in EXTRA (default none: "dms32k" 16 x 32K with DMS again, "none32k" 16 x
#   32K without eviction, our own DMS-off figure); then, under kernel timing (graphs off, a line per kernel), the runs
#   named in KERNELS (default "b1": batch 1 at 4K; "32k" adds 16 x 32K DMS; "" none).
# A part is skipped when less than its time is left of BUDGET seconds (default 540), so the call ends inside the
# device tool's limit with the files written so far.
# Files: $OUT/kt.log, $OUT/t/summary.txt, $OUT/t/all.log, $OUT/gpu-lines.txt, $OUT/bench.jsonl, $OUT/bench.log,
# $OUT/ab.jsonl; each gpubench line gets "variant" (A, B or kernels).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/bench-env.sh"
prepare
if [[ -n ${AB:-} ]]; then
    stamp attention_bench
    timeout 60 "$AB" ${ATTENTION_BENCH:-pages=400 spread=0.74 live=0.72 kernels=tc,tcb} > "$OUT/ab.jsonl" \
        2>> "$OUT/bench.log"
fi
# run variant batch prompt decode policy evict jvm-options...
run() {
    local variant=$1 batch=$2 prompt=$3 decode=$4 policy=$5 evict=$6
    shift 6
    local extra=()
    [[ $policy == dms ]] && extra=(--evict-rate "$evict")
    stamp "$variant batch=$batch prompt=$prompt policy=$policy $*"
    timeout "${LIMIT:-150}" "${java[@]}" "$@" io.dmsserve.DmsServeApplication gpubench --model "$model" \
        --batch "$batch" --prompt "$prompt" --decode "$decode" --policy "$policy" "${extra[@]}" 2>>"$OUT/bench.log" \
        | sed "s/^{/{\"variant\":\"$variant\",/" >> "$OUT/bench.jsonl"
}
for variant in A B; do
    opts=${!variant:-}
    [[ $variant == B && -z $opts ]] && continue
    read -ra o <<< "$opts"
    fits 75 "$variant 32k" && run "$variant" 16 32768 32 dms 0.875 -Ddms.cuda.step-timing=true "${o[@]}"
    fits 40 "$variant b1" && run "$variant" 1 4096 64 none 0 -Ddms.cuda.step-timing=true "${o[@]}"
done
read -ra o <<< "${A:-}"
for e in ${EXTRA:-}; do
    case $e in
        dms32k) fits 75 "extra $e" && run A 16 32768 32 dms 0.875 -Ddms.cuda.step-timing=true "${o[@]}" ;;
        none32k) fits 110 "extra $e" && run A 16 32768 32 none 0 -Ddms.cuda.step-timing=true "${o[@]}" ;;
    esac
done
for k in ${KERNELS-b1}; do
    case $k in
        b1) fits 40 "kernels b1" && run kernels 1 4096 64 none 0 -Ddms.cuda.kernel-timing=true "${o[@]}" ;;
        32k) fits 80 "kernels 32k" && run kernels 16 32768 32 dms 0.875 -Ddms.cuda.kernel-timing=true "${o[@]}" ;;
    esac
done
stamp done
