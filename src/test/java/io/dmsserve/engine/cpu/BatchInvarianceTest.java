package io.dmsserve.engine.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import io.dmsserve.dms.EvictionPolicies;
import io.dmsserve.dms.EvictionPolicy;
import io.dmsserve.engine.Checkpoint;
import io.dmsserve.engine.DType;
import io.dmsserve.engine.SafetensorsWriter;
import io.dmsserve.engine.StepRequest;
import io.dmsserve.engine.StepResult;
import io.dmsserve.engine.simd.Kernels;
import io.dmsserve.sampling.Greedy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A sequence's logits are bit-identical whether it runs alone or batched with others, in prefill and in
 * decode (where alone it takes the one-token path and batched the tiled one). Odd widths (72, 100, 24) so
 * every kernel's column tail is exercised.
 */
class BatchInvarianceTest {

    private static final int HIDDEN = 72;
    private static final int INTERMEDIATE = 100;
    private static final int HEAD_DIM = 24;
    private static final int VOCAB = 77;

    @TempDir
    Path dir;

    private Checkpoint randomCheckpoint() throws Exception {
        Files.writeString(dir.resolve("config.json"), "{\"architectures\": [\"Qwen3ForCausalLM\"], \"model_type\": "
                + "\"qwen3\", \"hidden_size\": " + HIDDEN + ", \"intermediate_size\": " + INTERMEDIATE + ", "
                + "\"num_hidden_layers\": 2, \"num_attention_heads\": 3, \"num_key_value_heads\": 1, \"head_dim\": "
                + HEAD_DIM + ", \"vocab_size\": " + VOCAB + ", \"rope_theta\": 10000, \"rms_norm_eps\": 1e-6, "
                + "\"max_position_embeddings\": 512, \"tie_word_embeddings\": false, \"dms_window_size\": 4, "
                + "\"dms_alpha_scale\": 100.0, \"dms_initial_alpha_offset\": 5.0, \"dms_cr\": 8}");
        Path tokenizer = Path.of("src/test/resources/golden/tiny-qwen3-dms");
        Files.copy(tokenizer.resolve("tokenizer.json"), dir.resolve("tokenizer.json"));
        Files.copy(tokenizer.resolve("tokenizer_config.json"), dir.resolve("tokenizer_config.json"));
        SplittableRandom random = new SplittableRandom(11);
        SafetensorsWriter writer = new SafetensorsWriter();
        writer.add("model.embed_tokens.weight", DType.BF16, new long[] {VOCAB, HIDDEN}, i -> gauss(random, 1));
        writer.add("lm_head.weight", DType.BF16, new long[] {VOCAB, HIDDEN}, i -> gauss(random, 0.2));
        writer.add("model.norm.weight", DType.BF16, new long[] {HIDDEN}, i -> 1 + gauss(random, 0.1));
        for (int l = 0; l < 2; l++) {
            String p = "model.layers." + l + ".";
            writer.add(p + "input_layernorm.weight", DType.BF16, new long[] {HIDDEN}, i -> 1 + gauss(random, 0.1));
            writer.add(p + "post_attention_layernorm.weight", DType.BF16, new long[] {HIDDEN},
                    i -> 1 + gauss(random, 0.1));
            writer.add(p + "self_attn.q_norm.weight", DType.BF16, new long[] {HEAD_DIM}, i -> 1 + gauss(random, 0.1));
            writer.add(p + "self_attn.k_norm.weight", DType.BF16, new long[] {HEAD_DIM}, i -> 1 + gauss(random, 0.1));
            writer.add(p + "self_attn.q_proj.weight", DType.BF16, new long[] {3 * HEAD_DIM, HIDDEN},
                    i -> gauss(random, 0.15));
            writer.add(p + "self_attn.k_proj.weight", DType.BF16, new long[] {HEAD_DIM, HIDDEN}, i -> gauss(random, 0.15));
            writer.add(p + "self_attn.v_proj.weight", DType.BF16, new long[] {HEAD_DIM, HIDDEN}, i -> gauss(random, 0.15));
            writer.add(p + "self_attn.o_proj.weight", DType.BF16, new long[] {HIDDEN, 3 * HEAD_DIM},
                    i -> gauss(random, 0.15));
            writer.add(p + "mlp.gate_proj.weight", DType.BF16, new long[] {INTERMEDIATE, HIDDEN}, i -> gauss(random, 0.15));
            writer.add(p + "mlp.up_proj.weight", DType.BF16, new long[] {INTERMEDIATE, HIDDEN}, i -> gauss(random, 0.15));
            writer.add(p + "mlp.down_proj.weight", DType.BF16, new long[] {HIDDEN, INTERMEDIATE},
                    i -> gauss(random, 0.15));
        }
        writer.write(dir.resolve("model.safetensors"));
        return Checkpoint.open(dir);
    }

    private static float gauss(SplittableRandom random, double scale) {
        // Sum of uniforms: near-normal, cheap, seeded.
        return (float) ((random.nextDouble() + random.nextDouble() + random.nextDouble() - 1.5) * 2 * scale);
    }

    @Test
    void aloneAndBatchedGiveBitIdenticalLogits() throws Exception {
        try (Checkpoint checkpoint = randomCheckpoint();
                CpuBackend alone = new CpuBackend(checkpoint, 4, 8L << 20, 2);
                CpuBackend crowd = new CpuBackend(checkpoint, 4, 8L << 20, 2)) {
            EvictionPolicy policy = EvictionPolicies.create("dms", 0f, checkpoint.config());
            Random random = new Random(4);
            int[] prompt = random.ints(13, 0, VOCAB).toArray();
            alone.open(1, policy);
            crowd.open(1, policy);
            List<StepRequest> batch = new ArrayList<>(List.of(new StepRequest(1, prompt, true, false)));
            for (int s = 2; s <= 6; s++) {
                crowd.open(s, policy);
                batch.add(new StepRequest(s, random.ints(3 + s, 0, VOCAB).toArray(), true, false));
            }
            StepResult single = alone.step(List.of(new StepRequest(1, prompt, true, false))).get(0);
            List<StepResult> batched = crowd.step(batch);
            assertThat(batched.get(0).logits()).as("prefill with %s kernels", Kernels.name())
                    .isDeepEqualTo(single.logits());
            int[] next = batched.stream().mapToInt(r -> Greedy.argmax(r.lastLogits())).toArray();
            int token = Greedy.argmax(single.lastLogits());
            for (int step = 0; step < 12; step++) {
                StepResult one = alone.step(List.of(StepRequest.lastLogits(1, token))).get(0);
                List<StepRequest> decode = new ArrayList<>();
                for (int s = 1; s <= 6; s++) {
                    decode.add(StepRequest.lastLogits(s, s == 1 ? token : next[s - 1]));
                }
                List<StepResult> many = crowd.step(decode);
                assertThat(many.get(0).lastLogits()).as("decode step %d with %s kernels", step, Kernels.name())
                        .isEqualTo(one.lastLogits());
                token = Greedy.argmax(one.lastLogits());
                next = many.stream().mapToInt(r -> Greedy.argmax(r.lastLogits())).toArray();
            }
        }
    }
}
