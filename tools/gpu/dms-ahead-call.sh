#!/usr/bin/env bash
# One device call that checks DMS prompt chunks submitted ahead (31649ed) whole (about 590 s), from the repository
# root on the device host, with .bundle/dms-gpu-tests.tar.xz carried, built by tools/gpu/bundle.sh at 31649ed or later
# (the bundle of 32cb8f7 lacks the change and CudaOverlapTest's DMS case). Run: timeout 592 bash
# tools/gpu/dms-ahead-call.sh (OUT set by the device tool). Writes $OUT/run.log (every part's summary), s1/ and s2/
# (gpu-suite.sh: the classes the change touches first, then the rest in the time left), http-ahead/ and
# http-serial/ (bench-http.sh on the DMS checkpoint, 2,045-token prompts in the server's chunks of 256, 1 and 8
# streams, with the chunks ahead and with the scheduler's steps one at a time).
set -u
. "$(dirname "$0")/call-lib.sh"  # REPO, log, start_call, suite
start_call
first="CudaOverlapTest CudaServiceIT CudaGoldenTest"
suite s1 200 "$first"
for arm in ahead serial; do
    log "http $arm"
    args=""; [[ $arm == serial ]] && args="--dms.scheduler.overlap=false"
    HF=0 PROMPT=2048 CONCURRENCY=1,8 HTTP_ARGS="$args" OUT="$OUT/http-$arm" LIMIT=120 \
        timeout 130 ./bench-http.sh >> "$OUT/run.log" 2>&1
    echo "http $arm rc=$?" >> "$OUT/run.log"
done
(( SECONDS < 500 )) && suite s2 $((585 - SECONDS)) "" "$first"
log done
