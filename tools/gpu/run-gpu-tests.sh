#!/usr/bin/env bash
# Runs the gpu-tagged tests of this bundle with its own Java runtime:
#   ./run-gpu-tests.sh OUT_DIR                     every test tagged gpu
#   ./run-gpu-tests.sh OUT_DIR --select-class io.dmsserve.kvcache.KvCacheTest   (any console launcher selection)
# Writes OUT_DIR/console.log (the launcher's tree of results), OUT_DIR/TEST-junit-jupiter.xml (JUnit XML) and
# OUT_DIR/environment.txt; exits with the launcher's status (0 all passed, 1 some failed, 2 none found).
# Every decode step a CUDA graph replays by its shape is also recorded and checked against the graph
# (-Ddms.cuda.graph-check-every=1; a server checks one in 256).
# Without a usable GPU every gpu test fails with the reason (no CUDA driver, no device, ...).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:?usage: run-gpu-tests.sh OUT_DIR [console launcher selection]}"
shift
mkdir -p "$out"
out="$(cd "$out" && pwd)"
cd "$here"  # tests read fixtures from src/test/resources (a link to test-classes)
# The Qwen3 tokenizer is left out of the bundle (bundle.sh): linked from the checkout at $REPO.
tokenizer=golden/qwen3-tokenizer/tokenizer.json
if [[ ! -e "$here/test-classes/$tokenizer" ]]; then
    if [[ ! -f "${REPO:-}/src/test/resources/$tokenizer" ]]; then
        echo "run-gpu-tests: set REPO to a checkout of the repository: the bundle takes src/test/resources/$tokenizer from it" >&2
        exit 2
    fi
    ln -s "$(cd "$REPO" && pwd)/src/test/resources/$tokenizer" "$here/test-classes/$tokenizer"
fi
{
    cat "$here/BUILD-INFO"
    echo "--- JAVA_OPTS: ${JAVA_OPTS:-(none)}"
    echo "--- nvidia-smi"
    nvidia-smi 2>&1 || echo "(nvidia-smi not available)"
} > "$out/environment.txt"

if [[ $# -eq 0 ]]; then
    set -- --scan-class-path "$here/test-classes" --include-tag gpu --exclude-tag benchmark
fi
classpath="$here/junit/junit-platform-console-standalone.jar:$here/classes:$here/test-classes"
for jar in "$here"/lib/*.jar; do
    classpath+=":$jar"
done
# JAVA_OPTS (word-split) adds JVM options, e.g. JAVA_OPTS=-Ddms.cuda.activations=bf16.
# shellcheck disable=SC2086
"$here/jre/bin/java" --add-modules jdk.incubator.vector,jdk.incubator.foreign --enable-native-access=ALL-UNNAMED -Xss4m -Ddms.cuda.graph-check-every=1 ${JAVA_OPTS:-} \
    -Djava.io.tmpdir="${TMPDIR:-/tmp}" \
    -cp "$classpath" org.junit.platform.console.ConsoleLauncher execute \
    --disable-banner --disable-ansi-colors --details=tree --reports-dir="$out" --fail-if-no-tests "$@" \
    2>&1 | tee "$out/console.log"
exit "${PIPESTATUS[0]}"
