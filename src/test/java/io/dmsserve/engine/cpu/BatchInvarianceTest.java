package io.dmsserve.engine.cpu;

import static org.assertj.core.api.Assertions.assertThat;

import io.dmsserve.dms.EvictionPolicies;
import io.dmsserve.dms.EvictionPolicy;
import io.dmsserve.engine.Checkpoint;
import io.dmsserve.engine.DType;
import io.dmsserve.engine.LogitsRequest;
import io.dmsserve.engine.SafetensorsWriter;
import io.dmsserve.engine.SequenceOutput;
import io.dmsserve.engine.StepOutput;
import io.dmsserve.engine.simd.Kernels;
import io.dmsserve.scheduler.StepExecutor;
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

    private static StepExecutor executor(Checkpoint checkpoint) {
        return StepExecutor.allocate(new CpuBackend(checkpoint, 2), 4, 8L << 20, 8);
    }

    private static StepExecutor.Work work(long id, int[] tokens, LogitsRequest logits) {
        return StepExecutor.Work.greedy(id, tokens, true, logits);
    }

    @Test
    void aloneAndBatchedGiveBitIdenticalLogits() throws Exception {
        try (Checkpoint checkpoint = randomCheckpoint();
                StepExecutor alone = executor(checkpoint);
                StepExecutor crowd = executor(checkpoint)) {
            EvictionPolicy policy = EvictionPolicies.create("dms", 0f, checkpoint.config().dms());
            Random random = new Random(4);
            int[] prompt = random.ints(13, 0, VOCAB).toArray();
            alone.open(1, policy);
            crowd.open(1, policy);
            List<StepExecutor.Work> batch = new ArrayList<>(List.of(work(1, prompt, LogitsRequest.ALL)));
            for (int s = 2; s <= 6; s++) {
                crowd.open(s, policy);
                batch.add(work(s, random.ints(3 + s, 0, VOCAB).toArray(), LogitsRequest.ALL));
            }
            SequenceOutput single = alone.run(List.of(work(1, prompt, LogitsRequest.ALL))).get(0);
            StepOutput batched = crowd.run(batch);
            assertThat(batched.get(0).logits()).as("prefill with %s kernels", Kernels.name())
                    .isDeepEqualTo(single.logits());
            int token = single.token();
            int[] next = batched.sequences().stream().mapToInt(SequenceOutput::token).toArray();
            for (int step = 0; step < 12; step++) {
                SequenceOutput one = alone.run(List.of(work(1, new int[] {token}, LogitsRequest.LAST))).get(0);
                List<StepExecutor.Work> decode = new ArrayList<>();
                for (int s = 1; s <= 6; s++) {
                    decode.add(work(s, new int[] {s == 1 ? token : next[s - 1]}, LogitsRequest.LAST));
                }
                StepOutput many = crowd.run(decode);
                assertThat(many.get(0).logits()[0]).as("decode step %d with %s kernels", step, Kernels.name())
                        .isEqualTo(one.logits()[0]);
                assertThat(many.get(0).token()).isEqualTo(one.token());
                token = one.token();
                next = many.sequences().stream().mapToInt(SequenceOutput::token).toArray();
            }
        }
    }
}
