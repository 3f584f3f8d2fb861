#!/usr/bin/env bash
# An A/B/C... of JVM option sets in one device call, from the unpacked bundle with REPO and OUT set and the kernel_test
# binary at $KT: every kernel_test case; the gpu suite (CLASSES limits it, SUITE=0 skips it); then for each variant
# of VARIANTS (option sets separated by ';', e.g. VARIANTS="-Ddms.cuda.pdl=false;-Ddms.cuda.pdl=true"): 16 x 32K with
# DMS (--evict-rate 0.875) and batch 1 at 4K under step timing; then, under the first variant's options, the runs named
# in EXTRA: "none32k", 16 x 32K without eviction (our own DMS-off figure); "dms32k", DMS again; "b1", batch 1 at 4K
# again; "largest", 32K decode at each policy's largest batch, 16 sequences prefilled and the rest their forks
# (gpubench --distinct 16): DMS_MAX sequences with DMS (by default one less than the 16-sequence DMS run's held pages
# leave room for) and OFF_MAX (24; 0 skips it) without; "chunk256", 16 x 32K DMS prefilled in chunks of 256, then
# its largest batch so; "distinct4", 16 x 32K DMS with 4 prefilled and 12 forks (the forks' control against the variant's own 16 x 32K DMS); "repack"
# and "norepack", 16 x 32K DMS with repacking on and off (gpubench --repack; dms.kv-cache.repack is on by default). A part is
# skipped when less than its time is left of BUDGET seconds (default 540). Files as timing-run.sh; each gpubench line gets
# "variant" (its index, from 0). DECODE (default 32) sets the decode steps of the 16 x 32K and largest-batch runs: their
# first step holds one-time costs (its graph's capture, no step to overlap with) that weigh 1/DECODE of the figure.
# MAIN=0 skips the variants' own 16 x 32K and batch-1 runs (the EXTRA runs take the first variant's options).
# EXTRA "mid": decode batches between 16 and 173 with DMS, one run for each entry "BATCH:OPTIONS" of MID (';'-separated,
# default "32:;64:"): MID_PROMPT-token prompts (default 2048), 64 decode steps; its gpubench lines get "variant" m<j>,
# j the entry's index. EVICT (default 0.875) is the share of decisions the DMS runs' threshold flags (gpubench
# --evict-rate); the share evicted falls short of it by the window's tokens (0.8595 at 32K with 0.875). EXTRA "prefill":
# one sequence of PREFILL_PROMPT tokens (default 32768) under PREFILL_POLICY (none, the default, or dms), two decode
# steps: its prefill figure.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/bench-env.sh"
prepare
# run variant batch prompt decode policy jvm-options...
run() {
    local variant=$1 batch=$2 prompt=$3 decode=$4 policy=$5
    shift 5
    local extra=()
    [[ $policy == dms ]] && extra=(--evict-rate "${EVICT:-0.875}")
    stamp "$variant batch=$batch prompt=$prompt policy=$policy $*"
    timeout "${LIMIT:-150}" "${java[@]}" -Ddms.cuda.step-timing=true "$@" io.dmsserve.DmsServeApplication gpubench \
        --model "$model" --batch "$batch" --prompt "$prompt" --decode "$decode" --policy "$policy" "${extra[@]}" "${gb[@]}" \
        "${gb_all[@]}" \
        2>>"$OUT/bench.log" | sed "s/^{/{\"variant\":\"$variant\",/" >> "$OUT/bench.jsonl"
}
gb=()  # extra gpubench options of a run (--distinct N, --chunk N)
read -ra gb_all <<< "${GB_ARGS:-}"  # GB_ARGS: gpubench options for every run, e.g. "--repack true"
# fit CHUNK: one less than the sequences_fit of the last 16-sequence DMS run at that prefill chunk (0: none ran), the
# largest 32K DMS batch with room for its decode steps.
fit() {
    python3 - "$OUT/bench.jsonl" "$1" <<'PY'
import json, math, sys
best = None
for line in open(sys.argv[1]):
    if '"what":"run"' in line:
        d = json.loads(line[line.index('{'):])
        if d.get('batch') == 16 and str(d.get('policy', '')).startswith('dms') and d.get('chunk') == int(sys.argv[2]):
            best = d
print(math.floor(best['sequences_fit']) - 1 if best and best.get('sequences_fit') else 0)
PY
}
IFS=';' read -ra variants <<< "${VARIANTS:-}"
[[ ${#variants[@]} -gt 0 ]] || variants=("")
for i in "${!variants[@]}"; do
    [[ ${MAIN:-1} != 0 ]] || break  # MAIN=0: only the EXTRA runs
    read -ra o <<< "${variants[$i]}"
    fits 75 "variant $i 32k" && run "$i" 16 32768 "${DECODE:-32}" dms "${o[@]}"
    fits 40 "variant $i b1" && run "$i" 1 4096 64 none "${o[@]}"
done
read -ra o <<< "${variants[0]}"
for e in ${EXTRA:-}; do
    case $e in
        dms32k) fits 75 "extra $e" && run 0 16 32768 "${DECODE:-32}" dms "${o[@]}" ;;
        b1) fits 40 "extra $e" && run 0 1 4096 64 none "${o[@]}" ;;
        prefill) fits 60 "extra $e" && run 0 1 "${PREFILL_PROMPT:-32768}" 2 "${PREFILL_POLICY:-none}" "${o[@]}" ;;
        none32k) fits 110 "extra $e" && run 0 16 32768 "${DECODE:-32}" none "${o[@]}" ;;
        largest)
            gb=(--distinct 16)
            n=${DMS_MAX:-$(fit 2048)}
            (( n > 0 )) && fits 130 "extra $e dms" && LIMIT=200 run 0 "$n" 32768 "${DECODE:-32}" dms "${o[@]}"
            (( ${OFF_MAX:-24} > 0 )) && fits 100 "extra $e none" && LIMIT=200 run 0 "${OFF_MAX:-24}" 32768 "${DECODE:-32}" none "${o[@]}"
            gb=() ;;
        chunk256)
            gb=(--chunk 256)
            fits 100 "extra $e 16" && LIMIT=200 run 0 16 32768 "${DECODE:-32}" dms "${o[@]}"
            gb=(--distinct 16 --chunk 256)
            n=$(fit 256)
            (( n > 0 )) && fits 140 "extra $e largest" && LIMIT=220 run 0 "$n" 32768 "${DECODE:-32}" dms "${o[@]}"
            gb=() ;;
        repack|norepack)
            gb=(--repack "$([[ $e == repack ]] && echo true || echo false)")
            fits 75 "extra $e" && run 0 16 32768 "${DECODE:-32}" dms "${o[@]}"
            gb=() ;;
        mid)
            IFS=';' read -ra mids <<< "${MID:-32:;64:}"
            for j in "${!mids[@]}"; do
                read -ra mo <<< "${mids[$j]#*:}"
                fits 40 "extra mid ${mids[$j]}" && run "m$j" "${mids[$j]%%:*}" "${MID_PROMPT:-2048}" 64 dms "${mo[@]}"
            done ;;
        distinct4)
            gb=(--distinct 4)
            fits 60 "extra $e" && run 0 16 32768 "${DECODE:-32}" dms "${o[@]}"
            gb=() ;;
    esac
done
stamp done
