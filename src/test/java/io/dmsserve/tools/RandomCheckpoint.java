package io.dmsserve.tools;

import io.dmsserve.engine.DType;
import io.dmsserve.engine.SafetensorsWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.SplittableRandom;

/**
 * Writes a Qwen3-shaped checkpoint with random bf16 weights (seeded; unit norms): for CPU benchmarks of realistic
 * size (never committed), and for tests that need a shape the golden checkpoints lack ({@link #write}).
 *
 * <pre>java -cp target/classes:target/test-classes:$(cat target/classpath.txt) io.dmsserve.tools.RandomCheckpoint
 *     OUT_DIR [qwen3-0.6b|qwen3-0.6b-dms]</pre>
 */
public final class RandomCheckpoint {

    /**
     * A checkpoint's shape. {@code dmsWindow} 0: a plain Qwen3; otherwise DMS fields with that window (alpha scale
     * 100, offset 5, cr 8). Untied embeddings get an lm_head of their own.
     */
    public record Shape(int hidden, int intermediate, int layers, int heads, int kvHeads, int headDim, int vocab,
            boolean tied, int dmsWindow) {
    }

    /** The real Qwen3 tokenizer (vocab 151,936). */
    public static final Path QWEN3_TOKENIZER = Path.of("src/test/resources/golden/qwen3-tokenizer");

    private RandomCheckpoint() {
    }

    public static void main(String[] args) {
        if (args.length < 1) {
            System.err.println("usage: RandomCheckpoint OUT_DIR [qwen3-0.6b|qwen3-0.6b-dms]");
            System.exit(2);
        }
        Path out = Path.of(args[0]);
        boolean dms = args.length > 1 && args[1].endsWith("-dms");
        // Qwen3-0.6B's shape: 28 layers, hidden 1024, 16 heads, 8 KV heads, head_dim 128, tied embeddings.
        write(out, new Shape(1024, 3072, 28, 16, 8, 128, 151936, true, dms ? 512 : 0), QWEN3_TOKENIZER, 42, 0.05);
        try {
            System.out.println("wrote " + out.resolve("model.safetensors") + " ("
                    + Files.size(out.resolve("model.safetensors")) / 1_000_000 + " MB)");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Writes config.json, the tokenizer files of {@code tokenizer} and model.safetensors into {@code out} (created):
     * embeddings uniform of standard deviation {@code embeddingScale}, every linear layer of 1 / sqrt(its inputs).
     */
    public static Path write(Path out, Shape s, Path tokenizer, long seed, double embeddingScale) {
        String dmsFields = s.dmsWindow() > 0 ? ",\n  \"dms_window_size\": " + s.dmsWindow()
                + ", \"dms_alpha_scale\": 100.0, \"dms_initial_alpha_offset\": 5.0, \"dms_cr\": 8" : "";
        try {
            Files.createDirectories(out);
            Files.writeString(out.resolve("config.json"), "{\n  \"architectures\": [\"Qwen3ForCausalLM\"],"
                    + " \"model_type\": \"qwen3\",\n  \"hidden_size\": " + s.hidden() + ", \"intermediate_size\": "
                    + s.intermediate() + ", \"num_hidden_layers\": " + s.layers() + ",\n  \"num_attention_heads\": "
                    + s.heads() + ", \"num_key_value_heads\": " + s.kvHeads() + ", \"head_dim\": " + s.headDim()
                    + ", \"vocab_size\": " + s.vocab() + ",\n  \"rope_theta\": 1000000, \"rms_norm_eps\": 1e-6,"
                    + " \"max_position_embeddings\": 40960, \"tie_word_embeddings\": " + s.tied()
                    + ", \"hidden_act\": \"silu\", \"attention_bias\": false, \"torch_dtype\": \"bfloat16\""
                    + dmsFields + "\n}\n");
            for (String file : new String[] {"tokenizer.json", "tokenizer_config.json"}) {
                Files.copy(tokenizer.resolve(file), out.resolve(file), StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        SplittableRandom random = new SplittableRandom(seed);
        SafetensorsWriter writer = new SafetensorsWriter();
        writer.add("model.embed_tokens.weight", DType.BF16, new long[] {s.vocab(), s.hidden()},
                i -> uniform(random, embeddingScale));
        int q = s.heads() * s.headDim();
        int kv = s.kvHeads() * s.headDim();
        for (int l = 0; l < s.layers(); l++) {
            String p = "model.layers." + l + ".";
            ones(writer, p + "input_layernorm.weight", s.hidden());
            ones(writer, p + "post_attention_layernorm.weight", s.hidden());
            ones(writer, p + "self_attn.q_norm.weight", s.headDim());
            ones(writer, p + "self_attn.k_norm.weight", s.headDim());
            linear(writer, random, p + "self_attn.q_proj.weight", q, s.hidden());
            linear(writer, random, p + "self_attn.k_proj.weight", kv, s.hidden());
            linear(writer, random, p + "self_attn.v_proj.weight", kv, s.hidden());
            linear(writer, random, p + "self_attn.o_proj.weight", s.hidden(), q);
            linear(writer, random, p + "mlp.gate_proj.weight", s.intermediate(), s.hidden());
            linear(writer, random, p + "mlp.up_proj.weight", s.intermediate(), s.hidden());
            linear(writer, random, p + "mlp.down_proj.weight", s.hidden(), s.intermediate());
        }
        ones(writer, "model.norm.weight", s.hidden());
        if (!s.tied()) {
            linear(writer, random, "lm_head.weight", s.vocab(), s.hidden());
        }
        writer.write(out.resolve("model.safetensors"));
        return out;
    }

    private static void ones(SafetensorsWriter writer, String name, int size) {
        writer.add(name, DType.BF16, new long[] {size}, i -> 1f);
    }

    private static void linear(SafetensorsWriter writer, SplittableRandom random, String name, int rows, int cols) {
        double scale = 1.0 / Math.sqrt(cols);
        writer.add(name, DType.BF16, new long[] {rows, cols}, i -> uniform(random, scale));
    }

    /** Uniform in [-scale sqrt 3, scale sqrt 3): standard deviation {@code scale}. */
    private static float uniform(SplittableRandom random, double scale) {
        return (float) ((random.nextDouble() * 2 - 1) * scale * Math.sqrt(3));
    }
}
