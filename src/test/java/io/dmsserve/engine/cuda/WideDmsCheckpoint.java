package io.dmsserve.engine.cuda;

import io.dmsserve.engine.DType;
import io.dmsserve.engine.SafetensorsWriter;
import io.dmsserve.engine.cpu.GoldenCase;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.SplittableRandom;

/**
 * A small Qwen3-DMS checkpoint with head_dim 64, written for a test: the golden checkpoints' head_dim 32 has no
 * tensor-core decode attention, so runs on them never reach the balanced grid (attention.cu,
 * dms_attention_decode_tcb_d*), which only head_dim 64 and 128 have. Random bf16 weights (seeded), unit norms, the
 * golden DMS checkpoint's tokenizer and DMS fields: a decision logit is q · 100 − 5 with q of unit RMS, so about half
 * of the tokens are evicted and few decisions lie near the threshold.
 */
final class WideDmsCheckpoint {

    static final int HIDDEN = 256;
    static final int INTERMEDIATE = 512;
    static final int LAYERS = 2;
    static final int HEADS = 8;
    static final int KV_HEADS = 2;
    static final int HEAD_DIM = 64;
    static final int VOCAB = 512;  // the golden tokenizer's

    private WideDmsCheckpoint() {
    }

    /** Writes the checkpoint into {@code dir} (created) and returns it. */
    static Path write(Path dir) {
        try {
            Files.createDirectories(dir);
            Files.writeString(dir.resolve("config.json"), "{\n  \"architectures\": [\"Qwen3ForCausalLM\"],"
                    + " \"model_type\": \"qwen3\",\n  \"hidden_size\": " + HIDDEN + ", \"intermediate_size\": "
                    + INTERMEDIATE + ", \"num_hidden_layers\": " + LAYERS + ",\n  \"num_attention_heads\": " + HEADS
                    + ", \"num_key_value_heads\": " + KV_HEADS + ", \"head_dim\": " + HEAD_DIM + ", \"vocab_size\": "
                    + VOCAB + ",\n  \"rope_theta\": 1000000, \"rms_norm_eps\": 1e-6, \"max_position_embeddings\": 8192,"
                    + " \"tie_word_embeddings\": false, \"hidden_act\": \"silu\", \"attention_bias\": false,"
                    + " \"torch_dtype\": \"bfloat16\",\n  \"dms_window_size\": 16, \"dms_alpha_scale\": 100.0,"
                    + " \"dms_initial_alpha_offset\": 5.0, \"dms_cr\": 8\n}\n");
            Path golden = GoldenCase.GOLDEN.resolve("tiny-qwen3-dms");
            for (String file : new String[] {"tokenizer.json", "tokenizer_config.json"}) {
                Files.copy(golden.resolve(file), dir.resolve(file), StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        SplittableRandom random = new SplittableRandom(64);
        SafetensorsWriter writer = new SafetensorsWriter();
        linear(writer, random, "model.embed_tokens.weight", VOCAB, HIDDEN, 1.0);
        for (int l = 0; l < LAYERS; l++) {
            String p = "model.layers." + l + ".";
            ones(writer, p + "input_layernorm.weight", HIDDEN);
            ones(writer, p + "post_attention_layernorm.weight", HIDDEN);
            ones(writer, p + "self_attn.q_norm.weight", HEAD_DIM);
            ones(writer, p + "self_attn.k_norm.weight", HEAD_DIM);
            linear(writer, random, p + "self_attn.q_proj.weight", HEADS * HEAD_DIM, HIDDEN, 1.0 / Math.sqrt(HIDDEN));
            linear(writer, random, p + "self_attn.k_proj.weight", KV_HEADS * HEAD_DIM, HIDDEN, 1.0 / Math.sqrt(HIDDEN));
            linear(writer, random, p + "self_attn.v_proj.weight", KV_HEADS * HEAD_DIM, HIDDEN, 1.0 / Math.sqrt(HIDDEN));
            linear(writer, random, p + "self_attn.o_proj.weight", HIDDEN, HEADS * HEAD_DIM,
                    1.0 / Math.sqrt(HEADS * HEAD_DIM));
            linear(writer, random, p + "mlp.gate_proj.weight", INTERMEDIATE, HIDDEN, 1.0 / Math.sqrt(HIDDEN));
            linear(writer, random, p + "mlp.up_proj.weight", INTERMEDIATE, HIDDEN, 1.0 / Math.sqrt(HIDDEN));
            linear(writer, random, p + "mlp.down_proj.weight", HIDDEN, INTERMEDIATE, 1.0 / Math.sqrt(INTERMEDIATE));
        }
        ones(writer, "model.norm.weight", HIDDEN);
        linear(writer, random, "lm_head.weight", VOCAB, HIDDEN, 1.0 / Math.sqrt(HIDDEN));
        writer.write(dir.resolve("model.safetensors"));
        return dir;
    }

    private static void ones(SafetensorsWriter writer, String name, int size) {
        writer.add(name, DType.BF16, new long[] {size}, i -> 1f);
    }

    /** Uniform values of standard deviation {@code scale}. */
    private static void linear(SafetensorsWriter writer, SplittableRandom random, String name, int rows, int cols,
            double scale) {
        writer.add(name, DType.BF16, new long[] {rows, cols},
                i -> (float) ((random.nextDouble() * 2 - 1) * scale * Math.sqrt(3)));
    }
}
