#!/usr/bin/env python3
"""The dense peers and the host's ceilings that docs/benchmarks.md sets our CUDA backend against.

- `ceilings`: device-to-device copy bandwidth (bytes read + written per second) and a bf16 8192^3 matrix
  product (TFLOP/s), measured on this host in this run.
- `peer`: a strong dense decoder in PyTorch, gpt-fast style: weights in bf16 on the device (q/k/v and
  gate/up fused), a static KV cache per layer, SDPA attention with GQA, and the whole decode step captured
  as one CUDA graph and replayed. Decode tokens/s at a given batch and context length. `--kv-len` cuts the
  attended cache to that many tokens (what a dense engine would read if its caches were DMS-8x small).
- `hf`: Hugging Face `generate` (greedy, static cache off) at batch 1.

Usage (on the GPU host, checkpoint from make_random_qwen3.py):
    python3 tools/gpu/dense_peer.py ceilings
    python3 tools/gpu/dense_peer.py peer --model DIR --batch 1 --context 512 --steps 128
    python3 tools/gpu/dense_peer.py peer --model DIR --batch 16 --context 32768 --steps 64 [--kv-len 4096]
    python3 tools/gpu/dense_peer.py hf --model DIR --steps 64
Each prints one JSON line.
"""
import argparse
import json
import math
import os
import time

import torch
import torch.nn.functional as F
from safetensors import safe_open


def timed(fn, repeats, warmup=3):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    start = torch.cuda.Event(enable_timing=True)
    end = torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(repeats):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / 1000 / repeats


def ceilings(_):
    n = 1 << 31  # 4 GiB of bf16 each way
    a = torch.empty(n, dtype=torch.bfloat16, device="cuda")
    b = torch.empty_like(a)
    a.normal_()
    copy = timed(lambda: b.copy_(a), 10)
    del a, b
    m = torch.randn(8192, 8192, dtype=torch.bfloat16, device="cuda")
    k = torch.randn(8192, 8192, dtype=torch.bfloat16, device="cuda")
    mm = timed(lambda: m @ k, 10)
    return {"what": "ceilings", "d2d_copy_TBps": 2 * n * 2 / copy / 1e12, "bf16_matmul_TFLOPs": 2 * 8192 ** 3 / mm / 1e12,
            "device": torch.cuda.get_device_name()}


class Weights:
    def __init__(self, directory):
        with open(os.path.join(directory, "config.json")) as f:
            self.config = json.load(f)
        index = os.path.join(directory, "model.safetensors.index.json")
        files = sorted(set(json.load(open(index))["weight_map"].values())) if os.path.exists(index) \
            else ["model.safetensors"]
        self.t = {}
        for file in files:
            with safe_open(os.path.join(directory, file), framework="pt", device="cuda") as f:
                for name in f.keys():
                    self.t[name] = f.get_tensor(name).to(torch.bfloat16)


def rms(x, w, eps):
    x32 = x.float()
    return (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)).to(x.dtype) * w


class DensePeer:
    """Qwen3 decode with a static cache: (layers) × (batch, kv_heads, capacity, head_dim)."""

    def __init__(self, weights, batch, capacity):
        c = weights.config
        self.c, self.batch, self.capacity = c, batch, capacity
        self.L, self.H, self.Hkv, self.D = c["num_hidden_layers"], c["num_attention_heads"], \
            c["num_key_value_heads"], c["head_dim"]
        self.eps = c["rms_norm_eps"]
        t = weights.t
        self.embed, self.norm, self.lm_head = t["model.embed_tokens.weight"], t["model.norm.weight"], t["lm_head.weight"]
        self.layers = []
        for l in range(self.L):
            p = f"model.layers.{l}."
            self.layers.append(dict(
                attn_norm=t[p + "input_layernorm.weight"], ffn_norm=t[p + "post_attention_layernorm.weight"],
                wqkv=torch.cat([t[p + "self_attn.q_proj.weight"], t[p + "self_attn.k_proj.weight"],
                                t[p + "self_attn.v_proj.weight"]]),
                wo=t[p + "self_attn.o_proj.weight"], q_norm=t[p + "self_attn.q_norm.weight"],
                k_norm=t[p + "self_attn.k_norm.weight"],
                w13=torch.cat([t[p + "mlp.gate_proj.weight"], t[p + "mlp.up_proj.weight"]]),
                w2=t[p + "mlp.down_proj.weight"]))
        weights.t.clear()
        self.k = [torch.randn(batch, self.Hkv, capacity, self.D, dtype=torch.bfloat16, device="cuda") * 0.5
                  for _ in range(self.L)]
        self.v = [torch.randn_like(k) for k in self.k]
        inv = 1.0 / (c["rope_theta"] ** (torch.arange(0, self.D, 2, device="cuda", dtype=torch.float64) / self.D))
        pos = torch.arange(capacity + 1, device="cuda", dtype=torch.float64)
        angles = torch.outer(pos, inv)
        self.cos, self.sin = angles.cos().float(), angles.sin().float()
        self.tokens = torch.zeros(batch, dtype=torch.long, device="cuda")
        self.pos = torch.zeros(1, dtype=torch.long, device="cuda")
        self.out = torch.zeros(batch, dtype=torch.long, device="cuda")

    def rope(self, x, pos):
        half = self.D // 2
        cos, sin = self.cos[pos].view(1, 1, half), self.sin[pos].view(1, 1, half)
        x1, x2 = x[..., :half].float(), x[..., half:].float()
        return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], -1).to(x.dtype)

    def step(self, kv_len):
        B, H, Hkv, D = self.batch, self.H, self.Hkv, self.D
        x = F.embedding(self.tokens, self.embed)  # (B, hidden)
        pos = self.pos
        mask = (torch.arange(kv_len, device="cuda") <= pos).view(1, 1, 1, kv_len)
        for l, w in enumerate(self.layers):
            h = rms(x, w["attn_norm"], self.eps)
            qkv = h @ w["wqkv"].t()
            q, k, v = qkv.split([H * D, Hkv * D, Hkv * D], -1)
            q = self.rope(rms(q.view(B, H, D), w["q_norm"], self.eps), pos)
            k = self.rope(rms(k.view(B, Hkv, D), w["k_norm"], self.eps), pos)
            self.k[l].index_copy_(2, pos, k.view(B, Hkv, 1, D))
            self.v[l].index_copy_(2, pos, v.view(B, Hkv, 1, D))
            a = F.scaled_dot_product_attention(q.view(B, H, 1, D), self.k[l][:, :, :kv_len], self.v[l][:, :, :kv_len],
                                               attn_mask=mask, enable_gqa=True)
            x = x + a.reshape(B, H * D) @ w["wo"].t()
            h = rms(x, w["ffn_norm"], self.eps)
            g, u = (h @ w["w13"].t()).chunk(2, -1)
            x = x + (F.silu(g) * u) @ w["w2"].t()
        logits = rms(x, self.norm, self.eps) @ self.lm_head.t()
        self.out.copy_(logits.argmax(-1))


def peer(args):
    weights = Weights(args.model)
    kv_len = args.kv_len or args.context
    model = DensePeer(weights, args.batch, kv_len)
    # Every replay decodes the token at position kv_len − 1 over a full cache: the step a sequence of that
    # length takes (positions do not advance between replays, which changes no cost).
    model.pos.fill_(kv_len - 1)
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):
            model.step(kv_len)
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        model.step(kv_len)

    def one():
        graph.replay()
        model.tokens.copy_(model.out)

    seconds = timed(one, args.steps)
    weight_bytes = sum(p.numel() * 2 for w in model.layers for p in w.values()) + model.lm_head.numel() * 2
    kv_bytes = 2 * model.L * args.batch * model.Hkv * kv_len * model.D * 2
    return {"what": "dense_peer", "batch": args.batch, "context": args.context, "kv_len": kv_len,
            "tokens_per_s": args.batch / seconds, "ms_per_step": seconds * 1e3,
            "bytes_per_step_GB": (weight_bytes + kv_bytes) / 1e9,
            "implied_TBps": (weight_bytes + kv_bytes) / seconds / 1e12}


def hf(args):
    from transformers import AutoModelForCausalLM
    model = AutoModelForCausalLM.from_pretrained(args.model, torch_dtype=torch.bfloat16).cuda().eval()
    ids = torch.randint(0, 150000, (1, 32), device="cuda")
    with torch.no_grad():
        model.generate(ids, max_new_tokens=4, do_sample=False, min_new_tokens=4)
        torch.cuda.synchronize()
        start = time.perf_counter()
        model.generate(ids, max_new_tokens=args.steps, min_new_tokens=args.steps, do_sample=False)
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    return {"what": "hf_generate", "batch": 1, "tokens_per_s": args.steps / seconds}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("what", choices=["ceilings", "peer", "hf"])
    parser.add_argument("--model")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--context", type=int, default=512)
    parser.add_argument("--kv-len", type=int, default=0)
    parser.add_argument("--steps", type=int, default=64)
    args = parser.parse_args()
    with torch.inference_mode():
        print(json.dumps({"ceilings": ceilings, "peer": peer, "hf": hf}[args.what](args)), flush=True)


if __name__ == "__main__":
    main()
