# attention_peer.py: PyTorch's own prefill attention (scaled_dot_product_attention, flash backend, bf16) on the
# shapes of chunk_bench (native/bench/chunk_bench.cu): a 4K prompt's first chunk (2048 queries, causal over its own
# 2048 keys) and last chunk (2048 queries over 4096 keys, causal aligned to the bottom right), 32 query heads over 8
# kv heads of 128, one layer. A ceiling for our chunk attention from the field's library on the same host; it reads
# contiguous K/V with no paging, no DMS mask and one bf16 per value.
#   python3 tools/gpu/attention_peer.py [reps]
import json
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.nn.attention.bias import causal_lower_right

reps = int(sys.argv[1]) if len(sys.argv) > 1 else 20
heads, kv_heads, d = 32, 8, 128
torch.manual_seed(0)
for case, nq, nk in (("first", 2048, 2048), ("last", 2048, 4096), ("whole", 4096, 4096)):
    q = torch.randn(1, heads, nq, d, device="cuda", dtype=torch.bfloat16)
    k = torch.randn(1, kv_heads, nk, d, device="cuda", dtype=torch.bfloat16)
    v = torch.randn(1, kv_heads, nk, d, device="cuda", dtype=torch.bfloat16)
    k = k.repeat_interleave(heads // kv_heads, dim=1)
    v = v.repeat_interleave(heads // kv_heads, dim=1)
    mask = causal_lower_right(nq, nk)
    # visible (query, key) pairs, bottom-right causal: query i sees keys 0 .. nk - nq + i
    pairs = sum(nk - nq + i + 1 for i in range(nq))
    flops = 4.0 * d * heads * pairs
    for backend in ("flash", "cudnn"):
        which = SDPBackend.FLASH_ATTENTION if backend == "flash" else SDPBackend.CUDNN_ATTENTION
        try:
            with sdpa_kernel(which):
                run = lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
                for _ in range(3):
                    run()
                torch.cuda.synchronize()
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                for _ in range(reps):
                    run()
                end.record()
                torch.cuda.synchronize()
                us = start.elapsed_time(end) * 1000 / reps
                print(json.dumps({"what": "sdpa", "backend": backend, "case": case, "queries": nq, "keys": nk,
                                  "us": round(us, 1), "tflops": round(flops / us / 1e6, 1)}), flush=True)
        except Exception as e:  # a backend this build or shape does not take
            print(json.dumps({"what": "sdpa", "backend": backend, "case": case, "error": str(e)[:200]}), flush=True)
