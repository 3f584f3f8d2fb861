#!/usr/bin/env bash
# One device call that checks a chunk attention / scheduler change whole (about 590 s), from the repository root on the
# device host, with .bundle/dms-gpu-tests.tar.xz (tools/gpu/bundle.sh), .bundle/bins1.tar.xz (kt: kernel_test; cb:
# chunk_bench of HEAD; cb_old: today's chunk_bench.cu over the old attention.cu) and .bundle/bins2.tar.xz
# (old.fatbin: the old commit's fatbin) carried. Build them here (no -lineinfo: with it the two chunk_bench binaries
# alone take 7.8 MB after xz and the call passes the 64 MiB it carries; without, all three take 1.5 MB):
#   nvcc -O2 -std=c++17 -gencode=arch=compute_90a,code=sm_90a -o .bundle/kt native/test/kernel_test.cu
#   nvcc -O3 -std=c++17 -gencode=arch=compute_90a,code=sm_90a -o .bundle/cb native/bench/chunk_bench.cu
#   (old tree as in chunk-check.sh) nvcc ... -o .bundle/cb_old native/bench/chunk_bench.cu
#   (git archive OLD native) nvcc -fatbin -O3 -std=c++17 -gencode=arch=compute_90a,code=sm_90a -o .bundle/old.fatbin native/all.cu
#   (cd .bundle && tar -cf - kt cb cb_old | xz -9e > bins1.tar.xz && tar -cf - old.fatbin | xz -9e > bins2.tar.xz)
# Run: timeout 592 bash tools/gpu/verify-call.sh (OUT set by the device tool). Writes $OUT/run.log (every part's
# summary), kt.log, cc/ (chunk-check.sh), s1/ and s2/ (gpu-suite.sh: the classes a chunk or scheduler change touches
# first, the rest in the time left), dense/ (ab-run.sh: the 4K dense prefill, old fatbin / chunks one at a time / HEAD).
set -u
. "$(dirname "$0")/call-lib.sh"  # REPO, log, start_call, suite
mkdir -p /tmp/bin && tar -xJf .bundle/bins1.tar.xz -C /tmp/bin && tar -xJf .bundle/bins2.tar.xz -C /tmp/bin
start_call
log kernel_test
timeout 150 /tmp/bin/kt attention_chunk attention_chunk_bf16 qknorm_rope qknorm_rope_kv qknorm_rope_dims > "$OUT/kt.log" 2>&1
echo "kt rc=$?" >> "$OUT/kt.log"; tail -5 "$OUT/kt.log" | tee -a "$OUT/run.log"
log chunk-check
PEER=0 CB=/tmp/bin/cb CB_OLD=/tmp/bin/cb_old OPTS=19,31,51 MORE=95,159,223,211,1031,1095 OUT="$OUT/cc" \
    timeout 150 ./chunk-check.sh >> "$OUT/run.log" 2>&1; echo "chunk-check rc=$?" >> "$OUT/run.log"
first="CudaOverlapTest AttentionKernelTest QkNormRopeKernelTest CudaServiceIT CudaGoldenTest"
suite s1 240 "$first"
log dense
DENSE=1 ARMS="old=;serial=-Ddms.gpubench.overlap=false;new=" FATBINS="old=/tmp/bin/old.fatbin" RUN=prefill:4096 \
    PREFILL_POLICY=none REPS=2 OUT="$OUT/dense" timeout $((SECONDS < 440 ? 500 - SECONDS : 60)) ./ab-run.sh \
    >> "$OUT/run.log" 2>&1
rm -f "$OUT"/dense/ab/*.fatbin
(( SECONDS < 540 )) && suite s2 $((585 - SECONDS)) "" "$first"
log done
