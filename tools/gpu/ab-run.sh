#!/usr/bin/env bash
# Same-run A/B of JVM option sets (and, optionally, fatbins), the arms interleaved so that a machine's drift falls on
# every arm alike: one tools/gpu/variants-run.sh invocation per arm and repetition (no kernel_test, no suite), each in
# its own folder under $OUT/ab, from the unpacked bundle with REPO and OUT set. Machines differ by up to 5% on the same
# code (docs/benchmarks.md, twentieth pass): compare arms within one call only.
#   ARMS    "name=JVM options;name=JVM options;..." (an arm's options may be empty: "default=")
#   RUN     b1 (batch 1 at 4K, no eviction; the default), dms32k (16 x 32K DMS; GB_ARGS="--distinct 4" prefills 4),
#           mid:B:PROMPT (batch B, PROMPT-token prompts, DMS, 64 decode steps), or prefill:PROMPT (one PROMPT-token
#           prefill, PREFILL_POLICY none or dms, two decode steps)
#   REPS    repetitions of the arm sequence (default 2)
#   FATBINS "name=path;..." an arm's fatbin laid over classes/native for its runs (the bundle's own for the others)
# Writes $OUT/ab.jsonl (gpubench's lines, each behind "arm repetition "), $OUT/ab.log (the runs' logs) and prints one
# line a run: arm, repetition, batch, prompt, tokens/s as measured, steady, ms a step, prefill tokens/s.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
: "${REPO:?REPO}" "${OUT:?OUT}" "${ARMS:?ARMS=\"name=options;...\"}"
mkdir -p "$OUT/ab"
fatbin=classes/native/dms-kernels.fatbin
cp "$fatbin" "$OUT/ab/bundle.fatbin"
declare -A arm_fatbin=()
IFS=';' read -ra fb <<< "${FATBINS:-}"
for f in "${fb[@]}"; do
    [[ -n $f ]] && arm_fatbin[${f%%=*}]=${f#*=}
done
IFS=';' read -ra arms <<< "$ARMS"
run=${RUN:-b1}
case $run in
    b1 | dms32k) extra=(EXTRA="$run") ;;
    mid:*:*) IFS=: read -r _ batch prompt <<< "$run"; extra=(EXTRA=mid MID_PROMPT="$prompt") ;;
    prefill:*) extra=(EXTRA=prefill PREFILL_PROMPT="${run#prefill:}") ;;
    *) echo "RUN must be b1, dms32k, mid:B:PROMPT or prefill:PROMPT, got '$run'" >&2; exit 2 ;;
esac
: > "$OUT/ab.jsonl"
: > "$OUT/ab.log"
for ((r = 1; r <= ${REPS:-2}; r++)); do
    for a in "${arms[@]}"; do
        name=${a%%=*}
        opts=${a#*=}
        dir="$OUT/ab/$name.$r"
        mkdir -p "$dir"
        cp "${arm_fatbin[$name]:-$OUT/ab/bundle.fatbin}" "$fatbin"
        if [[ $run == mid:* ]]; then
            env OUT="$dir" KT=/bin/true SUITE=0 MAIN=0 BUDGET="${BUDGET:-200}" "${extra[@]}" MID="$batch:$opts" \
                "$here/variants-run.sh" > /dev/null 2>&1
        else
            env OUT="$dir" KT=/bin/true SUITE=0 MAIN=0 BUDGET="${BUDGET:-200}" "${extra[@]}" VARIANTS="$opts" \
                "$here/variants-run.sh" > /dev/null 2>&1
        fi
        grep '^{' "$dir/bench.jsonl" 2>/dev/null | sed "s/^/$name $r /" >> "$OUT/ab.jsonl"
        { echo "## $name $r: $opts"; cat "$dir/bench.log" 2>/dev/null; } >> "$OUT/ab.log"
    done
done
cp "$OUT/ab/bundle.fatbin" "$fatbin"
python3 - "$OUT/ab.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    name, rep, js = line.split(' ', 2)
    d = json.loads(js)
    if d.get('what') == 'run':
        print(name, rep, d['batch'], d['prompt'], d['decode_tokens_per_s'], d['steady_tokens_per_s'], d['ms_per_step'],
              d.get('prefill_tokens_per_s'))
PY
