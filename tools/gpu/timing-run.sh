#!/usr/bin/env bash
# The checks after a kernel or backend change, then where a 16 x 32K DMS step's time goes, in one device call
# (about 8 minutes on the H200), from the unpacked bundle with REPO and OUT set and the kernel_test and
# attention_bench binaries at $KT and $AB:
#   kernel_test (every case); the gpu suite (SUITE=0 skips it); attention_bench on lists shaped like the 32K run
#   (tcb against tcbm, the merge in the balanced kernel); 16 x 32K with DMS under step timing, by default and with
#   the merge in the balanced kernel; then once under kernel timing (graphs off, a line per kernel).
# A part is skipped when less than its time is left of BUDGET seconds (default 560), so the call ends inside the
# device tool's limit with the files written so far.
# Files: $OUT/kt.log, $OUT/t/summary.txt, $OUT/t/all.log, $OUT/gpu-lines.txt, $OUT/bench.jsonl, $OUT/bench.log,
# $OUT/ab.jsonl.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/bench-env.sh"
stamp() { echo "=== $(date -u +%H:%M:%S) +${SECONDS}s $*" >> "$OUT/bench.log"; }
fits() { (( SECONDS + $1 < ${BUDGET:-560} )) || { stamp "skipped $2: ${SECONDS}s gone"; return 1; }; }
stamp kernel_test
timeout 120 "$KT" > "$OUT/kt.log" 2>&1
echo "kernel_test rc=$?" >> "$OUT/kt.log"
if [[ ${SUITE:-1} != 0 ]]; then
    stamp suite
    "$here/gpu-suite.sh"
fi
stamp model
ensure_model
stamp attention_bench
timeout 60 "$AB" pages=400 spread=0.74 live=0.72 kernels=tcb,tcbm > "$OUT/ab.jsonl" 2>> "$OUT/bench.log"
run32k() { # label, extra JVM options
    stamp "32k $1"
    JAVA_OPTS="${JAVA_OPTS:-} $2" POLICIES=dms LIMIT=${LIMIT:-150} "$here/bench-32k.sh" > /dev/null
}
fits 80 step && run32k step "-Ddms.cuda.step-timing=true"
fits 80 merge && run32k merge "-Ddms.cuda.step-timing=true -Ddms.cuda.attention-merge-here=true"
fits 100 kernels && run32k kernels "-Ddms.cuda.kernel-timing=true"
fits 80 step2 && run32k step2 "-Ddms.cuda.step-timing=true"
stamp done
