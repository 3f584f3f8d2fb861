#!/usr/bin/env bash
# Every gpu-tagged test class, one JVM each under a time limit (run-per-class.sh), from the unpacked bundle with
# REPO and OUT set: the classes are the repository's test sources that carry @Tag("gpu") or extend GpuTest, less the
# abstract base and the benchmark-tagged reports (GemvBandwidthTest, KernelThroughputTest). About 60 s on the H200.
# Writes $OUT/t/summary.txt and $OUT/t/all.log (run-per-class.sh), and the tests' "[gpu]" report lines into
# $OUT/gpu-lines.txt. Exits 1 when a class failed. CLASSES (simple names) runs only those.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
mapfile -t classes < <(grep -rlE '@Tag\("gpu"\)|extends GpuTest' "$REPO/src/test/java" \
    | xargs grep -LE 'Tag\("benchmark"\)|abstract class' \
    | sed "s|$REPO/src/test/java/||; s|\.java$||; s|/|.|g" | sort)
# CLASSES: only these (simple names, space-separated), e.g. CLASSES="PdlLaunchTest CudaGoldenTest".
if [[ -n ${CLASSES:-} ]]; then
    mapfile -t classes < <(printf '%s\n' "${classes[@]}" | grep -E "\.($(echo "$CLASSES" | tr ' ' '|'))$")
fi
if [[ -n ${SKIP:-} ]]; then
    mapfile -t classes < <(printf '%s\n' "${classes[@]}" | grep -vE "\.($(echo "$SKIP" | tr ' ' '|'))$")
fi
echo "gpu classes: ${classes[*]}" >> "$OUT/bench.log"
"$here/run-per-class.sh" "$OUT/t" "${LIMIT:-170}" "${classes[@]}"
grep -h '^\[gpu\]' "$OUT/t/all.log" > "$OUT/gpu-lines.txt"
! grep -qv ' rc=0 ' "$OUT/t/summary.txt"
