#!/usr/bin/env bash
# Nsight Compute's duration of every prefill launch of a gpubench run (from the unpacked bundle; REPO and OUT set): one
# sequence of PROMPT (default 4096) tokens in chunks of 2048, no eviction, two decode steps. Only the kernels that
# prefill runs and decode does not are measured (KERNELS, a regular expression over kernel names: the products, the
# chunk attention, SwiGLU, q/k norm with RoPE, the KV write), so the decode steps of the run's warm-up and the
# kernels both share (RMSNorm, the embedding) are left out. profile-step.sh with those settings: writes
# $OUT/ncu-prefill.csv and prints the per-kernel sums (tools/gpu/ncu_sums.py); the warm-up's 64-token prefill is in
# them too (about 1% of the launches' time).
here="$(cd "$(dirname "$0")" && pwd)"
KERNELS="${KERNELS:-matmul_wg|matmul_bf16|matmul_split|matmul_reduce|attention_chunk|attention_merge|swiglu_f32|qknorm_rope_f32|kv_write_bf16}" \
    BATCH=1 DECODE=2 POLICY=none SKIP=0 STEPS= NAME=ncu-prefill exec "$here/profile-step.sh"
