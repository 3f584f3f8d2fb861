package io.dmsserve.tools;

import io.dmsserve.engine.DType;
import io.dmsserve.engine.SafetensorsWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.SplittableRandom;

/**
 * Writes a Qwen3-shaped checkpoint with random bf16 weights, for CPU benchmarks of realistic size (never
 * committed). Uses the real Qwen3 tokenizer files from the golden folder.
 *
 * <pre>java -cp target/classes:target/test-classes:$(cat target/classpath.txt) io.dmsserve.tools.RandomCheckpoint
 *     OUT_DIR [qwen3-0.6b|qwen3-0.6b-dms]</pre>
 */
public final class RandomCheckpoint {

    private RandomCheckpoint() {
    }

    public static void main(String[] args) throws IOException {
        if (args.length < 1) {
            System.err.println("usage: RandomCheckpoint OUT_DIR [qwen3-0.6b|qwen3-0.6b-dms]");
            System.exit(2);
        }
        Path out = Path.of(args[0]);
        boolean dms = args.length > 1 && args[1].endsWith("-dms");
        // Qwen3-0.6B's shape: 28 layers, hidden 1024, 16 heads, 8 KV heads, head_dim 128, tied embeddings.
        int hidden = 1024;
        int intermediate = 3072;
        int layers = 28;
        int heads = 16;
        int kvHeads = 8;
        int headDim = 128;
        int vocab = 151936;
        Files.createDirectories(out);
        String dmsFields = dms ? ",\n  \"dms_window_size\": 512, \"dms_alpha_scale\": 100.0,"
                + " \"dms_initial_alpha_offset\": 5.0, \"dms_cr\": 8" : "";
        Files.writeString(out.resolve("config.json"), "{\n  \"architectures\": [\"Qwen3ForCausalLM\"],"
                + " \"model_type\": \"qwen3\",\n  \"hidden_size\": " + hidden + ", \"intermediate_size\": "
                + intermediate + ", \"num_hidden_layers\": " + layers + ",\n  \"num_attention_heads\": " + heads
                + ", \"num_key_value_heads\": " + kvHeads + ", \"head_dim\": " + headDim + ", \"vocab_size\": "
                + vocab + ",\n  \"rope_theta\": 1000000, \"rms_norm_eps\": 1e-6, \"max_position_embeddings\": 40960,"
                + " \"tie_word_embeddings\": true, \"hidden_act\": \"silu\", \"attention_bias\": false,"
                + " \"torch_dtype\": \"bfloat16\"" + dmsFields + "\n}\n");
        Path tokenizer = Path.of("src/test/resources/golden/qwen3-tokenizer");
        Files.copy(tokenizer.resolve("tokenizer.json"), out.resolve("tokenizer.json"),
                StandardCopyOption.REPLACE_EXISTING);
        Files.copy(tokenizer.resolve("tokenizer_config.json"), out.resolve("tokenizer_config.json"),
                StandardCopyOption.REPLACE_EXISTING);

        SplittableRandom random = new SplittableRandom(42);
        SafetensorsWriter writer = new SafetensorsWriter();
        writer.add("model.embed_tokens.weight", DType.BF16, new long[] {vocab, hidden}, i -> uniform(random, 0.05));
        for (int l = 0; l < layers; l++) {
            String p = "model.layers." + l + ".";
            writer.add(p + "input_layernorm.weight", DType.BF16, new long[] {hidden}, i -> 1f);
            writer.add(p + "post_attention_layernorm.weight", DType.BF16, new long[] {hidden}, i -> 1f);
            writer.add(p + "self_attn.q_norm.weight", DType.BF16, new long[] {headDim}, i -> 1f);
            writer.add(p + "self_attn.k_norm.weight", DType.BF16, new long[] {headDim}, i -> 1f);
            linear(writer, random, p + "self_attn.q_proj.weight", heads * headDim, hidden);
            linear(writer, random, p + "self_attn.k_proj.weight", kvHeads * headDim, hidden);
            linear(writer, random, p + "self_attn.v_proj.weight", kvHeads * headDim, hidden);
            linear(writer, random, p + "self_attn.o_proj.weight", hidden, heads * headDim);
            linear(writer, random, p + "mlp.gate_proj.weight", intermediate, hidden);
            linear(writer, random, p + "mlp.up_proj.weight", intermediate, hidden);
            linear(writer, random, p + "mlp.down_proj.weight", hidden, intermediate);
        }
        writer.add("model.norm.weight", DType.BF16, new long[] {hidden}, i -> 1f);
        writer.write(out.resolve("model.safetensors"));
        System.out.println("wrote " + out.resolve("model.safetensors") + " ("
                + Files.size(out.resolve("model.safetensors")) / 1_000_000 + " MB)");
    }

    private static void linear(SafetensorsWriter writer, SplittableRandom random, String name, int rows, int cols) {
        double scale = 1.0 / Math.sqrt(cols);
        writer.add(name, DType.BF16, new long[] {rows, cols}, i -> uniform(random, scale));
    }

    private static float uniform(SplittableRandom random, double scale) {
        return (float) ((random.nextDouble() * 2 - 1) * scale * Math.sqrt(3));
    }
}
