# Sourced by the one-call scripts (verify-call.sh, dms-ahead-call.sh, bookkeeping-call.sh) from the repository root on
# the device host, OUT set by the device tool: REPO, the call's clock, and three functions.
#   log TEXT...                      a timestamped line on stdout and in $OUT/run.log
#   start_call                       logs the GPU, unpacks .bundle/dms-gpu-tests.tar.xz into /tmp/b, copies
#                                    tools/gpu's scripts over the bundle's, and changes into it
#   suite DIR SECONDS CLASSES [SKIP] gpu-suite.sh into $OUT/DIR (CLASSES first; "" for every class but SKIP) within
#                                    SECONDS, its summary appended to $OUT/run.log
export REPO=$PWD
SECONDS=0
log() { echo "=== $(date -u +%H:%M:%S) +${SECONDS}s $*" | tee -a "$OUT/run.log"; }
start_call() {
    log start; nvidia-smi --query-gpu=name,clocks.max.sm,driver_version --format=csv >> "$OUT/run.log"
    mkdir -p /tmp/b && tar -xJf "$REPO/.bundle/dms-gpu-tests.tar.xz" -C /tmp/b
    cd /tmp/b/dms-gpu-tests && cp "$REPO"/tools/gpu/*.sh "$REPO"/tools/gpu/*.py .
}
suite() {
    log "suite $1"; mkdir -p "$OUT/$1"
    CLASSES="$3" SKIP="${4:-}" OUT="$OUT/$1" LIMIT=170 timeout "$2" ./gpu-suite.sh > /dev/null 2>&1
    echo "suite $1 rc=$?" >> "$OUT/run.log"
    cat "$OUT/$1/t/summary.txt" >> "$OUT/run.log" 2>/dev/null
    gzip -f "$OUT/$1/t/all.log" 2>/dev/null
}
