#!/usr/bin/env python3
"""Golden files for dms-serve, from references that share no code with the Java engine.

Makes, under --out:
  qwen3-tokenizer/ids.json, chat_templates.json  the REAL Qwen3 tokenizer (transformers) on fixed texts/chats
  tiny-qwen3/       plain Qwen3, tied embeddings, bf16, two safetensors shards, rope_theta 1e6
  tiny-qwen3-dms/   Qwen3 + dms_* fields, untied, one safetensors file, rope_theta 1e4
  <model>/golden.json  prompt logits, greedy tokens, DMS decisions and cache counts
  tiny-qwen3-dms/ids.json, chat_templates.json    the tiny tokenizer on the same texts/chats

References:
  * plain model: Hugging Face transformers Qwen3ForCausalLM in float64 on CPU, no KV cache;
  * DMS model: an implementation of DESIGN.md section 3 written here from the math (RefQwen3 below),
    checked against transformers with DMS switched off (must agree to 1e-9).

Two float32 casts inside transformers' Qwen3 (RMSNorm upcasts to float32; the rotary table is built in
float32) would limit the agreement to ~1e-7, so this script replaces those two forwards by float64
versions of the same formulas (patch_hf_precision). Eager attention also runs its softmax in float32,
so transformers runs with attn_implementation="sdpa" (torch's own kernel, float64 on CPU).

Run: python3 tools/golden/make_golden.py --qwen3-tokenizer src/test/resources/golden/qwen3-tokenizer --out OUTDIR
Needs: torch, transformers 5.x, tokenizers, safetensors, numpy. No network. CPU only, a few minutes.
"""

import argparse
import copy
import datetime
import json
import math
import os
import shlex
import shutil
import sys
import time
import unicodedata

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import safetensors  # noqa: E402
from safetensors.torch import save_file, load_file  # noqa: E402
import tokenizers  # noqa: E402
from tokenizers import Tokenizer, Regex, models, normalizers, pre_tokenizers, decoders, trainers  # noqa: E402
import transformers  # noqa: E402
from transformers import AutoTokenizer, Qwen3ForCausalLM  # noqa: E402
import transformers.models.qwen3.modeling_qwen3 as hf_qwen3  # noqa: E402

# ----------------------------------------------------------------------------------------------------
# Fixed architecture of the tiny checkpoints.
HIDDEN = 64
INTERMEDIATE = 160
LAYERS = 3
HEADS = 4
KV_HEADS = 2
HEAD_DIM = 32  # deliberately != HIDDEN / HEADS
GROUP = HEADS // KV_HEADS
RMS_EPS = 1e-6
MAX_POS = 4096
DMS_FIELDS = {"dms_window_size": 16, "dms_alpha_scale": 100.0, "dms_initial_alpha_offset": 5.0, "dms_cr": 8}
BPE_VOCAB_TARGET = 450  # byte alphabet (256) + merges; Qwen3's 26 added tokens come on top

# Weight scales (see make_weights).
EMBED_STD = 0.5
# Per-model recipe. residual_gain multiplies o_proj / down_proj (pre-norm layers: nothing explodes);
# q_norm_scale multiplies the q_norm weights, i.e. sets the attention temperature (q and k are RMS-normalised,
# so the projections' scale cannot). A random model with TIED embeddings falls into repeating one token
# under greedy decoding unless its attention is sharp and its layer outputs outweigh the input embedding
# (seen: with gain 2 / scale 1 no seed in 200 passed the loop check; with 4 / 3 about half do).
RECIPES = {
    "tiny-qwen3": {"residual_gain": 4.0, "q_norm_scale": 3.0},
    "tiny-qwen3-dms": {"residual_gain": 2.0, "q_norm_scale": 1.0},
}
ADDED_ROW_SCALE_TIED = 0.2  # added-token rows of the tied embedding: greedy never picks them
ADDED_ROW_SCALE_HEAD = 0.1  # added-token rows of an untied lm_head

DECISION_MARGIN = 1e-3  # no decision logit closer than this to a threshold in use
GREEDY_MARGIN = 1e-4  # top-1 minus top-2 logit for every greedy argmax
SELF_CHECK_TOL = 1e-9  # float64 agreement of two implementations / prefill vs prefix
THRESHOLDS = (0.0, 2.0)

SEMANTICS = (
    "The prompt (length P) is processed, then max_new_tokens tokens are generated greedily (argmax over the "
    "full padded vocab, lowest id on ties; no stop on EOS); each generated token except the last is fed back, "
    "so at the end T = P + max_new_tokens - 1 tokens have been processed. prompt_logits[i] = logits at prompt "
    "position i (whole prompt processed at once, with the DMS visibility mask). Decision logit of KV head h at "
    "token t = q[t, query head h*G][head_dim-1] * dms_alpha_scale - dms_initial_alpha_offset, q = q_norm(q_proj(x)) "
    "before RoPE; that channel of query head h*G is zeroed before and after RoPE in a DMS checkpoint, whatever the "
    "policy. flag[k] = (decision logit computed at position k+1) > threshold (policy dms); policy none flags "
    "nothing. visible(q, k) = k <= q and not (flag[k] and q - k > w), w = dms_window_size. decisions[l][h] = "
    "ascending token positions k (0 <= k <= T-2) with flag[k] in layer l, KV head h. kv_live[l][h] = number of k "
    "in [0, T) NOT (flag[k] and k <= T - w - 2). evicted[l] = sum over heads of flagged k with k <= T - w - 2. "
    "A plain checkpoint (no dms_* fields) has no decision channel: decisions empty, kv_live = T, evicted 0."
)

# ----------------------------------------------------------------------------------------------------
# Texts and conversations for the tokenizer goldens.
TEXTS = [
    "Hello, world!",
    "The quick brown fox jumps over the lazy dog.",
    "I'm sure they'll say it's fine, aren't they? We've seen 'em. DON'T SHOUT, I'LL LISTEN.",
    "def f(x):\n    return x * 2\n\n\nclass A:\n\tdef g(self):\n\t\tpass\n",
    "for (int i = 0; i < n; i++) {\n        sum += a[i];\n    }\n",
    "a   b",
    "\n\n\n",
    "  leading",
    "trailing   ",
    " \n \n  x \t\t y\r\n\r\nz",
    "12345 3.14159 -42 1,000,000 2024-11-28 0x1F 1e-6",
    "café naïve résumé, El niño señor, über Größe Äpfel, Ångström",
    "Die Straße ist schön, und die Bäume blühen im Frühling.",
    "L'été dernier, nous sommes allés à Montréal — c'était génial !",
    "中文测试：你好，世界！",
    "日本語のテキストです。カタカナもあります。",
    "한국어 텍스트입니다",
    "👩‍👩‍👧‍👦 family, 👍🏽 ok, 😀😃😄",
    "🇯🇵🇫🇷🇩🇪 flags",
    "مرحبا بالعالم",
    "שלום עולם",
    "e\u0301 a\u0308 n\u0303 Z\u0351\u036b\u0343 (combining marks)",
    "∀x ∈ ℝ: x² ≥ 0, ∑ᵢ aᵢ ≤ ∞, √2 ≈ 1.414, α→β",
    "<|im_start|>user\nhi<|im_end|>",
    "<think>x</think>",
    "<|endoftext|>",
    "a<|im_end|>b <tool_call>{\"name\": \"f\"}</tool_call>",
    "",
    "\u00a0",
    "\u3000ideographic\u200bzero-width",
    "Pneumonoultramicroscopicsilicovolcanoconiosis" + "supercalifragilisticexpialidocious" * 3,
    "https://example.com/path/to?q=1&r=two#frag",
    "{\"key\": [1, 2, 3], \"nested\": {\"x\": null, \"y\": true}}",
    "tab\tseparated\tvalues\n",
]

CONVERSATIONS = [
    {"name": "single_user", "add_generation_prompt": True, "enable_thinking": None,
     "messages": [{"role": "user", "content": "Hello, who are you?"}]},
    {"name": "system_user", "add_generation_prompt": True, "enable_thinking": None,
     "messages": [{"role": "system", "content": "You are a helpful assistant."},
                  {"role": "user", "content": "What is 2+2?"}]},
    {"name": "multi_turn", "add_generation_prompt": True, "enable_thinking": None,
     "messages": [{"role": "user", "content": "Hi!"},
                  {"role": "assistant", "content": "Hello! How can I help?"},
                  {"role": "user", "content": "Tell me a joke."}]},
    {"name": "thinking_false", "add_generation_prompt": True, "enable_thinking": False,
     "messages": [{"role": "user", "content": "Summarize DMS in one line."}]},
    {"name": "thinking_true", "add_generation_prompt": True, "enable_thinking": True,
     "messages": [{"role": "user", "content": "Summarize DMS in one line."}]},
    {"name": "no_generation_prompt", "add_generation_prompt": False, "enable_thinking": None,
     "messages": [{"role": "user", "content": "Ping"},
                  {"role": "assistant", "content": "Pong"}]},
    {"name": "think_before_last_query", "add_generation_prompt": True, "enable_thinking": False,
     "messages": [{"role": "user", "content": "What is 3*7?"},
                  {"role": "assistant", "content": "<think>3*7 is 21.</think>The answer is 21."},
                  {"role": "user", "content": "And 3*8?"}]},
    {"name": "think_after_last_query", "add_generation_prompt": False, "enable_thinking": None,
     "messages": [{"role": "user", "content": "What is 3*7?"},
                  {"role": "assistant", "content": "<think>\nmultiply\n</think>\n\nThe answer is 21."}]},
    {"name": "reasoning_content_last", "add_generation_prompt": False, "enable_thinking": None,
     "messages": [{"role": "user", "content": "Capital of France?"},
                  {"role": "assistant", "content": "Paris.", "reasoning_content": "\nEasy: it is Paris.\n"}]},
    {"name": "reasoning_content_history", "add_generation_prompt": True, "enable_thinking": True,
     "messages": [{"role": "user", "content": "Capital of France?"},
                  {"role": "assistant", "content": "Paris.", "reasoning_content": "It is Paris."},
                  {"role": "user", "content": "And of Spain?"}]},
    {"name": "tool_messages", "add_generation_prompt": True, "enable_thinking": None,
     "messages": [{"role": "user", "content": "Weather in Paris and Rome?"},
                  {"role": "assistant", "content": "<think>Need two lookups.</think>Checking both cities."},
                  {"role": "tool", "content": "{\"city\": \"Paris\", \"temp\": 18}"},
                  {"role": "tool", "content": "{\"city\": \"Rome\", \"temp\": 24}"}]},
    {"name": "tool_response_as_user", "add_generation_prompt": True, "enable_thinking": None,
     "messages": [{"role": "user", "content": "Look it up."},
                  {"role": "assistant", "content": "Looking."},
                  {"role": "user", "content": "<tool_response>\n42\n</tool_response>"}]},
    {"name": "system_not_first", "add_generation_prompt": True, "enable_thinking": None,
     "messages": [{"role": "user", "content": "Hi"},
                  {"role": "system", "content": "Be brief."},
                  {"role": "user", "content": "Explain KV caches."}]},
    {"name": "unicode_emoji", "add_generation_prompt": True, "enable_thinking": False,
     "messages": [{"role": "user", "content": "Grüße! 👩‍👩‍👧‍👦 中文 🇯🇵 مرحبا"},
                  {"role": "assistant", "content": "Ça va ✓ 😀"},
                  {"role": "user", "content": "日本語で答えて。"}]},
    {"name": "empty_content", "add_generation_prompt": True, "enable_thinking": None,
     "messages": [{"role": "system", "content": ""},
                  {"role": "user", "content": ""},
                  {"role": "assistant", "content": ""},
                  {"role": "user", "content": ""}]},
]

PLAIN_CHAT = {"name": "plain_chat", "add_generation_prompt": True, "enable_thinking": False,
              "messages": [{"role": "user", "content": "Tell me a short story about a cat."}]}
DMS_CHAT = {"name": "dms_chat", "add_generation_prompt": True, "enable_thinking": False,
            "messages": [{"role": "system", "content": "You are a helpful assistant."},
                         {"role": "user", "content": "Write a haiku about memory."}]}

# Training corpus of the tiny byte-level BPE.
CORPUS = [
    "Large language models keep a cache of keys and values for every token they have seen. The cache grows "
    "with the length of the context, and reading it dominates the time of each decoding step. Dynamic memory "
    "sparsification teaches the model which entries it may forget, so that the server can free that memory "
    "and hold more sequences at once.",
    "The quick brown fox jumps over the lazy dog. The lazy dog sleeps in the sun while the fox runs into the "
    "forest. A cat watches them both from the window and thinks about dinner.",
    "Once upon a time there was a small robot who wanted to learn how to paint. Every morning it mixed the "
    "colors, and every evening it looked at the sky to see how the light changed. The people in the village "
    "said that the robot was strange, but the children loved its paintings.",
    "Memory is the treasure house of the mind. We remember what we repeat, and we forget what we never use. "
    "A good teacher helps the students to remember the important things and to forget the noise.",
    "Hello, world! How are you today? I'm fine, thanks. We're going to the market; they'll meet us there. "
    "It's a beautiful day, isn't it? Yes, it is.",
    "def softmax(x):\n    m = max(x)\n    e = [math.exp(v - m) for v in x]\n    s = sum(e)\n    return [v / s for v in e]\n\n"
    "def rms_norm(x, w, eps=1e-6):\n    r = math.sqrt(sum(v * v for v in x) / len(x) + eps)\n    return [a / r * b for a, b in zip(x, w)]\n",
    "public final class KvCache {\n    private final int[] pages;\n    private int live;\n\n"
    "    public KvCache(int capacity) {\n        this.pages = new int[capacity];\n    }\n\n"
    "    public int live() {\n        return live;\n    }\n}\n",
    "for (int i = 0; i < n; i++) {\n\tsum += a[i] * b[i];\n}\nreturn sum;\n",
    "The numbers 0 1 2 3 4 5 6 7 8 9 10 100 1000 2024 3.14159 2.71828 42 and 1,000,000 appear in the text.",
    "Die Straße ist lang und die Bäume sind grün. Über den Bergen scheint die Sonne. "
    "Le café est chaud et le pain est frais. Nous sommes allés à la plage.",
    "中文是世界上使用人数最多的语言之一。日本語のテキストも少しあります。한국어도 있습니다.",
    "Emoji: 😀 😃 😄 👍 👍🏽 ❤️ 🇯🇵 🇫🇷 👩‍👩‍👧‍👦 🎉 and symbols ∑ ∞ ≈ ≤ ≥ → α β γ.",
    "The server receives a request, renders the chat template, tokenizes the prompt and schedules it. "
    "The scheduler admits the sequence when there is enough capacity in the cache, and the engine runs the "
    "model one step at a time. After every step the sampler picks the next token and the detokenizer "
    "streams the text back to the client.",
    "In the attention layer every query looks at the keys of the tokens that are still visible. A token that "
    "was flagged for eviction stays visible for a short window, and then it is gone, and its slot can be "
    "reused by a newer token of the same sequence.",
    "Questions and answers: What is the capital of France? Paris. What is the capital of Spain? Madrid. "
    "What is the capital of Italy? Rome. What is two plus two? Four.",
    "{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\", \"unit\": \"celsius\"}}\n"
    "{\"name\": \"search\", \"arguments\": {\"query\": \"memory\", \"limit\": 10}}\n",
    "    if x is None:\n        return None\n    elif x > 0:\n        return x\n    else:\n        return -x\n",
    "The morning was cold and the streets were empty. She walked to the station, bought a coffee, and "
    "waited for the train. When it arrived, she found a seat by the window and opened her book.",
    "Thinking step by step: first we compute the sum, then we divide by the count, and finally we compare "
    "the result with the threshold. If the result is greater than the threshold, the token is flagged.",
]

# ----------------------------------------------------------------------------------------------------
# Small helpers.


def log(msg):
    print(msg, flush=True)


def round9(x):
    return float(f"{x:.9g}")


def rows9(t):
    a = t.detach().to(torch.float64).cpu().numpy()
    assert np.all(np.isfinite(a)), "non-finite logits"
    return [[round9(v) for v in row] for row in a.tolist()]


def write_json(path, obj, compact=False):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        if compact:
            json.dump(obj, f, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        else:
            json.dump(obj, f, ensure_ascii=False, indent=1, allow_nan=False)
        f.write("\n")


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def bytes_to_unicode():
    """GPT-2 byte-level alphabet: byte -> printable char (written here from the published scheme)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


def argmax_gap(row):
    """(argmax with lowest id on ties, top1 - top2)."""
    a = row.detach().to(torch.float64).cpu().numpy()
    idx = int(np.argmax(a))  # numpy returns the first maximal index
    top2 = np.sort(a)[-2:]
    return idx, float(top2[1] - top2[0])


def max_abs(a, b):
    return float((a.to(torch.float64) - b.to(torch.float64)).abs().max().item())


# ----------------------------------------------------------------------------------------------------
# Tokenizers.


def hf_tokenizer(directory):
    tok = AutoTokenizer.from_pretrained(directory, local_files_only=True)
    return tok


def hf_encode(tok, text):
    ids = tok.encode(text, add_special_tokens=False)
    ids = [int(i) for i in ids]
    return ids


def hf_decode(tok, ids):
    s = tok.decode(ids, skip_special_tokens=False)
    assert isinstance(s, str), type(s)
    return s


def render_chat(tok, conv):
    kwargs = {"tokenize": False, "add_generation_prompt": conv["add_generation_prompt"]}
    if conv["enable_thinking"] is not None:
        kwargs["enable_thinking"] = conv["enable_thinking"]
    s = tok.apply_chat_template(copy.deepcopy(conv["messages"]), **kwargs)
    assert isinstance(s, str), f"apply_chat_template(tokenize=False) returned {type(s)}"
    return s


def tokenizer_goldens(tok, raw, label):
    """ids.json and chat_templates.json content; cross-checks transformers against the raw tokenizers file."""
    ids_out = []
    for text in TEXTS:
        ids = hf_encode(tok, text)
        dec = hf_decode(tok, ids)
        raw_ids = raw.encode(text, add_special_tokens=False).ids
        assert list(raw_ids) == ids, f"{label}: transformers and tokenizers disagree on {text!r}: {ids} vs {raw_ids}"
        raw_dec = raw.decode(ids, skip_special_tokens=False)
        assert raw_dec == dec, f"{label}: decode disagrees on {text!r}: {dec!r} vs {raw_dec!r}"
        assert dec == unicodedata.normalize("NFC", text), f"{label}: decode(encode(x)) != NFC(x) for {text!r}: {dec!r}"
        ids_out.append({"text": text, "ids": ids, "decoded": dec})
    chats = []
    for conv in CONVERSATIONS:
        rendered = render_chat(tok, conv)
        ids = hf_encode(tok, rendered)
        assert list(raw.encode(rendered, add_special_tokens=False).ids) == ids, f"{label}: chat {conv['name']}"
        chats.append({"name": conv["name"], "messages": copy.deepcopy(conv["messages"]),
                      "add_generation_prompt": conv["add_generation_prompt"],
                      "enable_thinking": conv["enable_thinking"], "rendered": rendered, "ids": ids})
    return ids_out, chats


def check_chat_renders(chats):
    """Spot checks of the template behaviour we rely on (fails loudly if the template was not applied)."""
    by = {c["name"]: c["rendered"] for c in chats}
    assert by["single_user"] == "<|im_start|>user\nHello, who are you?<|im_end|>\n<|im_start|>assistant\n", by["single_user"]
    assert by["thinking_false"].endswith("<|im_start|>assistant\n<think>\n\n</think>\n\n"), by["thinking_false"]
    assert by["thinking_true"].endswith("<|im_start|>assistant\n"), by["thinking_true"]
    assert "3*7 is 21" not in by["think_before_last_query"], by["think_before_last_query"]
    assert "<think>\nmultiply\n</think>\n\nThe answer is 21." in by["think_after_last_query"], by["think_after_last_query"]
    assert "<think>\nEasy: it is Paris.\n</think>\n\nParis." in by["reasoning_content_last"], by["reasoning_content_last"]
    assert by["tool_messages"].count("<|im_start|>user") == 2, by["tool_messages"]
    assert "<think>\nNeed two lookups.\n</think>\n\nChecking both cities." in by["tool_messages"], by["tool_messages"]


def build_tiny_tokenizer(real_json):
    """Byte-level BPE trained on CORPUS with Qwen3's pipeline sections and all of Qwen3's added tokens."""
    pre = real_json["pre_tokenizer"]
    assert pre["type"] == "Sequence" and pre["pretokenizers"][0]["type"] == "Split", pre
    pattern = pre["pretokenizers"][0]["pattern"]["Regex"]
    trainer_tok = Tokenizer(models.BPE())
    trainer_tok.normalizer = normalizers.NFC()
    trainer_tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    trainer_tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=BPE_VOCAB_TARGET, min_frequency=2, show_progress=False,
                                  special_tokens=[], initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    trainer_tok.train_from_iterator(CORPUS, trainer=trainer)
    trained = json.loads(trainer_tok.to_str())
    vocab = trained["model"]["vocab"]
    merges = [m.split(" ") if isinstance(m, str) else list(m) for m in trained["model"]["merges"]]
    for m in merges:
        assert len(m) == 2 and all(isinstance(p, str) for p in m), m
    n_bpe = len(vocab)
    assert sorted(vocab.values()) == list(range(n_bpe)), "trained vocab ids are not 0..n-1"
    alphabet = set(bytes_to_unicode().values())
    assert alphabet <= set(vocab), "byte alphabet incomplete"
    assert 380 <= n_bpe <= BPE_VOCAB_TARGET, f"trained BPE vocab {n_bpe}: corpus too small?"

    model = {k: copy.deepcopy(v) for k, v in real_json["model"].items() if k not in ("vocab", "merges")}
    model["vocab"] = vocab
    model["merges"] = merges
    added = []
    for i, a in enumerate(real_json["added_tokens"]):
        assert a["content"] not in vocab, a
        b = copy.deepcopy(a)
        b["id"] = n_bpe + i
        added.append(b)
    out = {}
    for k, v in real_json.items():  # keep the real file's key order
        if k == "model":
            out[k] = model
        elif k == "added_tokens":
            out[k] = added
        else:
            out[k] = copy.deepcopy(v)
    return out, n_bpe


def tiny_tokenizer_config(real_cfg, tiny_json):
    cfg = copy.deepcopy(real_cfg)
    new_id = {a["content"]: a["id"] for a in tiny_json["added_tokens"]}
    dec = {}
    for old_id, entry in sorted(real_cfg["added_tokens_decoder"].items(), key=lambda kv: int(kv[0])):
        dec[str(new_id[entry["content"]])] = copy.deepcopy(entry)
    assert len(dec) == len(new_id) == len(real_cfg["added_tokens_decoder"])
    cfg["added_tokens_decoder"] = dec
    assert cfg["eos_token"] == "<|im_end|>" and cfg["pad_token"] == "<|endoftext|>", cfg
    return cfg


# ----------------------------------------------------------------------------------------------------
# Checkpoints.


def model_config(vocab_size, eot_id, im_end_id, dms, tied, rope_theta):
    cfg = {
        "architectures": ["Qwen3ForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": eot_id,
        "eos_token_id": im_end_id,
        "head_dim": HEAD_DIM,
        "hidden_act": "silu",
        "hidden_size": HIDDEN,
        "initializer_range": 0.02,
        "intermediate_size": INTERMEDIATE,
        "max_position_embeddings": MAX_POS,
        "max_window_layers": LAYERS,
        "model_type": "qwen3",
        "num_attention_heads": HEADS,
        "num_hidden_layers": LAYERS,
        "num_key_value_heads": KV_HEADS,
        "rms_norm_eps": RMS_EPS,
        "rope_scaling": None,
        "rope_theta": rope_theta,
        "sliding_window": None,
        "tie_word_embeddings": tied,
        "torch_dtype": "bfloat16",
        "transformers_version": transformers.__version__,
        "use_cache": True,
        "use_sliding_window": False,
        "vocab_size": vocab_size,
    }
    if dms:
        cfg.update(DMS_FIELDS)
    return cfg


def tensor_names(tied):
    names = ["model.embed_tokens.weight"]
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        names += [p + "input_layernorm.weight",
                  p + "self_attn.q_proj.weight", p + "self_attn.k_proj.weight", p + "self_attn.v_proj.weight",
                  p + "self_attn.o_proj.weight", p + "self_attn.q_norm.weight", p + "self_attn.k_norm.weight",
                  p + "post_attention_layernorm.weight",
                  p + "mlp.gate_proj.weight", p + "mlp.up_proj.weight", p + "mlp.down_proj.weight"]
    names.append("model.norm.weight")
    if not tied:
        names.append("lm_head.weight")
    return names


def make_weights(seed, vocab_size, n_bpe, n_tok, tied, recipe):
    """bf16 weights from a seeded torch RNG; returns (bf16 dict, float64 copy of the same values).

    Embedding N(0, 0.5^2); projections N(0, 1/fan_in) (o_proj, down_proj times residual_gain); norm weights
    1 + 0.1 N(0, 1) (q_norm times q_norm_scale). Rows of Qwen3's added tokens are scaled down (so greedy never emits them) and rows of the
    vocab padding (ids >= tokenizer size) are zero."""
    g = torch.Generator().manual_seed(seed)

    def randn(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    def proj(out_f, in_f, gain=1.0):
        return randn(out_f, in_f) * (gain / math.sqrt(in_f))

    def norm_w(n):
        return 1.0 + 0.1 * randn(n)

    w = {}
    emb = randn(vocab_size, HIDDEN) * EMBED_STD
    if tied:
        emb[n_bpe:n_tok] *= ADDED_ROW_SCALE_TIED
    emb[n_tok:] = 0.0
    w["model.embed_tokens.weight"] = emb
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = norm_w(HIDDEN)
        w[p + "self_attn.q_proj.weight"] = proj(HEADS * HEAD_DIM, HIDDEN)
        w[p + "self_attn.k_proj.weight"] = proj(KV_HEADS * HEAD_DIM, HIDDEN)
        w[p + "self_attn.v_proj.weight"] = proj(KV_HEADS * HEAD_DIM, HIDDEN)
        w[p + "self_attn.o_proj.weight"] = proj(HIDDEN, HEADS * HEAD_DIM, recipe["residual_gain"])
        w[p + "self_attn.q_norm.weight"] = norm_w(HEAD_DIM) * recipe["q_norm_scale"]
        w[p + "self_attn.k_norm.weight"] = norm_w(HEAD_DIM)
        w[p + "post_attention_layernorm.weight"] = norm_w(HIDDEN)
        w[p + "mlp.gate_proj.weight"] = proj(INTERMEDIATE, HIDDEN)
        w[p + "mlp.up_proj.weight"] = proj(INTERMEDIATE, HIDDEN)
        w[p + "mlp.down_proj.weight"] = proj(HIDDEN, INTERMEDIATE, recipe["residual_gain"])
    w["model.norm.weight"] = norm_w(HIDDEN)
    if not tied:
        head = randn(vocab_size, HIDDEN) * EMBED_STD
        head[n_bpe:n_tok] *= ADDED_ROW_SCALE_HEAD
        head[n_tok:] = 0.0
        w["lm_head.weight"] = head
    assert list(w) == tensor_names(tied)
    w16 = {k: v.to(torch.bfloat16).contiguous() for k, v in w.items()}
    w64 = {k: v.to(torch.float64) for k, v in w16.items()}
    return w16, w64


def write_checkpoint(directory, w16, sharded):
    if not sharded:
        save_file(w16, os.path.join(directory, "model.safetensors"), metadata={"format": "pt"})
        return ["model.safetensors"]
    names = list(w16)
    split = names.index("model.layers.2.input_layernorm.weight")
    shards = [names[:split], names[split:]]
    files = [f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors" for i in range(len(shards))]
    weight_map = {}
    for fname, part in zip(files, shards):
        save_file({k: w16[k] for k in part}, os.path.join(directory, fname), metadata={"format": "pt"})
        for k in part:
            weight_map[k] = fname
    total = sum(t.numel() * t.element_size() for t in w16.values())
    write_json(os.path.join(directory, "model.safetensors.index.json"),
               {"metadata": {"total_size": total}, "weight_map": weight_map})
    return files + ["model.safetensors.index.json"]


def check_checkpoint_files(directory, files, w16):
    seen = {}
    for f in files:
        if f.endswith(".safetensors"):
            part = load_file(os.path.join(directory, f))
            for k, v in part.items():
                assert k not in seen, k
                assert v.dtype == torch.bfloat16, (k, v.dtype)
                seen[k] = v
    assert set(seen) == set(w16), set(seen) ^ set(w16)
    for k, v in w16.items():
        assert torch.equal(seen[k], v), k


# ----------------------------------------------------------------------------------------------------
# The independent reference (DESIGN.md section 3), float64.


class RefQwen3:
    """Qwen3 forward over a whole sequence, with DMS decisions and the DMS visibility mask.

    mode "off":  plain Qwen3 (no channel zeroing, no mask); used for plain checkpoints and for check (a).
    mode "none": DMS checkpoint, eviction off: decision channel zeroed, nothing flagged.
    mode "dms":  DMS checkpoint, flag[k] = decision_logit[k + 1] > threshold, visibility mask applied.
    """

    def __init__(self, w64, cfg):
        self.w = w64
        self.cfg = cfg
        self.is_dms = "dms_window_size" in cfg
        self.eps = float(cfg["rms_norm_eps"])
        self.n_layers = int(cfg["num_hidden_layers"])
        self.heads = int(cfg["num_attention_heads"])
        self.kv_heads = int(cfg["num_key_value_heads"])
        self.head_dim = int(cfg["head_dim"])
        assert self.heads % self.kv_heads == 0
        self.group = self.heads // self.kv_heads
        if cfg["tie_word_embeddings"]:
            assert "lm_head.weight" not in w64
            self.lm_head = w64["model.embed_tokens.weight"]
        else:
            self.lm_head = w64["lm_head.weight"]
        d = self.head_dim
        theta = float(cfg["rope_theta"])
        # inv_freq[i] = theta^(-2i/d), i = 0 .. d/2-1
        self.inv_freq = 1.0 / (theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
        if self.is_dms:
            self.window = int(cfg["dms_window_size"])
            self.alpha = float(cfg["dms_alpha_scale"])
            self.offset = float(cfg["dms_initial_alpha_offset"])

    def rms(self, x, weight):
        # x (..., n) normalised over the last axis
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * weight

    @staticmethod
    def rope(x, cos, sin):
        # x (T, n_heads, D); cos, sin (T, D); rotate-half convention
        half = x.shape[-1] // 2
        rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
        return x * cos[:, None, :] + rotated * sin[:, None, :]

    def forward(self, ids, mode, threshold=None):
        """Returns (logits (T, V), decision logits per layer (T, kv_heads) or None, flags per layer (T, kv_heads))."""
        assert mode in ("off", "none", "dms"), mode
        assert mode == "off" or self.is_dms, "DMS modes need a DMS checkpoint"
        assert (mode == "dms") == (threshold is not None)
        T = len(ids)
        D, H, KV, G = self.head_dim, self.heads, self.kv_heads, self.group
        w = self.w
        ids_t = torch.tensor(ids, dtype=torch.long)
        x = w["model.embed_tokens.weight"][ids_t]  # (T, hidden)
        ang = torch.arange(T, dtype=torch.float64)[:, None] * self.inv_freq[None, :]  # (T, D/2)
        cos = torch.cat([ang.cos(), ang.cos()], dim=-1)  # (T, D)
        sin = torch.cat([ang.sin(), ang.sin()], dim=-1)
        qpos = torch.arange(T)[:, None]
        kpos = torch.arange(T)[None, :]
        causal = kpos <= qpos  # (T, T)
        lead = torch.arange(KV) * G  # first query head of each group
        dec_all, flag_all = [], []
        for layer in range(self.n_layers):
            p = f"model.layers.{layer}."
            h = self.rms(x, w[p + "input_layernorm.weight"])
            q = (h @ w[p + "self_attn.q_proj.weight"].T).view(T, H, D)
            k = (h @ w[p + "self_attn.k_proj.weight"].T).view(T, KV, D)
            v = (h @ w[p + "self_attn.v_proj.weight"].T).view(T, KV, D)
            q = self.rms(q, w[p + "self_attn.q_norm.weight"])
            k = self.rms(k, w[p + "self_attn.k_norm.weight"])
            flags = torch.zeros(T, KV, dtype=torch.bool)
            dec = None
            if mode != "off":
                dec = q[:, lead, D - 1] * self.alpha - self.offset  # (T, KV): decision made at token t
                q = q.clone()
                q[:, lead, D - 1] = 0.0  # before RoPE
            q = self.rope(q, cos, sin)
            k = self.rope(k, cos, sin)
            if mode != "off":
                q[:, lead, D - 1] = 0.0  # and after RoPE
            if mode == "dms":
                flags[:-1] = dec[1:] > threshold  # decision at t flags token t - 1
            # visible[h, q, k] = k <= q and not (flag[k, h] and q - k > w)
            if mode == "dms":
                far = (qpos - kpos) > self.window  # (T, T)
                visible = causal[None] & ~(flags.T[:, None, :] & far[None])  # (KV, T, T)
            else:
                visible = causal[None].expand(KV, T, T)
            kv_of_head = torch.arange(H) // G
            kr = k[:, kv_of_head, :]  # (T, H, D)
            vr = v[:, kv_of_head, :]
            scores = torch.einsum("qhd,khd->hqk", q, kr) / math.sqrt(D)  # (H, T, T)
            scores = scores.masked_fill(~visible[kv_of_head], float("-inf"))
            probs = torch.softmax(scores, dim=-1)
            attn = torch.einsum("hqk,khd->qhd", probs, vr).reshape(T, H * D)
            x = x + attn @ w[p + "self_attn.o_proj.weight"].T
            h = self.rms(x, w[p + "post_attention_layernorm.weight"])
            gate = h @ w[p + "mlp.gate_proj.weight"].T
            up = h @ w[p + "mlp.up_proj.weight"].T
            x = x + (torch.nn.functional.silu(gate) * up) @ w[p + "mlp.down_proj.weight"].T
            dec_all.append(dec)
            flag_all.append(flags)
        x = self.rms(x, w["model.norm.weight"])
        logits = x @ self.lm_head.T  # (T, V)
        return logits, (dec_all if mode != "off" else None), flag_all


# ----------------------------------------------------------------------------------------------------
# transformers, made float64 throughout.


def _rmsnorm_forward_f64(self, hidden_states):
    eps = getattr(self, "variance_epsilon", None)
    if eps is None:
        eps = getattr(self, "eps")
    var = hidden_states.pow(2).mean(-1, keepdim=True)
    return self.weight * (hidden_states * torch.rsqrt(var + eps))


def _rotary_forward_f64(self, x, position_ids, **_ignored):
    theta = self._golden_theta  # set by load_hf; AttributeError here means an unprepared model
    dim = self._golden_head_dim
    inv = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))
    freqs = position_ids.to(torch.float64)[..., None] * inv  # (B, T, dim/2)
    emb = torch.cat([freqs, freqs], dim=-1)
    return emb.cos().to(x.dtype), emb.sin().to(x.dtype)


def patch_hf_precision():
    assert hasattr(hf_qwen3, "Qwen3RMSNorm") and hasattr(hf_qwen3, "Qwen3RotaryEmbedding"), \
        "transformers.models.qwen3.modeling_qwen3 lacks Qwen3RMSNorm / Qwen3RotaryEmbedding"
    hf_qwen3.Qwen3RMSNorm.forward = _rmsnorm_forward_f64
    hf_qwen3.Qwen3RotaryEmbedding.forward = _rotary_forward_f64


def load_hf(directory, cfg, w64):
    kw = {"attn_implementation": "sdpa", "local_files_only": True}
    try:
        model = Qwen3ForCausalLM.from_pretrained(directory, dtype=torch.float64, **kw)
    except TypeError:
        model = Qwen3ForCausalLM.from_pretrained(directory, torch_dtype=torch.float64, **kw)
    model = model.to(torch.float64).eval()
    c = model.config
    assert c.hidden_size == HIDDEN and c.intermediate_size == INTERMEDIATE, c
    assert c.num_hidden_layers == LAYERS and c.num_attention_heads == HEADS and c.num_key_value_heads == KV_HEADS, c
    assert c.head_dim == HEAD_DIM and c.vocab_size == cfg["vocab_size"], c
    assert bool(c.tie_word_embeddings) == bool(cfg["tie_word_embeddings"]), c
    layer_types = getattr(c, "layer_types", None)
    if layer_types is not None:
        assert all(t == "full_attention" for t in layer_types), layer_types
    for p in model.parameters():
        assert p.dtype == torch.float64, p.dtype
    sd = model.state_dict()
    extra = set(sd) - set(w64)
    assert extra <= {"lm_head.weight"}, f"unexpected tensors in the HF model: {sorted(extra)}"
    missing = set(w64) - set(sd)
    assert not missing, f"tensors not loaded by HF: {sorted(missing)}"
    for k, v in w64.items():
        assert torch.equal(sd[k], v), f"HF loaded {k} with different values"
    if cfg["tie_word_embeddings"]:
        assert torch.equal(model.lm_head.weight, w64["model.embed_tokens.weight"]), "lm_head not tied"
    rot = model.model.rotary_emb
    theta = float(cfg["rope_theta"])
    mine = 1.0 / (theta ** (torch.arange(0, HEAD_DIM, 2, dtype=torch.float64) / HEAD_DIM))
    theirs = rot.inv_freq.to(torch.float64)
    assert theirs.shape == mine.shape and torch.allclose(theirs, mine, rtol=1e-5, atol=0), \
        "HF built its rotary table from another theta / head_dim: config.json not read as intended"
    assert float(getattr(rot, "attention_scaling", 1.0)) == 1.0
    rot._golden_theta = theta
    rot._golden_head_dim = HEAD_DIM
    return model


def hf_logits(model, ids):
    with torch.no_grad():
        out = model(input_ids=torch.tensor([ids], dtype=torch.long), use_cache=False)
    lg = out.logits[0]
    assert lg.dtype == torch.float64 and lg.shape == (len(ids), model.config.vocab_size), (lg.dtype, lg.shape)
    return lg


# ----------------------------------------------------------------------------------------------------
# Cases.


def greedy(logits_fn, prompt, max_new):
    """Greedy decode recomputing the whole sequence every step; returns tokens, final sequence, gaps, step logits."""
    seq = list(prompt)
    out, gaps, step_logits = [], [], []
    for step in range(max_new):
        last = logits_fn(seq)[-1]
        tok, gap = argmax_gap(last)
        out.append(tok)
        gaps.append(gap)
        step_logits.append(last)
        if step < max_new - 1:
            seq.append(tok)
    assert len(seq) == len(prompt) + max_new - 1
    return out, seq, gaps, step_logits


def cache_counts(flags, T, window):
    """decisions / kv_live / evicted from per-layer flags (T, KV) of a sequence of T processed tokens."""
    decisions, kv_live, evicted = [], [], []
    for f in flags:
        assert f.shape[0] == T and not bool(f[T - 1].any()), "token T-1 cannot be flagged yet"
        per_head, live = [], []
        gone_layer = 0
        for h in range(f.shape[1]):
            ks = [int(k) for k in torch.nonzero(f[:, h]).flatten().tolist()]
            per_head.append(ks)
            gone = sum(1 for k in ks if k <= T - window - 2)
            live.append(T - gone)
            gone_layer += gone
        decisions.append(per_head)
        kv_live.append(live)
        evicted.append(gone_layer)
    return decisions, kv_live, evicted


def longest_run(tokens):
    best = run = 1
    for a, b in zip(tokens, tokens[1:]):
        run = run + 1 if a == b else 1
        best = max(best, run)
    return best


def run_case(ref, spec, n_bpe):
    """One case with the reference implementation; returns (case dict, diagnostics)."""
    prompt, policy, thr, max_new = spec["prompt_ids"], spec["policy"], spec["threshold"], spec["max_new_tokens"]
    if not ref.is_dms:
        assert policy == "none"
        mode, mthr = "off", None
    elif policy == "dms":
        mode, mthr = "dms", thr
    else:
        mode, mthr = "none", None

    def fn(seq):
        return ref.forward(seq, mode, mthr)[0]

    prompt_logits, prompt_dec, _ = ref.forward(prompt, mode, mthr)
    tokens, seq, gaps, step_logits = greedy(fn, prompt, max_new)
    T = len(seq)
    full_logits, full_dec, full_flags = ref.forward(seq, mode, mthr)
    if ref.is_dms and policy == "dms":
        window = ref.window
        decisions, kv_live, evicted = cache_counts(full_flags, T, window)
    else:
        decisions = [[[] for _ in range(KV_HEADS)] for _ in range(LAYERS)]
        kv_live = [[T] * KV_HEADS for _ in range(LAYERS)]
        evicted = [0] * LAYERS
    case = {"name": spec["name"], "prompt_ids": list(prompt), "policy": policy, "threshold": float(thr),
            "prompt_logits": prompt_logits, "max_new_tokens": max_new, "greedy": tokens,
            "decisions": decisions, "kv_live": kv_live, "evicted": evicted}
    diag = {"gaps": gaps, "seq": seq, "step_logits": step_logits, "full_logits": full_logits,
            "full_dec": full_dec, "full_flags": full_flags, "prompt_dec": prompt_dec, "mode": mode, "mthr": mthr}
    return case, diag


def case_specs_dms(g, n_bpe, chat_ids):
    def rand(n):
        return [int(i) for i in torch.randint(0, n_bpe, (n,), generator=g).tolist()]
    p5, p21, p40, p70 = rand(5), rand(21), rand(40), rand(70)
    return [
        {"name": "rand5_dms_t0", "prompt_ids": p5, "policy": "dms", "threshold": 0.0, "max_new_tokens": 72},
        {"name": "rand21_dms_t0", "prompt_ids": p21, "policy": "dms", "threshold": 0.0, "max_new_tokens": 72},
        {"name": "rand40_dms_t0", "prompt_ids": p40, "policy": "dms", "threshold": 0.0, "max_new_tokens": 72},
        {"name": "rand70_dms_t0", "prompt_ids": p70, "policy": "dms", "threshold": 0.0, "max_new_tokens": 72},
        {"name": "chat_dms_t0", "prompt_ids": list(chat_ids), "policy": "dms", "threshold": 0.0, "max_new_tokens": 72},
        {"name": "rand40_dms_t2", "prompt_ids": p40, "policy": "dms", "threshold": 2.0, "max_new_tokens": 72},
        {"name": "rand40_none", "prompt_ids": p40, "policy": "none", "threshold": 0.0, "max_new_tokens": 72},
    ]


def case_specs_plain(g, n_bpe, chat_ids):
    def rand(n):
        return [int(i) for i in torch.randint(0, n_bpe, (n,), generator=g).tolist()]
    return [
        {"name": "rand7_plain", "prompt_ids": rand(7), "policy": "none", "threshold": 0.0, "max_new_tokens": 64},
        {"name": "rand33_plain", "prompt_ids": rand(33), "policy": "none", "threshold": 0.0, "max_new_tokens": 64},
        {"name": "chat_plain", "prompt_ids": list(chat_ids), "policy": "none", "threshold": 0.0, "max_new_tokens": 64},
    ]


def try_seed(seed, dms, cfg, n_bpe, n_tok, chat_ids, recipe):
    """Builds weights and runs every case with the reference; returns (ok, reasons, payload)."""
    tied = bool(cfg["tie_word_embeddings"])
    w16, w64 = make_weights(seed, cfg["vocab_size"], n_bpe, n_tok, tied, recipe)
    ref = RefQwen3(w64, cfg)
    g = torch.Generator().manual_seed(seed * 7919 + 17)
    specs = (case_specs_dms if dms else case_specs_plain)(g, n_bpe, chat_ids)
    reasons = []
    results = []
    stats = {"min_gap": float("inf"), "min_decision_margin": float("inf"), "flagged": 0, "decisions": 0,
             "per_head": {}, "distinct": [], "longest_run": []}
    for spec in specs:
        case, diag = run_case(ref, spec, n_bpe)
        results.append((spec, case, diag))
        stats["min_gap"] = min(stats["min_gap"], min(diag["gaps"]))
        if min(diag["gaps"]) <= GREEDY_MARGIN:
            reasons.append(f"{spec['name']}: greedy gap {min(diag['gaps']):.2e}")
        if max(case["greedy"]) >= n_bpe:
            reasons.append(f"{spec['name']}: greedy emitted an added/padding token")
        stats["distinct"].append(len(set(case["greedy"])))
        stats["longest_run"].append(longest_run(case["greedy"]))
        if len(set(case["greedy"])) < 8 or longest_run(case["greedy"]) > 4:
            reasons.append(f"{spec['name']}: greedy loops ({len(set(case['greedy']))} distinct, "
                           f"run {longest_run(case['greedy'])})")
        if dms and spec["policy"] == "dms":
            T = len(diag["seq"])
            for layer, dec in enumerate(diag["full_dec"]):
                d = dec[1:]  # decisions that flag tokens 0 .. T-2
                for thr in THRESHOLDS:
                    m = float((d - thr).abs().min().item())
                    stats["min_decision_margin"] = min(stats["min_decision_margin"], m)
                    if m <= DECISION_MARGIN:
                        reasons.append(f"{spec['name']}: decision logit {m:.2e} from threshold {thr}")
                if spec["threshold"] == 0.0:
                    fl = diag["full_flags"][layer][: T - 1]
                    stats["flagged"] += int(fl.sum().item())
                    stats["decisions"] += fl.numel()
                    for h in range(KV_HEADS):
                        a, b = stats["per_head"].get((layer, h), (0, 0))
                        stats["per_head"][(layer, h)] = (a + int(fl[:, h].sum().item()), b + fl.shape[0])
    if dms:
        rate = stats["flagged"] / stats["decisions"]
        stats["flag_rate"] = rate
        if not 0.3 <= rate <= 0.6:
            reasons.append(f"flag rate {rate:.3f} outside [0.3, 0.6]")
        for (layer, h), (a, b) in sorted(stats["per_head"].items()):
            if not 0.05 <= a / b <= 0.95:
                reasons.append(f"layer {layer} head {h} flag rate {a / b:.3f}")
        # Eviction must matter: logits with the mask vs without it, on the longest threshold-0 case.
        spec, case, diag = max((r for r in results if r[0]["policy"] == "dms" and r[0]["threshold"] == 0.0),
                               key=lambda r: len(r[2]["seq"]))
        no_evict = ref.forward(diag["seq"], "none")[0]
        late = ref.window + 2
        diff = max_abs(diag["full_logits"][late:], no_evict[late:])
        stats["eviction_effect"] = diff
        if diff <= 1e-3:
            reasons.append(f"eviction changes late logits by only {diff:.2e}")
    return not reasons, reasons, {"w16": w16, "w64": w64, "ref": ref, "results": results, "stats": stats}


def search_seed(start, label, dms, cfg, n_bpe, n_tok, chat_ids, tries=200):
    for seed in range(start, start + tries):
        ok, reasons, payload = try_seed(seed, dms, cfg, n_bpe, n_tok, chat_ids, RECIPES[label])
        if ok:
            log(f"[{label}] seed {seed} accepted")
            return seed, payload
        log(f"[{label}] seed {seed} rejected: {'; '.join(reasons[:4])}{' ...' if len(reasons) > 4 else ''}")
    raise SystemExit(f"[{label}] no acceptable seed in [{start}, {start + tries})")


def self_checks_dms(ref, hf, results):
    """(a) reference with DMS off == transformers; (b) prefill == prefix, generation == recomputation."""
    worst_a = worst_b = worst_dec = 0.0
    for spec, case, diag in results:
        seq = diag["seq"]
        worst_a = max(worst_a, max_abs(ref.forward(seq, "off")[0], hf_logits(hf, seq)))
        prompt = spec["prompt_ids"]
        P = len(prompt)
        pl = case["prompt_logits"]
        for i in range(P):
            lg, dec, _ = ref.forward(prompt[: i + 1], diag["mode"], diag["mthr"])
            worst_b = max(worst_b, max_abs(lg[i], pl[i]))
            if dec is not None:
                for layer in range(LAYERS):
                    worst_dec = max(worst_dec, max_abs(dec[layer][i], diag["full_dec"][layer][i]))
        worst_b = max(worst_b, max_abs(diag["full_logits"][:P], pl))
        for j, row in enumerate(diag["step_logits"]):
            worst_b = max(worst_b, max_abs(diag["full_logits"][P - 1 + j], row))
        if diag["full_dec"] is not None:
            for layer in range(LAYERS):
                worst_dec = max(worst_dec, max_abs(diag["prompt_dec"][layer], diag["full_dec"][layer][:P]))
        if spec["policy"] == "dms":
            # kv_live must be the number of keys visible to the last query, per layer and head.
            T = len(seq)
            for layer in range(LAYERS):
                f = diag["full_flags"][layer]
                for h in range(KV_HEADS):
                    vis = sum(1 for k in range(T) if not (bool(f[k, h]) and (T - 1) - k > ref.window))
                    assert vis == case["kv_live"][layer][h], (spec["name"], layer, h)
    log(f"  check (a) DMS-off reference vs transformers: max |diff| = {worst_a:.3e}")
    log(f"  check (b) prefill vs prefix / generation: logits {worst_b:.3e}, decision logits {worst_dec:.3e}")
    assert worst_a < SELF_CHECK_TOL, f"reference (DMS off) != transformers: {worst_a}"
    assert worst_b < SELF_CHECK_TOL and worst_dec < SELF_CHECK_TOL, (worst_b, worst_dec)
    return worst_a, max(worst_b, worst_dec)


def finalize_plain(ref, hf, results):
    """Plain model: golden values from transformers; the reference must agree."""
    cases = []
    worst = 0.0
    min_gap = float("inf")
    for spec, case, diag in results:
        prompt = spec["prompt_ids"]
        hp = hf_logits(hf, prompt)
        worst = max(worst, max_abs(hp, case["prompt_logits"]))
        tokens, seq, gaps, step_logits = greedy(lambda s: hf_logits(hf, s), prompt, spec["max_new_tokens"])
        assert tokens == case["greedy"], f"{spec['name']}: transformers greedy {tokens} != reference {case['greedy']}"
        for a, b in zip(step_logits, diag["step_logits"]):
            worst = max(worst, max_abs(a, b))
        assert min(gaps) > GREEDY_MARGIN, (spec["name"], min(gaps))
        min_gap = min(min_gap, min(gaps))
        c = dict(case)
        c["prompt_logits"] = hp
        cases.append(c)
    log(f"  check (a) reference vs transformers (plain): max |diff| = {worst:.3e}")
    assert worst < SELF_CHECK_TOL, f"reference != transformers on the plain model: {worst}"
    return cases, worst, min_gap


def golden_doc(cases, seed, argv):
    out = []
    for c in cases:
        d = dict(c)
        d["prompt_logits"] = rows9(c["prompt_logits"])
        assert len(d["prompt_logits"]) == len(d["prompt_ids"])
        out.append(d)
    return {
        "generator": "tools/golden/make_golden.py",
        "command": "python3 " + shlex.join(argv),
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "tokenizers": tokenizers.__version__, "safetensors": safetensors.__version__,
                     "numpy": np.__version__, "python": sys.version.split()[0]},
        "date": datetime.datetime.now(datetime.timezone.utc).date().isoformat(),
        "seed": seed,
        "tolerance_note": "logits computed in float64 on CPU from the bf16 weights",
        "semantics": SEMANTICS,
        "cases": out,
    }


# ----------------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--qwen3-tokenizer", required=True, help="folder with the real Qwen3 tokenizer.json + tokenizer_config.json")
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--seed", type=int, default=1, help="first seed tried (each model searches upward from it)")
    args = ap.parse_args()
    t0 = time.time()
    torch.set_num_threads(1)  # deterministic float64 reductions; sizes are tiny
    torch.manual_seed(0)
    transformers.logging.set_verbosity_error()
    patch_hf_precision()
    log(f"torch {torch.__version__}, transformers {transformers.__version__}, tokenizers {tokenizers.__version__}, "
        f"safetensors {safetensors.__version__}, numpy {np.__version__}")

    qdir = args.qwen3_tokenizer
    out = args.out
    real_json = read_json(os.path.join(qdir, "tokenizer.json"))
    real_cfg = read_json(os.path.join(qdir, "tokenizer_config.json"))
    assert [a["content"] for a in real_json["added_tokens"]] == \
        [e["content"] for _, e in sorted(real_cfg["added_tokens_decoder"].items(), key=lambda kv: int(kv[0]))]

    for sub in ("qwen3-tokenizer", "tiny-qwen3", "tiny-qwen3-dms"):
        shutil.rmtree(os.path.join(out, sub), ignore_errors=True)
        os.makedirs(os.path.join(out, sub))

    # 1-2. Real Qwen3 tokenizer.
    real_tok = hf_tokenizer(qdir)
    real_raw = Tokenizer.from_file(os.path.join(qdir, "tokenizer.json"))
    assert real_tok.convert_tokens_to_ids("<|im_end|>") == 151645, "not the Qwen3 tokenizer?"
    real_ids, real_chats = tokenizer_goldens(real_tok, real_raw, "qwen3")
    check_chat_renders(real_chats)
    write_json(os.path.join(out, "qwen3-tokenizer", "ids.json"), real_ids)
    write_json(os.path.join(out, "qwen3-tokenizer", "chat_templates.json"), real_chats)
    log(f"qwen3 tokenizer: {len(real_ids)} texts, {len(real_chats)} chats, len(tokenizer) = {len(real_tok)}")

    # 3. Tiny tokenizer.
    tiny_json, n_bpe = build_tiny_tokenizer(real_json)
    n_tok = n_bpe + len(tiny_json["added_tokens"])
    vocab_size = (n_tok + 63) // 64 * 64
    tiny_cfg = tiny_tokenizer_config(real_cfg, tiny_json)
    added_id = {a["content"]: a["id"] for a in tiny_json["added_tokens"]}
    eot, im_end = added_id["<|endoftext|>"], added_id["<|im_end|>"]
    gen_cfg = {"bos_token_id": eot, "do_sample": True, "eos_token_id": [im_end, eot], "pad_token_id": eot,
               "temperature": 0.6, "top_k": 20, "top_p": 0.95, "transformers_version": transformers.__version__}
    model_dirs = {
        "tiny-qwen3": model_config(vocab_size, eot, im_end, dms=False, tied=True, rope_theta=1000000),
        "tiny-qwen3-dms": model_config(vocab_size, eot, im_end, dms=True, tied=False, rope_theta=10000),
    }
    for name, cfg in model_dirs.items():
        d = os.path.join(out, name)
        with open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8") as f:
            json.dump(tiny_json, f, ensure_ascii=False, indent=2)
            f.write("\n")
        write_json(os.path.join(d, "tokenizer_config.json"), tiny_cfg)
        write_json(os.path.join(d, "generation_config.json"), gen_cfg)
        write_json(os.path.join(d, "config.json"), cfg)

    tiny_path = os.path.join(out, "tiny-qwen3-dms", "tokenizer.json")
    tiny_raw = Tokenizer.from_file(tiny_path)
    assert tiny_raw.get_vocab_size(with_added_tokens=True) == n_tok, (tiny_raw.get_vocab_size(with_added_tokens=True), n_tok)
    again = json.loads(tiny_raw.to_str())  # round trip: what tokenizers writes back is what we wrote
    assert again["model"]["vocab"] == tiny_json["model"]["vocab"], "vocab does not round-trip"
    assert [m.split(" ") if isinstance(m, str) else list(m) for m in again["model"]["merges"]] == tiny_json["model"]["merges"]
    assert [(a["id"], a["content"], a["special"], a["normalized"]) for a in again["added_tokens"]] == \
        [(a["id"], a["content"], a["special"], a["normalized"]) for a in tiny_json["added_tokens"]]
    real_again = json.loads(real_raw.to_str())  # both through the same tokenizers version
    for key in ("normalizer", "pre_tokenizer", "post_processor", "decoder"):
        assert again[key] == real_again[key], f"{key} differs from Qwen3's: {again[key]} vs {real_again[key]}"
    tiny_tok = hf_tokenizer(os.path.join(out, "tiny-qwen3-dms"))
    assert len(tiny_tok) == n_tok, (len(tiny_tok), n_tok)
    assert tiny_tok.convert_tokens_to_ids("<|im_end|>") == im_end and tiny_tok.eos_token == "<|im_end|>"
    tiny_ids, tiny_chats = tokenizer_goldens(tiny_tok, tiny_raw, "tiny")
    check_chat_renders(tiny_chats)
    for a, b in zip(real_chats, tiny_chats):
        assert a["rendered"] == b["rendered"], f"template renders differ for {a['name']}"
    tiny_tok_plain = hf_tokenizer(os.path.join(out, "tiny-qwen3"))
    for t in TEXTS:
        assert hf_encode(tiny_tok_plain, t) == hf_encode(tiny_tok, t)
    write_json(os.path.join(out, "tiny-qwen3-dms", "ids.json"), tiny_ids)
    write_json(os.path.join(out, "tiny-qwen3-dms", "chat_templates.json"), tiny_chats)
    log(f"tiny tokenizer: {n_bpe} BPE + {n_tok - n_bpe} added = {n_tok} tokens, model vocab_size {vocab_size}")

    summary = {}
    # 3-5. DMS model.
    cfg = model_dirs["tiny-qwen3-dms"]
    d = os.path.join(out, "tiny-qwen3-dms")
    chat_ids = hf_encode(tiny_tok, render_chat(tiny_tok, DMS_CHAT))
    seed, payload = search_seed(args.seed, "tiny-qwen3-dms", True, cfg, n_bpe, n_tok, chat_ids)
    files = write_checkpoint(d, payload["w16"], sharded=False)
    check_checkpoint_files(d, files, payload["w16"])
    hf = load_hf(d, cfg, payload["w64"])
    chk_a, chk_b = self_checks_dms(payload["ref"], hf, payload["results"])
    cases = [case for _, case, _ in payload["results"]]
    write_json(os.path.join(d, "golden.json"), golden_doc(cases, seed, sys.argv), compact=True)
    st = payload["stats"]
    summary["tiny-qwen3-dms"] = {
        "seed": seed, "flag_rate_t0": round(st["flag_rate"], 4), "min_greedy_gap": st["min_gap"],
        "min_decision_margin": st["min_decision_margin"], "eviction_effect": st["eviction_effect"],
        "check_a": chk_a, "check_b": chk_b,
        "per_head_rates": {f"L{layer}H{h}": round(a / b, 3) for (layer, h), (a, b) in sorted(st["per_head"].items())},
        "cases": [(c["name"], len(c["prompt_ids"]), c["policy"], c["threshold"], c["evicted"],
                   len(set(c["greedy"]))) for c in cases],
    }
    del hf

    # 3-5. Plain model.
    cfg = model_dirs["tiny-qwen3"]
    d = os.path.join(out, "tiny-qwen3")
    chat_ids = hf_encode(tiny_tok, render_chat(tiny_tok, PLAIN_CHAT))
    seed, payload = search_seed(args.seed, "tiny-qwen3", False, cfg, n_bpe, n_tok, chat_ids)
    files = write_checkpoint(d, payload["w16"], sharded=True)
    check_checkpoint_files(d, files, payload["w16"])
    assert not os.path.exists(os.path.join(d, "model.safetensors"))
    hf = load_hf(d, cfg, payload["w64"])
    cases, chk_a, min_gap = finalize_plain(payload["ref"], hf, payload["results"])
    write_json(os.path.join(d, "golden.json"), golden_doc(cases, seed, sys.argv), compact=True)
    summary["tiny-qwen3"] = {"seed": seed, "min_greedy_gap": min_gap, "check_a": chk_a,
                             "cases": [(c["name"], len(c["prompt_ids"]), len(set(c["greedy"]))) for c in cases]}

    # 6. Summary.
    log("summary:")
    for name, s in summary.items():
        log(f"  {name}: {json.dumps(s, default=str)}")
    total = 0
    for root, _, fnames in sorted(os.walk(out)):
        for fn in sorted(fnames):
            p = os.path.join(root, fn)
            size = os.path.getsize(p)
            total += size
            log(f"  {os.path.relpath(p, out)}: {size} bytes")
    log(f"  total {total} bytes, {time.time() - t0:.1f} s")
    assert total < 10 * 1024 * 1024, f"output too large: {total} bytes"


if __name__ == "__main__":
    main()
