#!/usr/bin/env bash
# One device call (about 100 s where the random checkpoint is made already, about 160 s where it must be made) that
# measures a KV bookkeeping change on the device host's CPU and in the 4K DMS prefill, from the repository root on the device host, with .bundle/dms-gpu-tests.tar.xz (the new code, built by
# tools/gpu/bundle.sh) and .bundle/kvcache-old.tar (the old classes: classes/io/dmsserve/kvcache/*.class, made here by
# `tar -cf .bundle/kvcache-old.tar -C .bundle/dms-gpu-tests classes/io/dmsserve/kvcache` from the old bundle) carried.
# Run: timeout 592 bash tools/gpu/bookkeeping-call.sh (OUT set by the device tool). Writes $OUT/run.log (every part's
# summary): KvBookkeepingBenchmark, old and new alternately, a 4K and a 32K DMS prompt (87.5% flagged) prefilled
# round by round; then the 4K DMS prefill through gpubench, old and new alternately (ab-run.sh in two bundle copies,
# the old one with the old classes laid over the bundle's); then, in the time left, the 16 x 32K DMS decode, old
# and new, since a decode step's commit also pushes the ring.
set -u
. "$(dirname "$0")/call-lib.sh"  # REPO, log, start_call
start_call
nproc >> "$OUT/run.log"
rm -rf /tmp/b/old && cp -al /tmp/b/dms-gpu-tests /tmp/b/old
( cd /tmp/b/old && rm -f classes/io/dmsserve/kvcache/*.class && tar -xf "$REPO/.bundle/kvcache-old.tar" )
cmp -s /tmp/b/dms-gpu-tests/classes/io/dmsserve/kvcache/HeadCache.class /tmp/b/old/classes/io/dmsserve/kvcache/HeadCache.class \
    && echo "WARNING: old HeadCache.class equals the bundle's" >> "$OUT/run.log"
tree() { if [[ $1 == old ]]; then echo /tmp/b/old; else echo /tmp/b/dms-gpu-tests; fi; }  # tree ARM
books() {  # books ARM PROMPT ROUNDS REP
    local dir; dir=$(tree "$1")
    log "bookkeeping $1 prompt $2"
    ( cd "$dir" && timeout 120 ./jre/bin/java -Xmx8g -cp "classes:test-classes:$(ls lib/*.jar | paste -sd:)" \
        io.dmsserve.bench.KvBookkeepingBenchmark --prompt "$2" --prefill-rounds "$3" --rounds 0 --flag-permille 875 ) \
        > "$OUT/books-$1-$2-$4.log" 2>&1
    echo "rc=$?" >> "$OUT/books-$1-$2-$4.log"; tail -4 "$OUT/books-$1-$2-$4.log" >> "$OUT/run.log"
}
for r in 1 2; do
    for arm in old new; do books $arm 4096 30 $r; done
done
for r in 1 2; do
    for arm in old new; do books $arm 32768 12 $r; done
done
ab() {  # ab ARM REP RUN LIMIT [GB_ARGS]
    local dir; dir=$(tree "$1")
    log "ab $1 $2 $3"
    ( cd "$dir" && ARMS="$1=" RUN="$3" PREFILL_POLICY=dms REPS=1 GB_ARGS="${5:-}" OUT="$OUT/ab-$1-${3%%:*}-$2" \
        timeout "$4" ./ab-run.sh ) \
        >> "$OUT/run.log" 2>&1
}
for r in 1 2 3; do
    for arm in old new; do ab $arm $r prefill:4096 100; done
done
if (( SECONDS < 340 )); then  # both arms or neither
    for arm in old new; do ab $arm 1 dms32k 120 "--distinct 4"; done
fi
log done
