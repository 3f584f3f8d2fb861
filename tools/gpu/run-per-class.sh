#!/usr/bin/env bash
# Runs gpu-tagged test classes one JVM each, each under its own time limit, so that one hanging class cannot hide
# the others' results: ./run-per-class.sh OUT SECONDS CLASS...   (run from the unpacked bundle).
# A class past its limit gets SIGQUIT first (the JVM prints every thread's stack), then is killed.
# OUT/summary.txt: one line per class; OUT/all.log: everything each JVM printed.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:?usage: run-per-class.sh OUT SECONDS CLASS...}"
limit="${2:?seconds}"
shift 2
mkdir -p "$out"
out="$(cd "$out" && pwd)"
for class in "$@"; do
    start=$(date +%s)
    timeout -s QUIT -k 10 "$limit" "$here/run-gpu-tests.sh" "/tmp/reports/$class" --select-class "$class" \
        > "/tmp/reports-$class.log" 2>&1
    rc=$?
    took=$(( $(date +%s) - start ))
    counts=$(grep -E "tests (successful|failed|aborted)" "/tmp/reports-$class.log" | tr -s ' ' | paste -sd' ' -)
    echo "$class rc=$rc ${took}s $counts" | tee -a "$out/summary.txt"
    { echo "===== $class rc=$rc ${took}s"; cat "/tmp/reports-$class.log"; } >> "$out/all.log"
done
