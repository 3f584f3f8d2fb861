package io.dmsserve.cli;

import static org.assertj.core.api.Assertions.assertThat;

import io.dmsserve.dms.Decisions;
import io.dmsserve.dms.EvictionPolicies;
import io.dmsserve.kvcache.KvCacheManager;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** gpubench's JSON lines: valid JSON whatever the strings hold, figures to 6 significant digits, keys in order. */
class GpuBenchCommandTest {

    private static final JsonMapper JSON = JsonMapper.builder().build();

    @Test
    void linesAreJsonWithTheFiguresRoundedAndTheStringsEscaped() {
        String line = GpuBenchCommand.json("run", "model", "/tmp/a \"quoted\" \\ path", "policy",
                "dms(window=512, threshold=-119.565384)", "batch", 16, "pages", 14486753L, "tokens_per_s", 1240.30412,
                "tiny", 0.0000123456789, "zero", 0.0, "threshold", -119.5653839111328f, "nan", Double.NaN, "unmeasured", null,
                "chunks_ms", new double[] {191.123456789, 0.5}, "uptimes_ms", new long[] {123456789012L, 7L});
        JsonNode node = JSON.readTree(line);
        assertThat(node.propertyNames()).containsExactly("what", "model", "policy", "batch", "pages", "tokens_per_s",
                "tiny", "zero", "threshold", "nan", "chunks_ms", "uptimes_ms");  // the null-valued pair left out
        assertThat(node.get("uptimes_ms").size()).isEqualTo(2);
        assertThat(node.get("uptimes_ms").get(0).asLong()).as("whole, not rounded").isEqualTo(123456789012L);
        assertThat(node.get("uptimes_ms").get(1).asLong()).isEqualTo(7L);
        assertThat(node.get("chunks_ms").isArray()).isTrue();
        assertThat(node.get("chunks_ms").get(0).asDouble()).isEqualTo(191.123);
        assertThat(node.get("chunks_ms").get(1).asDouble()).isEqualTo(0.5);
        assertThat(node.get("chunks_ms").size()).isEqualTo(2);
        assertThat(node.get("what").asString()).isEqualTo("run");
        assertThat(node.get("model").asString()).isEqualTo("/tmp/a \"quoted\" \\ path");
        assertThat(node.get("policy").asString()).isEqualTo("dms(window=512, threshold=-119.565384)");
        assertThat(node.get("batch").asLong()).isEqualTo(16);
        assertThat(node.get("pages").asLong()).isEqualTo(14486753L);
        assertThat(node.get("tokens_per_s").asDouble()).isEqualTo(1240.30);
        assertThat(node.get("tiny").asDouble()).isEqualTo(0.0000123457);
        assertThat(node.get("zero").asDouble()).isZero();
        assertThat(node.get("threshold").asDouble()).isEqualTo(-119.565);
        assertThat(node.get("nan").isNull()).as("JSON has no NaN").isTrue();
        assertThat(line).startsWith("{\"what\":\"run\"").doesNotContain("\n");
    }

    @Test
    void profileStepsMustFitInTheDecodeSteps() {
        for (String[] bad : new String[][] {{"--profile-steps", "5"}, {"--profile-steps", "-1"}}) {
            java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
            String[] args = {"--model", "/nowhere", "--decode", "4", bad[0], bad[1]};
            int status = GpuBenchCommand.run(args, new java.io.PrintStream(new java.io.ByteArrayOutputStream()),
                    new java.io.PrintStream(err, true, java.nio.charset.StandardCharsets.UTF_8));
            assertThat(status).isEqualTo(2);
            assertThat(err.toString(java.nio.charset.StandardCharsets.UTF_8))
                    .contains("gpubench: --profile-steps must be 0 to --decode (4), got " + bad[1])
                    .contains("[--profile-steps N]");
        }
    }

    /**
     * The lists line: two sequences of 10 and 4 tokens, nothing evicted, pages of 4, 2 layers x 2 kv heads: lists of
     * 3 and 1 pages (four each), 14 live tokens in 16 slots a pair of lists.
     */
    @Test
    void listStatisticsCountEveryHeadsPageTable() {
        KvCacheManager cache = new KvCacheManager(2, 2, 4, 64, 4, 16);
        int[] lengths = {10, 4};
        for (int s = 0; s < lengths.length; s++) {
            cache.open(100 + s, EvictionPolicies.create("none", 0f, null));
            cache.reserve(100 + s, lengths[s]);
            cache.commit(100 + s, new Decisions(lengths[s], 2, 2, new byte[lengths[s] * 4], 0));
        }
        GpuBenchCommand.Lists lists = GpuBenchCommand.Lists.of(cache, 100, 2);
        assertThat(lists.meanPages()).isEqualTo(2.0);
        assertThat(lists.medianPages()).isEqualTo(3);
        assertThat(lists.p90Pages()).isEqualTo(3);
        assertThat(lists.maxPages()).isEqualTo(3);
        assertThat(lists.worstLayerRatio()).isEqualTo(1.5);
        assertThat(lists.liveShare()).isEqualTo(14.0 / 16);
    }

    /**
     * gpubench's prefill (also its warm-up's) on the CPU backend and the tiny dense model: a 70-token prompt in chunks
     * of 16, each submitted behind the one in flight, samples the token that chunks one at a time sample, and every
     * chunk gets its time and uptime; the sequence holds its 70 tokens after either.
     */
    @Test
    void prefillWithChunksAheadSamplesWhatChunksOneAtATimeSample() {
        try (io.dmsserve.engine.Checkpoint dense = io.dmsserve.engine.Checkpoint.open(
                java.nio.file.Path.of("src/test/resources/golden/tiny-qwen3"));
                io.dmsserve.scheduler.StepExecutor engine = io.dmsserve.scheduler.StepExecutor.allocate(
                        new io.dmsserve.engine.cpu.CpuBackend(dense, 2), 4, 4L << 20, 4)) {
            int[] prompt = new java.util.Random(5).ints(70, 0, dense.config().vocabSize()).toArray();
            int[] sampled = new int[2];
            for (int ahead = 0; ahead < 2; ahead++) {
                double[] millis = new double[5];
                long[] uptimes = new long[5];
                engine.open(ahead, EvictionPolicies.create("none", 0f, null));
                sampled[ahead] = GpuBenchCommand.prefill(engine, ahead, prompt, 16, ahead == 1, millis, uptimes);
                assertThat(engine.inFlight()).isZero();
                assertThat(java.util.Arrays.stream(millis).min().orElseThrow()).isPositive();
                assertThat(java.util.Arrays.stream(uptimes).min().orElseThrow()).isPositive();
                assertThat(engine.cache().sequence(ahead).liveCounts()[0][0]).isEqualTo(70);
                engine.release(ahead);
            }
            assertThat(sampled[1]).isEqualTo(sampled[0]).isNotNegative();
        }
    }

    /**
     * The prefill's model work for Qwen3-8B's shape (ModelConfigTest's config), computed here term by term: 36 layers
     * of 41,943,040 attention and 150,994,944 MLP parameters, a 151,936 x 4,096 lm_head, qDim 4,096.
     */
    @Test
    void prefillModelFlopsCountTheProductsAsRunAndTheCausalAttention() {
        io.dmsserve.engine.ModelConfig qwen3 = new io.dmsserve.engine.ModelConfig("Qwen3ForCausalLM", 4096, 12288, 36,
                32, 8, 128, 151936, 1e6, 1e-6, false, 40960, null);
        assertThat(GpuBenchCommand.parameters(qwen3)).isEqualTo(36L * (41_943_040L + 150_994_944L) + 622_329_856L);
        double products = 2.0 * 36 * (41_943_040L + 150_994_944L) * 4096;   // 56.90 TFLOP
        double lmHead = 2.0 * 622_329_856L;                                // the last token's logits
        double attention = 4.0 * 36 * 4096 * (4096.0 * 4097 / 2);          // 4.949 TFLOP
        assertThat(GpuBenchCommand.prefillModelFlops(qwen3, 1, 4096)).isEqualTo(products + lmHead + attention);
        assertThat(GpuBenchCommand.prefillModelFlops(qwen3, 16, 4096)).isEqualTo(16 * (products + lmHead + attention));
        double counted = 2.0 * GpuBenchCommand.parameters(qwen3) * 4096;  // prefill_TFLOPs' count: 62.00 TFLOP
        assertThat(GpuBenchCommand.prefillModelFlops(qwen3, 1, 4096) / counted).isBetween(0.9976, 0.9977);
    }

    /**
     * A DMS prompt (tiny model, window 16) with {@code ahead}: chunks of 12 go ahead, chunks of 16 (as long as the
     * window) one at a time instead of failing the reservation; either way the token chunks one at a time sample.
     */
    @Test
    void dmsPrefillGoesAheadOnlyWhereTheWindowAllows() {
        try (io.dmsserve.engine.Checkpoint dms = io.dmsserve.engine.Checkpoint.open(
                java.nio.file.Path.of("src/test/resources/golden/tiny-qwen3-dms"));
                io.dmsserve.scheduler.StepExecutor engine = io.dmsserve.scheduler.StepExecutor.allocate(
                        new io.dmsserve.engine.cpu.CpuBackend(dms, 2), 4, 4L << 20, 4)) {
            int[] prompt = new java.util.Random(6).ints(70, 0, dms.config().vocabSize()).toArray();
            for (int chunk : new int[] {12, 16}) {
                int[] sampled = new int[2];
                for (int ahead = 0; ahead < 2; ahead++) {
                    engine.open(ahead, EvictionPolicies.create("dms", 0f, dms.config().dms()));
                    sampled[ahead] = GpuBenchCommand.prefill(engine, ahead, prompt, chunk, ahead == 1, null, null);
                    assertThat(engine.inFlight()).isZero();
                    engine.release(ahead);
                }
                assertThat(sampled[1]).as("chunks of %d", chunk).isEqualTo(sampled[0]).isNotNegative();
            }
        }
    }

    @Test
    void distinctMustNotBeNegative() {
        java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
        String[] args = {"--model", "/nowhere", "--batch", "8", "--distinct", "-1"};
        int status = GpuBenchCommand.run(args, new java.io.PrintStream(new java.io.ByteArrayOutputStream()),
                new java.io.PrintStream(err, true, java.nio.charset.StandardCharsets.UTF_8));
        assertThat(status).isEqualTo(2);
        assertThat(err.toString(java.nio.charset.StandardCharsets.UTF_8))
                .contains("gpubench: --distinct must be >= 0 (0: every sequence prefilled), got -1")
                .contains("[--distinct N]");
    }
}
