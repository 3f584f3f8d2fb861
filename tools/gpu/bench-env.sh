# Sourced by the benchmark and profile scripts (run from the unpacked bundle, REPO and OUT set): the random Qwen3-8B
# checkpoint's place, the bundle's classpath and Java command, and a function that makes the checkpoint once.
model=/tmp/qwen3-8b-random
cp="classes:$(ls lib/*.jar | paste -sd:)"
# JAVA_OPTS: extra JVM options for every run, e.g. "-Ddms.cuda.attention-waves=1" or "-Ddms.cuda.graphs=false".
read -ra java_opts <<< "${JAVA_OPTS:-}"
# BENCH_ARGS: extra gpubench options for bench-attention.sh and bench-32k.sh, e.g. "--overlap false".
read -ra bench_args <<< "${BENCH_ARGS:-}"
java=(./jre/bin/java --add-modules jdk.incubator.vector,jdk.incubator.foreign --enable-native-access=ALL-UNNAMED -Xmx8g "${java_opts[@]}" -cp "$cp")

# ensure_model: makes the checkpoint unless it is there (about 30 s on the H200 host), output to $OUT/bench.log.
# DENSE=1: then the same weights as a dense Qwen3 checkpoint (its config without the dms_* fields, the shards
# linked), which the runs then take: what a dense checkpoint runs (bf16 activations and chunk attention by default).
ensure_model() {
    [[ -d $model ]] || timeout 240 python3 "$REPO/tools/gpu/make_random_qwen3.py" --out "$model" >> "$OUT/bench.log" 2>&1
    if [[ ${DENSE:-0} == 1 ]]; then
        local dense=$model-dense
        if [[ ! -d $dense ]]; then
            mkdir -p "$dense"
            for f in "$model"/*; do
                [[ $(basename "$f") == config.json ]] || ln -s "$f" "$dense/"
            done
            python3 - "$model/config.json" "$dense/config.json" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))
json.dump({k: v for k, v in config.items() if not k.startswith('dms_')}, open(sys.argv[2], 'w'), indent=1)
PY
        fi
        model=$dense
    fi
}

# stamp: a timed line in $OUT/bench.log (the A/B scripts' sections).
stamp() { echo "=== $(date -u +%H:%M:%S) +${SECONDS}s $*" >> "$OUT/bench.log"; }

# checks: every kernel_test case ($KT) into $OUT/kt.log, then the gpu suite unless SUITE=0 (the A/B scripts' start).
checks() {
    stamp kernel_test
    timeout 120 "$KT" > "$OUT/kt.log" 2>&1
    echo "kernel_test rc=$?" >> "$OUT/kt.log"
    if [[ ${SUITE:-1} != 0 ]]; then
        stamp suite
        "$(dirname "${BASH_SOURCE[0]}")/gpu-suite.sh"
    fi
}

# fits SECONDS WHAT: whether a part of SECONDS still fits in BUDGET seconds of the script (default 540; the device
# tool's limit is 600 a call), else a "skipped" line in $OUT/bench.log (the A/B scripts).
fits() { (( SECONDS + $1 < ${BUDGET:-540} )) || { stamp "skipped $2: ${SECONDS}s gone"; return 1; }; }

# prepare: checks, then the checkpoint (the A/B scripts' start).
prepare() {
    checks
    stamp model
    ensure_model
}
