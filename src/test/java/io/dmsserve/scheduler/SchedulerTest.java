package io.dmsserve.scheduler;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dmsserve.dms.EvictionPolicies;
import io.dmsserve.dms.EvictionPolicy;
import io.dmsserve.engine.Checkpoint;
import io.dmsserve.engine.GatedBackend;
import io.dmsserve.engine.cpu.CpuBackend;
import io.dmsserve.kvcache.KvCacheFullException;
import io.dmsserve.sampling.SamplingParams;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * The scheduler on the CPU backend and the tiny DMS model, checked against the golden greedy tokens from
 * the independent reference: alone, batched with 31 others, preempted and recomputed.
 */
class SchedulerTest {

    private static final Path MODEL = Path.of("src/test/resources/golden/tiny-qwen3-dms");
    private static Checkpoint checkpoint;
    private static List<int[]> goldenPrompts = new ArrayList<>();
    private static List<int[]> goldenGreedy = new ArrayList<>();

    @BeforeAll
    static void load() {
        checkpoint = Checkpoint.open(MODEL);
        JsonNode root = JsonMapper.builder().build().readTree(MODEL.resolve("golden.json").toFile());
        for (JsonNode c : root.get("cases")) {
            if (c.get("policy").asString().equals("dms") && c.get("threshold").asDouble() == 0.0) {
                goldenPrompts.add(ints(c.get("prompt_ids")));
                goldenGreedy.add(ints(c.get("greedy")));
            }
        }
    }

    @AfterAll
    static void close() {
        checkpoint.close();
    }

    private static int[] ints(JsonNode node) {
        int[] out = new int[node.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = node.get(i).asInt();
        }
        return out;
    }

    private static EvictionPolicy dms() {
        return EvictionPolicies.create("dms", 0f, checkpoint.config().dms());
    }

    private static GenerationRequest greedy(int[] prompt, int maxTokens, GenerationListener listener) {
        return new GenerationRequest(prompt, maxTokens, SamplingParams.GREEDY, Set.of(), null, null, listener);
    }

    /** A CPU backend with a pool of {@code pages} pages of 4 tokens, for up to 64 sequences. */
    private static StepExecutor cpu(long pages) {
        CpuBackend backend = new CpuBackend(checkpoint, 2);
        return StepExecutor.allocate(backend, 4, pages * backend.kvBytesPerPage(4), 64);
    }

    /** Pages of 4 tokens in 32 MB of fp32 keys and values: more than any test here needs. */
    private static final long PLENTY = 32L << 20 >> 11;

    private static SchedulerSettings settings(int stepTokens) {
        return new SchedulerSettings(64, 64, stepTokens, Duration.ofMinutes(1));
    }

    @Test
    void aloneAndBatchedWithThirtyOneOthersGiveTheGoldenGreedyTokens() throws Exception {
        try (StepExecutor backend = cpu(PLENTY);
                Scheduler scheduler = new Scheduler(backend, settings(48), dms()).start()) {
            RecordingListener alone = new RecordingListener();
            scheduler.submit(greedy(goldenPrompts.get(0), 72, alone));
            assertEquals(FinishReason.LENGTH, alone.await());
            assertArrayEquals(goldenGreedy.get(0), alone.ids());

            Random random = new Random(5);
            List<RecordingListener> listeners = new ArrayList<>();
            for (int i = 0; i < 32; i++) {
                RecordingListener listener = new RecordingListener();
                int[] prompt = i < goldenPrompts.size() ? goldenPrompts.get(i)
                        : random.ints(1 + random.nextInt(60), 0, 450).toArray();
                scheduler.submit(greedy(prompt, 72, listener));
                listeners.add(listener);
            }
            for (int i = 0; i < listeners.size(); i++) {
                assertEquals(FinishReason.LENGTH, listeners.get(i).await());
                assertEquals(72, listeners.get(i).usage.completionTokens());
                if (i < goldenPrompts.size()) {
                    assertArrayEquals(goldenGreedy.get(i), listeners.get(i).ids(), "golden case " + i + " batched");
                }
            }
            assertEquals(0, backend.statistics().pagesInUse());
        }
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"none", "dms"})
    void preemptedSequencesAreRecomputedToTheSameTokens(String policyName) throws Exception {
        // A pool far too small for five long sequences at once: the youngest give their pages back.
        var config = checkpoint.config();
        long pages = config.numLayers() * config.numKvHeads() * 16L;
        try (StepExecutor backend = cpu(pages);
                Scheduler scheduler = new Scheduler(backend, settings(64), EvictionPolicies.create(policyName, 0,
                        config.dms())).start()) {
            List<RecordingListener> listeners = new ArrayList<>();
            List<int[]> prompts = new ArrayList<>();
            Random random = new Random(9);
            for (int i = 0; i < 5; i++) {
                int[] prompt = random.ints(10, 0, 450).toArray();
                prompts.add(prompt);
                RecordingListener listener = new RecordingListener();
                scheduler.submit(greedy(prompt, 30, listener));
                listeners.add(listener);
            }
            for (RecordingListener listener : listeners) {
                assertEquals(FinishReason.LENGTH, listener.await());
            }
            assertTrue(scheduler.statistics().preemptions() > 0, "the pool forced preemptions");
            for (int i = 0; i < 5; i++) {
                RecordingListener alone = new RecordingListener();
                scheduler.submit(greedy(prompts.get(i), 30, alone));
                alone.await();
                assertArrayEquals(alone.ids(), listeners.get(i).ids(), "sequence " + i + " after preemption");
            }
            assertEquals(0, backend.statistics().pagesInUse());
        }
    }

    @Test
    void cancelledSequencesReturnTheirPages() throws Exception {
        try (StepExecutor backend = cpu(PLENTY);
                Scheduler scheduler = new Scheduler(backend, settings(64), dms()).start()) {
            List<RecordingListener> listeners = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                RecordingListener listener = new RecordingListener(3 + i);
                listener.attach(scheduler.submit(greedy(goldenPrompts.get(i % goldenPrompts.size()), 1000,
                        listener)));
                listeners.add(listener);
            }
            for (RecordingListener listener : listeners) {
                assertEquals(FinishReason.CANCELLED, listener.await());
            }
            assertEquals(0, backend.statistics().pagesInUse());
            assertEquals(20, scheduler.statistics().cancelled());
        }
    }

    @Test
    void aFullQueueRefusesAtOnceAndStopTokensEndSequences() throws Exception {
        // The engine's steps wait at a gate while the requests arrive, so none can finish and free its place:
        // exactly max-running (1) + max-waiting (2) are taken, whatever the machine's speed.
        CpuBackend cpu = new CpuBackend(checkpoint, 2);
        GatedBackend gate = new GatedBackend(cpu);
        gate.hold();
        try (StepExecutor backend = StepExecutor.allocate(gate, 4, PLENTY * cpu.kvBytesPerPage(4), 64);
                Scheduler scheduler = new Scheduler(backend, new SchedulerSettings(2, 1, 64, Duration.ofMinutes(1)),
                        dms()).start()) {
            List<RecordingListener> accepted = new ArrayList<>();
            List<String> refusals = new ArrayList<>();
            for (int i = 0; i < 20; i++) {
                RecordingListener listener = new RecordingListener();
                try {
                    scheduler.submit(greedy(goldenPrompts.get(0), 200, listener));
                    accepted.add(listener);
                } catch (QueueFullException e) {
                    refusals.add(e.getMessage());
                }
                if (i == 0) {
                    gate.awaitHeldStep(); // the first is in the batch, its first step held
                }
            }
            assertEquals(3, accepted.size(), "taken: max-running + max-waiting");
            assertEquals(Collections.nCopies(17, "the server is at capacity: 2 requests are already waiting"), refusals);
            assertEquals(17, scheduler.statistics().refused());
            gate.release();
            for (RecordingListener listener : accepted) {
                assertEquals(FinishReason.LENGTH, listener.await(), "every admitted request completes");
            }
            // The golden greedy continuation's 5th token as a stop token ends the sequence there.
            int stop = goldenGreedy.get(0)[4];
            RecordingListener stopped = new RecordingListener();
            scheduler.submit(new GenerationRequest(goldenPrompts.get(0), 72, SamplingParams.GREEDY, Set.of(stop), null,
                    null, stopped));
            assertEquals(FinishReason.STOP, stopped.await());
            int firstStop = 0;
            while (goldenGreedy.get(0)[firstStop] != stop) {
                firstStop++;
            }
            assertEquals(firstStop, stopped.ids().length, "tokens before the stop token are emitted, it is not");
            assertEquals(firstStop + 1, stopped.usage.completionTokens());
        }
    }

    @Test
    void deadlinesAndImpossibleRequestsEndClearly() throws Exception {
        var config = checkpoint.config();
        try (StepExecutor backend = cpu(config.numLayers() * config.numKvHeads() * 2L);
                Scheduler scheduler = new Scheduler(backend, settings(64), dms()).start()) {
            // 12 pages of 4 tokens: a 40-token prompt can never fit, even its window: refused at once.
            KvCacheFullException refused = assertThrows(KvCacheFullException.class,
                    () -> scheduler.submit(greedy(goldenPrompts.get(3), 5, new RecordingListener())));
            assertTrue(refused.getMessage().contains("more than the 12 pages"), refused.getMessage());
            // A 5-token prompt fits, but its window of 17 tokens per head does not: once it has answered,
            // a full cache ends it like a context limit, with the tokens it has.
            RecordingListener full = new RecordingListener();
            scheduler.submit(greedy(goldenPrompts.get(0), 60, full));
            assertEquals(FinishReason.LENGTH, full.await());
            assertTrue(full.ids().length > 0 && full.ids().length < 60, full.ids().length + " tokens");
            assertArrayEquals(java.util.Arrays.copyOf(goldenGreedy.get(0), full.ids().length), full.ids());
            assertEquals(0, backend.statistics().pagesInUse());
        }
        try (StepExecutor backend = cpu(PLENTY);
                Scheduler scheduler = new Scheduler(backend, settings(64), dms()).start()) {
            RecordingListener late = new RecordingListener();
            scheduler.submit(new GenerationRequest(goldenPrompts.get(0), 100_000, SamplingParams.GREEDY, Set.of(),
                    Duration.ofMillis(200), null, late));
            assertEquals(FinishReason.TIMEOUT, late.await());
            assertEquals(0, backend.statistics().pagesInUse());
            assertThrows(IllegalArgumentException.class, () -> scheduler.submit(greedy(new int[5000], 1,
                    new RecordingListener())));
        }
    }

    /** A long prompt is prefilled in chunks between decode steps: the decoding sequence gets a token each step. */
    @Test
    void decodingGoesOnWhileALongPromptIsPrefilled() throws Exception {
        try (StepExecutor backend = cpu(PLENTY);
                Scheduler scheduler = new Scheduler(backend, settings(16), dms()).start()) {
            RecordingListener decoder = new RecordingListener();
            scheduler.submit(greedy(goldenPrompts.get(0), 400, decoder));
            while (decoder.ids().length < 5) {
                Thread.sleep(1);
            }
            int before = decoder.ids().length;
            int[] decodedWhenLongAnswered = new int[1];
            RecordingListener longPrompt = new RecordingListener() {
                @Override
                public synchronized boolean onToken(int tokenId) {
                    decodedWhenLongAnswered[0] = decoder.ids().length;
                    return super.onToken(tokenId);
                }
            };
            scheduler.submit(greedy(new Random(3).ints(300, 0, 450).toArray(), 1, longPrompt));
            assertEquals(FinishReason.LENGTH, longPrompt.await());
            // 300 prompt tokens in steps of 16 tokens, one of them the decoder's: at least 20 steps of prefill.
            assertTrue(decodedWhenLongAnswered[0] - before >= 20,
                    "decoder advanced " + (decodedWhenLongAnswered[0] - before) + " tokens during the prefill");
            assertEquals(FinishReason.LENGTH, decoder.await());
            assertArrayEquals(java.util.Arrays.copyOf(goldenGreedy.get(0), 72),
                    java.util.Arrays.copyOf(decoder.ids(), 72), "the decoder's tokens are unaffected");
        }
    }

    @Test
    void seededSamplingDoesNotDependOnTheBatch() throws Exception {
        try (StepExecutor backend = cpu(PLENTY);
                Scheduler scheduler = new Scheduler(backend, settings(64), dms()).start()) {
            SamplingParams seeded = new SamplingParams(0.9, 0.95, 40, 77L);
            RecordingListener alone = new RecordingListener();
            scheduler.submit(new GenerationRequest(goldenPrompts.get(1), 40, seeded, Set.of(), null, null, alone));
            alone.await();
            List<RecordingListener> crowd = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                RecordingListener listener = new RecordingListener();
                SamplingParams params = i == 3 ? seeded : new SamplingParams(1.0, 1, 0, (long) i);
                scheduler.submit(new GenerationRequest(goldenPrompts.get(i == 3 ? 1 : i % goldenPrompts.size()), 40,
                        params, Set.of(), null, null, listener));
                crowd.add(listener);
            }
            for (RecordingListener listener : crowd) {
                listener.await();
            }
            assertArrayEquals(alone.ids(), crowd.get(3).ids());
        }
    }
}
