#!/usr/bin/env bash
# The 4K DMS prefill's host-side outliers (docs/benchmarks.md, twenty-seventh to twenty-ninth passes: about one fresh
# JVM in five spent 70-100 ms more in the engine in the timed prompt's first chunk, until ea9597b removed the C2 traps
# in HeadCache.reserve this script's recordings showed; 0 in 30 since): RUNS fresh gpubench JVMs
# (default 10), each one 4K prompt in chunks of 2,048 with DMS at --evict-rate 0.875 under Java Flight Recorder
# (profile settings: the engine thread's method samples, compilations, deoptimizations, safepoints, collections), from
# the unpacked bundle with REPO and OUT set. Keeps $OUT/outlier-N.jfr for every run whose prefill_engine_ms exceeds
# OVER (default 45) and $OUT/normal-N.jfr for the first run that does not; every run's line in $OUT/bench.jsonl. Each
# line's prefill_first_sequence_chunk_uptime_ms gives the JVM uptime at the start of the slow chunk, to find in the
# recording (`jfr print --events jdk.ExecutionSample,jdk.Compilation,jdk.Deoptimization,jdk.SafepointBegin
# outlier-N.jfr` here; its events carry wall-clock times, and jdk.JVMInformation the JVM's start). BUDGET seconds in
# all (default 540).
set -uo pipefail
. "$(dirname "$0")/bench-env.sh"
ensure_model
kept_normal=0
for ((r = 1; r <= ${RUNS:-10}; r++)); do
    fits 40 "run $r" || break
    stamp "prefill outliers: run $r"
    jfr="$OUT/run-$r.jfr"
    timeout "${LIMIT:-150}" "${java[@]}" -XX:StartFlightRecording=filename="$jfr",settings=profile \
        io.dmsserve.DmsServeApplication gpubench --model "$model" --batch 1 --prompt 4096 --decode 2 --policy dms \
        --evict-rate 0.875 "${bench_args[@]}" > "$OUT/run-$r.out" 2>>"$OUT/bench.log"
    # The application's log shares stdout with gpubench's lines: the lines, tagged with the run, to bench.jsonl; the
    # log to bench.log.
    grep '^{' "$OUT/run-$r.out" | sed "s/^{/{\"run\":$r,/" > "$OUT/run-$r.jsonl"
    grep -v '^{' "$OUT/run-$r.out" >> "$OUT/bench.log"
    rm -f "$OUT/run-$r.out"
    cat "$OUT/run-$r.jsonl" >> "$OUT/bench.jsonl"
    engine=$(python3 -c '
import json, sys
for line in open(sys.argv[1]):
    d = json.loads(line)
    if d.get("what") == "run":
        print(int(d["prefill_engine_ms"]))' "$OUT/run-$r.jsonl" 2>/dev/null)
    rm -f "$OUT/run-$r.jsonl"
    echo "run $r: prefill_engine_ms ${engine:-none}" | tee -a "$OUT/bench.log"
    if [[ -n $engine && $engine -gt ${OVER:-45} ]]; then
        mv "$jfr" "$OUT/outlier-$r.jfr"
    elif [[ -n $engine && $kept_normal == 0 ]]; then
        mv "$jfr" "$OUT/normal-$r.jfr"
        kept_normal=1
    else
        rm -f "$jfr"
    fi
done
