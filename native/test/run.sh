#!/usr/bin/env bash
# Builds and runs native/test/kernel_test.cu.
#   native/test/run.sh            on the CPU emulator (g++, any machine); a small sampling chunk (64) so
#                                 that multi-chunk walks are exercised on small vocabularies
#   native/test/run.sh --gpu      with nvcc on a CUDA host (the real kernels, sm_90a/sm_80)
# Extra arguments name the tests to run (default: all). DMS_EMU_ORDER=forward|ahead|behind picks the emulator's thread
# order (native/emu/emu.h, schedule); DMS_EMU_COPIES=late|eager when cp.async copies land (at the wait only, or at the
# issue too); DMS_EMU_WGMMA=late|early when a wgmma reads its tiles (at its wait, or at its issue).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${TMPDIR:-/tmp}/dms-kernel-test"
if [[ "${1:-}" == "--gpu" ]]; then
    shift
    nvcc -O2 -std=c++17 -gencode=arch=compute_90a,code=sm_90a -gencode=arch=compute_80,code=sm_80 \
        -o "$out-gpu" test/kernel_test.cu
    exec "$out-gpu" "$@"
fi
g++ -std=c++20 -O2 -g -DDMS_EMU -DDMS_SAMPLE_CAP=64 -Wall -Wno-unused-function -Wno-unknown-pragmas \
    -x c++ -o "$out-emu" test/kernel_test.cu
exec "$out-emu" "$@"
