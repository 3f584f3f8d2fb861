#!/usr/bin/env python3
"""Writes a checkpoint of Qwen3-8B's exact shape (DESIGN.md §6) with random bf16 weights, for benchmarks.

Random weights make DMS's learned decisions meaningless, so benchmarks pick the threshold that reaches a
chosen eviction rate and report the rate reached. The DMS fields are those of nvidia/Qwen3-8B-DMS-8x, so
the decision channel exists. The tokenizer is the real Qwen3 one (src/test/resources/golden/qwen3-tokenizer).

Run on the GPU host (random numbers made on the device, written as 4 safetensors shards):

    python3 tools/gpu/make_random_qwen3.py --out /tmp/qwen3-8b-random [--layers 36] [--seed 0]
"""
import argparse
import json
import os
import shutil

import torch
from safetensors.torch import save_file

SHAPE = dict(hidden=4096, intermediate=12288, layers=36, heads=32, kv_heads=8, head_dim=128, vocab=151936)
HERE = os.path.dirname(os.path.abspath(__file__))
TOKENIZER = os.path.join(HERE, "..", "..", "src", "test", "resources", "golden", "qwen3-tokenizer")


def config(layers):
    s = SHAPE
    return {
        "architectures": ["Qwen3ForCausalLM"], "model_type": "qwen3", "hidden_size": s["hidden"],
        "intermediate_size": s["intermediate"], "num_hidden_layers": layers, "num_attention_heads": s["heads"],
        "num_key_value_heads": s["kv_heads"], "head_dim": s["head_dim"], "vocab_size": s["vocab"],
        "rope_theta": 1000000.0, "rms_norm_eps": 1e-6, "max_position_embeddings": 40960,
        "tie_word_embeddings": False, "torch_dtype": "bfloat16", "hidden_act": "silu",
        "attention_bias": False, "rope_scaling": None, "bos_token_id": 151643, "eos_token_id": 151645,
        "dms_window_size": 512, "dms_alpha_scale": 100.0, "dms_initial_alpha_offset": 5.0, "dms_cr": 8,
    }


def tensors(layers, generator):
    s = SHAPE
    q, kv = s["heads"] * s["head_dim"], s["kv_heads"] * s["head_dim"]

    def rand(*shape, std=0.02):
        return (torch.randn(*shape, generator=generator, device="cuda", dtype=torch.float32) * std).to(
            torch.bfloat16)

    def ones(n):
        return (1 + torch.randn(n, generator=generator, device="cuda") * 0.05).to(torch.bfloat16)

    yield "model.embed_tokens.weight", rand(s["vocab"], s["hidden"])
    for l in range(layers):
        p = f"model.layers.{l}."
        yield p + "input_layernorm.weight", ones(s["hidden"])
        yield p + "post_attention_layernorm.weight", ones(s["hidden"])
        yield p + "self_attn.q_proj.weight", rand(q, s["hidden"])
        yield p + "self_attn.k_proj.weight", rand(kv, s["hidden"])
        yield p + "self_attn.v_proj.weight", rand(kv, s["hidden"])
        yield p + "self_attn.o_proj.weight", rand(s["hidden"], q)
        yield p + "self_attn.q_norm.weight", ones(s["head_dim"])
        yield p + "self_attn.k_norm.weight", ones(s["head_dim"])
        yield p + "mlp.gate_proj.weight", rand(s["intermediate"], s["hidden"])
        yield p + "mlp.up_proj.weight", rand(s["intermediate"], s["hidden"])
        yield p + "mlp.down_proj.weight", rand(s["hidden"], s["intermediate"])
    yield "model.norm.weight", ones(s["hidden"])
    yield "lm_head.weight", rand(s["vocab"], s["hidden"])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", required=True)
    parser.add_argument("--layers", type=int, default=SHAPE["layers"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shard-bytes", type=int, default=5 << 30)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    generator = torch.Generator(device="cuda").manual_seed(args.seed)
    shards, current, size = [], {}, 0
    for name, tensor in tensors(args.layers, generator):
        current[name] = tensor.cpu()
        size += tensor.numel() * 2
        if size >= args.shard_bytes:
            shards.append(current)
            current, size = {}, 0
    if current:
        shards.append(current)
    weight_map, total = {}, 0
    for i, shard in enumerate(shards):
        file = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        save_file(shard, os.path.join(args.out, file), metadata={"format": "pt"})
        for name, tensor in shard.items():
            weight_map[name] = file
            total += tensor.numel() * 2
    with open(os.path.join(args.out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=1)
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config(args.layers), f, indent=1)
    with open(os.path.join(args.out, "generation_config.json"), "w") as f:
        json.dump({"eos_token_id": [151645, 151643], "do_sample": False}, f)
    for name in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(TOKENIZER, name), os.path.join(args.out, name))
    print(f"wrote {args.out}: {len(shards)} shards, {total / 1e9:.2f} GB of bf16 weights")


if __name__ == "__main__":
    main()
