#!/usr/bin/env bash
# The service over HTTP on the GPU next to the engine driven directly (the scheduler without HTTP, JSON or
# detokenization): io.dmsserve.bench.ServingBenchmark with dms.backend=cuda on the random Qwen3-8B-shaped checkpoint,
# 1, 8 and 64 concurrent streams, tokens/s and TTFT p50/p99; then Hugging Face generate at batch 1 on the same
# checkpoint for scale. From the unpacked bundle with REPO and OUT set. Writes $OUT/serving-gpu.md (the benchmark's
# report), one JSON line per concurrency level and the HF line in $OUT/bench.jsonl, everything else in
# $OUT/bench.log. About 100 s on the H200 host: 40 s for the service (start, weight upload, warm-up, three
# repetitions per level), 30 s for HF, and 30 s the first time for the checkpoint.
# Knobs: CONCURRENCY (1,8,64), TOKENS (64 new tokens per stream), REPETITIONS (3), MIN_TOKENS (256: small levels
# repeat their wave of streams until a run has that many tokens), PROMPT (0: one-sentence prompts of ~21 tokens,
# else about that many prompt tokens; 512 ran the device out of memory before 402f68b, see tools/gpu/README.md),
# KV_FRACTION (0.5 of the device memory the weights leave), POLICY (auto: dms on this checkpoint, or none),
# LIMIT (170 s for the service), HF (1; 0 skips it), HF_LIMIT (150 s).
set -uo pipefail
. "$(dirname "$0")/bench-env.sh"  # model, cp, ensure_model
mkdir -p "$OUT"
ensure_model
log="$OUT/bench.log"
# HTTP_ARGS: more properties for the server, e.g. "--dms.scheduler.overlap=false".
read -ra http_args <<< "${HTTP_ARGS:-}"

echo "=== serving over HTTP and direct, cuda, concurrency ${CONCURRENCY:-1,8,64}" >> "$log"
start=$(date +%s)
# The benchmark is a test class: test-classes joins the bundle's classpath. Past LIMIT the JVM gets SIGQUIT (every
# thread's stack into the log), then is killed 10 s later.
timeout -s QUIT -k 10 "${LIMIT:-170}" ./jre/bin/java --add-modules jdk.incubator.vector,jdk.incubator.foreign --enable-native-access=ALL-UNNAMED -Xmx8g \
    -cp "test-classes:$cp" io.dmsserve.bench.ServingBenchmark \
    --concurrency="${CONCURRENCY:-1,8,64}" --tokens="${TOKENS:-64}" --repetitions="${REPETITIONS:-3}" \
    --min-tokens="${MIN_TOKENS:-256}" --prompt-tokens="${PROMPT:-0}" \
    --report="$OUT/serving-gpu.md" --jsonl="$OUT/bench.jsonl" \
    --dms.model.path="$model" --dms.backend=cuda --dms.kv-cache.fraction="${KV_FRACTION:-0.5}" \
    --dms.model.policy="${POLICY:-auto}" --logging.level.io.dmsserve.config=INFO "${http_args[@]}" \
    2>>"$log" | tee -a "$log" | grep '^concurrency'
echo "=== serving rc=${PIPESTATUS[0]} $(( $(date +%s) - start ))s" | tee -a "$log"

if [[ ${HF:-1} != 0 ]]; then
    echo "=== hf generate batch 1, 64 tokens" >> "$log"
    start=$(date +%s)
    timeout "${HF_LIMIT:-150}" python3 "$REPO/tools/gpu/dense_peer.py" hf --model "$model" --steps 64 2>>"$log" \
        | tee -a "$log" | grep '^{' | tee -a "$OUT/bench.jsonl"
    echo "=== hf rc=${PIPESTATUS[0]} $(( $(date +%s) - start ))s" | tee -a "$log"
fi
