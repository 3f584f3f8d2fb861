package io.dmsserve.engine;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Builds a small but complete Qwen3 checkpoint directory (hidden 8, 2 layers, 2 heads, 1 KV head,
 * head_dim 4, vocab 16), with knobs to break it in one place at a time.
 */
final class TinyCheckpoint {

    DType dtype = DType.BF16;
    boolean tied;
    boolean dms;
    int shards = 1;
    final Map<String, Object> configOverrides = new LinkedHashMap<>();
    final Set<String> omitted = new HashSet<>();
    final Map<String, long[]> shapeOverrides = new HashMap<>();
    final Map<String, long[]> extraTensors = new LinkedHashMap<>();

    static final int HIDDEN = 8;
    static final int INTERMEDIATE = 12;
    static final int LAYERS = 2;
    static final int HEADS = 2;
    static final int KV_HEADS = 1;
    static final int HEAD_DIM = 4;
    static final int VOCAB = 16;

    /** Multiples of 1/16 in [-0.5, 0.4375]: exact in bf16, f16 and f32, and different per tensor. */
    static float value(String tensor, long index) {
        long k = Math.floorMod(tensor.hashCode() + 7 * index + index / 5, 16);
        return (k - 8) / 16f;
    }

    Map<String, Object> config() {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("architectures", List.of("Qwen3ForCausalLM"));
        c.put("model_type", "qwen3");
        c.put("hidden_size", HIDDEN);
        c.put("intermediate_size", INTERMEDIATE);
        c.put("num_hidden_layers", LAYERS);
        c.put("num_attention_heads", HEADS);
        c.put("num_key_value_heads", KV_HEADS);
        c.put("head_dim", HEAD_DIM);
        c.put("vocab_size", VOCAB);
        c.put("rope_theta", 1000000.0);
        c.put("rms_norm_eps", 1e-6);
        c.put("max_position_embeddings", 512);
        c.put("tie_word_embeddings", tied);
        c.put("attention_bias", false);
        c.put("rope_scaling", null);
        c.put("torch_dtype", "bfloat16");
        if (dms) {
            c.put("dms_window_size", 4);
            c.put("dms_alpha_scale", 100.0);
            c.put("dms_initial_alpha_offset", 5.0);
            c.put("dms_cr", 8);
        }
        configOverrides.forEach((k, v) -> {
            if (v == Remove.FIELD) {
                c.remove(k);
            } else {
                c.put(k, v);
            }
        });
        return c;
    }

    /** Marker for {@link #configOverrides}: drop the field instead of setting it. */
    enum Remove { FIELD }

    /** Every tensor to write, in file order, with its shape. */
    Map<String, long[]> tensors() {
        Map<String, long[]> t = new LinkedHashMap<>();
        t.put("model.embed_tokens.weight", new long[] {VOCAB, HIDDEN});
        for (int i = 0; i < LAYERS; i++) {
            String p = "model.layers." + i + ".";
            t.put(p + "input_layernorm.weight", new long[] {HIDDEN});
            t.put(p + "self_attn.q_proj.weight", new long[] {HEADS * HEAD_DIM, HIDDEN});
            t.put(p + "self_attn.k_proj.weight", new long[] {KV_HEADS * HEAD_DIM, HIDDEN});
            t.put(p + "self_attn.v_proj.weight", new long[] {KV_HEADS * HEAD_DIM, HIDDEN});
            t.put(p + "self_attn.o_proj.weight", new long[] {HIDDEN, HEADS * HEAD_DIM});
            t.put(p + "self_attn.q_norm.weight", new long[] {HEAD_DIM});
            t.put(p + "self_attn.k_norm.weight", new long[] {HEAD_DIM});
            t.put(p + "post_attention_layernorm.weight", new long[] {HIDDEN});
            t.put(p + "mlp.gate_proj.weight", new long[] {INTERMEDIATE, HIDDEN});
            t.put(p + "mlp.up_proj.weight", new long[] {INTERMEDIATE, HIDDEN});
            t.put(p + "mlp.down_proj.weight", new long[] {HIDDEN, INTERMEDIATE});
        }
        t.put("model.norm.weight", new long[] {HIDDEN});
        if (!tied) {
            t.put("lm_head.weight", new long[] {VOCAB, HIDDEN});
        }
        t.putAll(extraTensors);
        omitted.forEach(t::remove);
        shapeOverrides.forEach(t::put);
        return t;
    }

    Path writeTo(Path dir) {
        try {
            Files.createDirectories(dir);
            Files.write(dir.resolve("config.json"), Json.MAPPER.writeValueAsBytes(config()));
            Files.writeString(dir.resolve("tokenizer.json"), "{}");
            Files.writeString(dir.resolve("tokenizer_config.json"), "{}");
            writeWeights(dir);
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void writeWeights(Path dir) throws IOException {
        List<Map.Entry<String, long[]>> all = new ArrayList<>(tensors().entrySet());
        if (shards == 1) {
            SafetensorsWriter w = new SafetensorsWriter().metadata("format", "pt");
            all.forEach(e -> add(w, e.getKey(), e.getValue()));
            w.write(dir.resolve("model.safetensors"));
            return;
        }
        Map<String, String> weightMap = new LinkedHashMap<>();
        int perShard = (all.size() + shards - 1) / shards;
        for (int s = 0; s < shards; s++) {
            String file = shardName(s + 1, shards);
            SafetensorsWriter w = new SafetensorsWriter().metadata("format", "pt");
            for (var e : all.subList(Math.min(all.size(), s * perShard), Math.min(all.size(), (s + 1) * perShard))) {
                add(w, e.getKey(), e.getValue());
                weightMap.put(e.getKey(), file);
            }
            w.write(dir.resolve(file));
        }
        writeIndex(dir, weightMap);
    }

    void add(SafetensorsWriter w, String name, long[] shape) {
        w.add(name, dtype, shape, i -> value(name, i));
    }

    static String shardName(int shard, int of) {
        return String.format("model-%05d-of-%05d.safetensors", shard, of);
    }

    static void writeIndex(Path dir, Map<String, String> weightMap) throws IOException {
        Map<String, Object> index = new LinkedHashMap<>();
        index.put("metadata", Map.of("total_size", 0));
        index.put("weight_map", weightMap);
        Files.write(dir.resolve("model.safetensors.index.json"), Json.MAPPER.writeValueAsBytes(index));
    }
}
