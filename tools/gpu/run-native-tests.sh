#!/usr/bin/env bash
# Builds native/test/kernel_test.cu with nvcc and runs it on the GPU (every kernel against its C++ reference),
# output in OUT_DIR/native-tests.log. Extra arguments name tests (embedding, gemv, attention_chunk, ...).
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:?usage: run-native-tests.sh OUT_DIR [test names]}"
shift
mkdir -p "$out"
{
    nvcc -O2 -std=c++17 -gencode=arch=compute_90a,code=sm_90a -gencode=arch=compute_80,code=sm_80 \
        -o "$out/kernel_test" "$here/native/test/kernel_test.cu" && "$out/kernel_test" "$@"
} 2>&1 | tee "$out/native-tests.log"
exit "${PIPESTATUS[0]}"
