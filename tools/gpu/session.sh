#!/usr/bin/env bash
# One device call's worth of checks and figures (about 9 minutes on the H200), from the unpacked bundle with REPO
# and OUT set: the gpu suite, then the decode figures at 4K (tensor-core attention), 16 x 32K with DMS and without,
# and the service over HTTP with Hugging Face generate. Everything lands in at most 8 files under $OUT (the device
# tool's limit): t/summary.txt, t/all.log, gpu-lines.txt, bench.jsonl, bench.log, serving-gpu.md.
# Skip a part with SUITE=0, ATTENTION=0, LONG=0 or HTTP=0.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/bench-env.sh"
ensure_model
stamp() { echo "=== $(date -u +%H:%M:%S) $*" >> "$OUT/bench.log"; }
if [[ ${SUITE:-1} != 0 ]]; then
    stamp suite
    "$here/gpu-suite.sh"
fi
if [[ ${ATTENTION:-1} != 0 ]]; then
    stamp attention
    TENSOR=true CASES="1:none 16:none 16:dms" "$here/bench-attention.sh" > /dev/null
fi
if [[ ${LONG:-1} != 0 ]]; then
    stamp 32k
    POLICIES="none dms" LIMIT=200 "$here/bench-32k.sh" > /dev/null
fi
if [[ ${HTTP:-1} != 0 ]]; then
    stamp http
    PROMPT=512 "$here/bench-http.sh" > /dev/null
fi
stamp done
