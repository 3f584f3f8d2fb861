package io.dmsserve.scheduler;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dmsserve.dms.EvictionPolicies;
import io.dmsserve.engine.Backend;
import io.dmsserve.engine.Checkpoint;
import io.dmsserve.engine.DelegatingBackend;
import io.dmsserve.engine.ModelConfig;
import io.dmsserve.engine.PendingStep;
import io.dmsserve.engine.SequenceStep;
import io.dmsserve.engine.StepOutput;
import io.dmsserve.engine.StepPlan;
import io.dmsserve.engine.cpu.CpuBackend;
import io.dmsserve.kvcache.KvCacheManager;
import io.dmsserve.sampling.SamplingParams;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Decode steps submitted before the step before them is read, their tokens fed back by the backend
 * ({@code dms.scheduler.overlap}): the same tokens, ends and pages as one step at a time, on the CPU backend and the
 * tiny DMS model, with sequences that end at different steps, a stop token, cancellations and sampling.
 */
class OverlappedStepsTest {

    private static final Path MODEL = Path.of("src/test/resources/golden/tiny-qwen3-dms");
    private static Checkpoint checkpoint;

    @BeforeAll
    static void load() {
        checkpoint = Checkpoint.open(MODEL);
    }

    @AfterAll
    static void close() {
        checkpoint.close();
    }

    /** What one run of the workload gave: per request, its tokens and how it ended; steps that fed tokens back. */
    private record Run(List<int[]> tokens, List<FinishReason> ends, int fedBackSteps, int pagesInUse) {
    }

    @ParameterizedTest
    @ValueSource(strings = {"none", "dms"})
    void overlappedStepsGiveWhatStepsOneAtATimeGive(String policy) throws Exception {
        Run serial = run(policy, false, false);
        // The CPU backend runs a step when it is submitted; deferred, it runs it when it is read, as a device that
        // is a step behind would: step n + 1 is then planned and reserved before step n has run.
        for (boolean deferred : new boolean[] {false, true}) {
            Run overlapped = run(policy, true, deferred);
            assertTrue(overlapped.fedBackSteps() > 20, "overlapped steps ran: " + overlapped.fedBackSteps());
            for (int i = 0; i < serial.tokens().size(); i++) {
                assertArrayEquals(serial.tokens().get(i), overlapped.tokens().get(i), "request " + i);
                assertEquals(serial.ends().get(i), overlapped.ends().get(i), "request " + i);
            }
            assertEquals(0, overlapped.pagesInUse());
        }
        assertEquals(0, serial.fedBackSteps(), "without overlap no step feeds a token back");
        assertEquals(0, serial.pagesInUse());
    }

    /**
     * A step that fails while the next one is in flight fails the running sequences, drops the step in flight, and
     * leaves nothing behind: the pool empties, nothing stays queued, and the next request is served.
     */
    @org.junit.jupiter.api.Test
    void aStepThatFailsWhileTheNextIsInFlightLeavesNothingBehind() throws Exception {
        CountingBackend backend = new CountingBackend(new CpuBackend(checkpoint, 2));
        backend.deferred = true;
        try (StepExecutor executor = executor(backend, 8);
                Scheduler scheduler = new Scheduler(executor, new SchedulerSettings(8, 8, 64, Duration.ofMinutes(1),
                        true), EvictionPolicies.create("dms", 0f, checkpoint.config().dms())).start()) {
            Random random = new Random(8);
            List<RecordingListener> listeners = new ArrayList<>();
            List<GenerationRequest> requests = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                RecordingListener listener = new RecordingListener();
                listeners.add(listener);
                requests.add(new GenerationRequest(random.ints(5 + i, 0, 450).toArray(), 30, SamplingParams.GREEDY,
                        Set.of(), null, null, listener));
            }
            backend.failAtAwait = 6;  // an overlapped decode step: the steps before it prefilled and began decoding
            scheduler.submitAll(requests);
            for (RecordingListener listener : listeners) {
                org.junit.jupiter.api.Assertions.assertThrows(java.util.concurrent.ExecutionException.class,
                        listener::await);
            }
            assertTrue(backend.fedBack.get() > 0, "the failing step had a step behind it: " + backend.fedBack.get());
            assertEquals(0, executor.inFlight());
            assertEquals(0, executor.statistics().pagesInUse());
            RecordingListener after = new RecordingListener();
            scheduler.submit(new GenerationRequest(random.ints(7, 0, 450).toArray(), 12, SamplingParams.GREEDY,
                    Set.of(), null, null, after));
            assertEquals(FinishReason.LENGTH, after.await());
            assertEquals(12, after.ids().length);
            assertEquals(0, executor.statistics().pagesInUse());
        }
    }

    /**
     * A full batch overlaps while a request waits for a place (it could not join anyway), and a waiting request that
     * is cancelled still ends at once rather than when a place frees.
     */
    @org.junit.jupiter.api.Test
    void aFullBatchOverlapsWhileRequestsWaitAndAWaitingCancellationEndsAtOnce() throws Exception {
        CountingBackend backend = new CountingBackend(new CpuBackend(checkpoint, 2));
        try (StepExecutor executor = executor(backend, 8);
                Scheduler scheduler = new Scheduler(executor, new SchedulerSettings(8, 2, 64, Duration.ofMinutes(1),
                        true), EvictionPolicies.create("dms", 0f, checkpoint.config().dms())).start()) {
            Random random = new Random(9);
            List<String> ends = java.util.Collections.synchronizedList(new ArrayList<>());
            List<RecordingListener> listeners = new ArrayList<>();
            List<GenerationRequest> requests = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                int index = i;
                RecordingListener listener = new RecordingListener() {
                    @Override
                    public void onComplete(FinishReason reason, Usage usage) {
                        ends.add(index + " " + reason);
                        super.onComplete(reason, usage);
                    }
                };
                listeners.add(listener);
                requests.add(new GenerationRequest(random.ints(6, 0, 450).toArray(), i < 2 ? 60 : 5,
                        SamplingParams.GREEDY, Set.of(), null, null, listener));
            }
            List<GenerationHandle> handles = scheduler.submitAll(requests);
            while (listeners.get(0).ids().length < 10) {
                Thread.sleep(1);
            }
            int fedBackBefore = backend.fedBack.get();
            handles.get(3).cancel();  // waiting: the batch holds 0 and 1
            assertEquals(FinishReason.CANCELLED, listeners.get(3).await());
            assertTrue(listeners.get(0).ids().length < 60, "the waiting request ended before a place freed: " + ends);
            assertTrue(fedBackBefore > 5, "the full batch overlapped while 2 and 3 waited: " + fedBackBefore);
            for (int i = 0; i < 3; i++) {
                assertEquals(FinishReason.LENGTH, listeners.get(i).await(), "request " + i);
            }
            assertEquals(0, executor.statistics().pagesInUse());
        }
    }

    /**
     * With overlap on, a DMS prompt's last chunk is still committed with no step of its sequence in flight, so the
     * slots the chunks' evictions freed are repacked before decode goes on overlapped: three tokens into the decode
     * (steps that fed tokens back), the pool holds fewer pages with repacking on than off. Were the step after the
     * last chunk overlapped, the sequence would have a step in flight at every commit until its last tokens. Chunks
     * of 64: a last chunk of 8 tokens, and of one. (Chunks shorter than the window, which go ahead, free little to
     * repack: their evictions' slots are refilled chunk by chunk.)
     */
    @ParameterizedTest
    @ValueSource(ints = {200, 193})
    void aPromptsLastChunkIsRepackedBeforeDecodeOverlaps(int prompt) throws Exception {
        int[] pages = new int[2];
        for (boolean repack : new boolean[] {true, false}) {
            CountingBackend backend = new CountingBackend(new CpuBackend(checkpoint, 2));
            try (StepExecutor executor = executor(backend, 8, repack);
                    Scheduler scheduler = new Scheduler(executor, new SchedulerSettings(8, 8, 64,
                            Duration.ofMinutes(1), true), EvictionPolicies.create("dms", 0f,
                                    checkpoint.config().dms())).start()) {
                int[] seen = {-1};
                RecordingListener listener = new RecordingListener() {
                    @Override
                    public synchronized boolean onToken(int tokenId) {
                        if (tokens.size() == 3) {  // on the engine's thread, between its steps' commits
                            seen[0] = executor.statistics().pagesInUse();
                        }
                        return super.onToken(tokenId);
                    }
                };
                scheduler.submit(new GenerationRequest(new Random(5).ints(prompt, 0, 450).toArray(), 12,
                        SamplingParams.GREEDY, Set.of(), null, null, listener));
                assertEquals(FinishReason.LENGTH, listener.await());
                assertTrue(backend.fedBack.get() > 3, "decode overlapped: " + backend.fedBack.get());
                pages[repack ? 0 : 1] = seen[0];
            }
        }
        assertTrue(pages[0] > 0 && pages[0] < pages[1], pages[0] + " pages repacked against " + pages[1]);
    }

    /**
     * A prompt admitted with others but waiting for its prefill (the step's token budget went to them) must not wait
     * while the others decode overlapped: overlap needs every running sequence in the step. With 16 tokens a step, A
     * (4 tokens) and B (12) fill the first step and both sample; C (40 tokens) is prefilled in the steps after.
     */
    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void aPromptWaitingForItsPrefillIsNotHeldBackByOverlappedSteps(boolean overlap) throws Exception {
        List<String> order = java.util.Collections.synchronizedList(new ArrayList<>());
        CountingBackend backend = new CountingBackend(new CpuBackend(checkpoint, 2));
        try (StepExecutor executor = executor(backend, 8);
                Scheduler scheduler = new Scheduler(executor, new SchedulerSettings(8, 8, 16, Duration.ofMinutes(1),
                        overlap), EvictionPolicies.create("dms", 0f, checkpoint.config().dms())).start()) {
            Random random = new Random(3);
            List<RecordingListener> listeners = new ArrayList<>();
            List<GenerationRequest> requests = new ArrayList<>();
            String[] names = {"A", "B", "C"};
            int[] prompts = {4, 12, 40};
            for (int i = 0; i < 3; i++) {
                String name = names[i];
                RecordingListener listener = new RecordingListener() {
                    @Override
                    public synchronized boolean onToken(int tokenId) {
                        order.add(name);
                        return super.onToken(tokenId);
                    }
                };
                listeners.add(listener);
                requests.add(new GenerationRequest(random.ints(prompts[i], 0, 450).toArray(), i == 2 ? 5 : 30,
                        SamplingParams.GREEDY, Set.of(), null, null, listener));
            }
            scheduler.submitAll(requests);
            for (RecordingListener listener : listeners) {
                assertEquals(FinishReason.LENGTH, listener.await());
            }
            int aTokensBeforeC = order.subList(0, order.indexOf("C")).stream().filter("A"::equals).toList().size();
            assertTrue(aTokensBeforeC < 8, "C's first token came after " + aTokensBeforeC + " of A's: " + order);
            assertEquals(0, executor.statistics().pagesInUse());
            if (overlap) {
                assertTrue(backend.fedBack.get() > 10, "steps overlapped once C decoded too: " + backend.fedBack.get());
            }
        }
    }

    /**
     * Prompts longer than a step's token budget are fed chunk after chunk; where every running sequence is in the
     * step and the chunk in flight cannot change what the next one frees (a policy that never evicts, or a DMS window,
     * 16 tokens in the tiny model, of at least the chunk in flight + 1: SequenceKv#canReserveAhead), the next chunk is
     * submitted before the one in flight is read (and decode follows a last chunk the same way for a sequence that
     * never evicts), with the same tokens, ends and pages as one step at a time, also with the device a step behind
     * (deferred) and a request cancelled while a chunk of its prompt is in flight. At 24 tokens a step a DMS prompt's
     * chunks (22 to 24 tokens) go step by step.
     */
    @ParameterizedTest
    @org.junit.jupiter.params.provider.CsvSource({"none, 16, 8", "dms, 12, 12", "dms, 24, 0"})
    void promptChunksGoAheadWhereTheChunkInFlightFreesNothingTheNextNeeds(String policy, int stepTokens,
            int leastAhead) throws Exception {
        List<Object> serial = chunkedRun(policy, stepTokens, false, false);
        assertEquals(0, serial.get(2), "without overlap no prompt chunk goes ahead");
        for (boolean deferred : new boolean[] {false, true}) {
            List<Object> overlapped = chunkedRun(policy, stepTokens, true, deferred);
            assertEquals(serial.get(0), overlapped.get(0), "tokens and ends, deferred " + deferred);
            // The steps the continuation made are those the planner made: each sequence's chunk the same length.
            assertEquals(serial.get(3), overlapped.get(3), "each step's sequences and tokens, deferred " + deferred);
            if (leastAhead > 0) {
                assertTrue((int) overlapped.get(2) >= leastAhead, "prompt chunks went ahead: " + overlapped.get(2));
            } else {
                assertEquals(0, overlapped.get(2), "a DMS prompt's chunks longer than its window go step by step");
            }
            assertEquals(0, overlapped.get(1), "pages in use after the run");
        }
        assertEquals(0, serial.get(1), "pages in use after the run");
    }

    /**
     * Three rounds, {@code stepTokens} a step: requests of 4 and 6 prompt tokens (30 greedy tokens, 25 seeded) and one
     * of 90 (8 greedy), which shares the steps with their decode (at 16 a step: 6 prompt tokens, then chunks of 14); one
     * of 70 prompt tokens cancelled at its third step; one of 50 (6 seeded tokens). Its outcomes (end and tokens of
     * each), the pages in use after, the steps with prompt tokens submitted while another was in flight, and each
     * step's sequences and token counts.
     */
    private List<Object> chunkedRun(String policyName, int stepTokens, boolean overlap, boolean deferred)
            throws Exception {
        CountingBackend backend = new CountingBackend(new CpuBackend(checkpoint, 2));
        backend.deferred = deferred;
        try (StepExecutor executor = executor(backend, 8);
                Scheduler scheduler = new Scheduler(executor, new SchedulerSettings(8, 8, stepTokens,
                        Duration.ofMinutes(1), overlap), EvictionPolicies.create(policyName, 0f,
                                checkpoint.config().dms())).start()) {
            Random random = new Random(23);
            List<String> outcome = new ArrayList<>();
            List<RecordingListener> round = new ArrayList<>();
            List<GenerationRequest> requests = new ArrayList<>();
            int[][] shapes = {{4, 30}, {6, 25}, {90, 8}};
            for (int i = 0; i < shapes.length; i++) {
                RecordingListener listener = new RecordingListener();
                round.add(listener);
                requests.add(new GenerationRequest(random.ints(shapes[i][0], 0, 450).toArray(), shapes[i][1],
                        i == 1 ? new SamplingParams(0.9, 0.95, 0, 501L) : SamplingParams.GREEDY, Set.of(), null,
                        null, listener));
            }
            scheduler.submitAll(requests);
            for (RecordingListener listener : round) {
                outcome.add(listener.await() + " " + java.util.Arrays.toString(listener.ids()));
            }
            // The engine thread waits at the request's third step for its handle, then cancels it.
            java.util.concurrent.CompletableFuture<GenerationHandle> handle =
                    new java.util.concurrent.CompletableFuture<>();
            backend.onCancel = () -> {
                try {
                    handle.get(1, java.util.concurrent.TimeUnit.MINUTES).cancel();
                } catch (Exception e) {
                    throw new IllegalStateException("no handle to cancel", e);
                }
            };
            backend.cancelAtSubmit = backend.submits.get() + 3;
            RecordingListener cancelled = new RecordingListener();
            handle.complete(scheduler.submit(new GenerationRequest(random.ints(70, 0, 450).toArray(), 5,
                    SamplingParams.GREEDY, Set.of(), null, null, cancelled)));
            outcome.add(cancelled.await() + " " + java.util.Arrays.toString(cancelled.ids()));
            RecordingListener last = new RecordingListener();
            scheduler.submit(new GenerationRequest(random.ints(50, 0, 450).toArray(), 6,
                    new SamplingParams(0.9, 0.95, 0, 502L), Set.of(), null, null, last));
            outcome.add(last.await() + " " + java.util.Arrays.toString(last.ids()));
            assertEquals("CANCELLED []", outcome.get(3));
            for (int i : new int[] {0, 1, 2, 4}) {
                assertTrue(outcome.get(i).startsWith("LENGTH"), i + ": " + outcome.get(i));
            }
            return List.of(outcome, executor.statistics().pagesInUse(), backend.promptAhead.get(),
                    List.copyOf(backend.plans));
        }
    }

    /**
     * Twelve requests at once: greedy and seeded sampling, 3 to 40 tokens, one with a stop token that it reaches,
     * two cancelled by their listener after a few tokens (while a step of theirs is in flight).
     */
    private Run run(String policyName, boolean overlap, boolean deferred) throws Exception {
        ModelConfig config = checkpoint.config();
        CountingBackend backend = new CountingBackend(new CpuBackend(checkpoint, 2));
        backend.deferred = deferred;
        try (StepExecutor executor = executor(backend, 16);
                Scheduler scheduler = new Scheduler(executor, new SchedulerSettings(16, 16, 64, Duration.ofMinutes(1),
                        overlap), EvictionPolicies.create(policyName, 0f, config.dms())).start()) {
            Random random = new Random(17);
            List<RecordingListener> listeners = new ArrayList<>();
            List<int[]> prompts = new ArrayList<>();
            for (int i = 0; i < 12; i++) {
                prompts.add(random.ints(3 + random.nextInt(30), 0, 450).toArray());
            }
            // The stop token: the first token from the 4th on that the greedy run of prompt 0 had not given before.
            RecordingListener probe = new RecordingListener();
            scheduler.submit(new GenerationRequest(prompts.get(0), 24, SamplingParams.GREEDY, Set.of(), null, null,
                    probe));
            probe.await();
            int[] greedy = probe.ids();
            int stopAt = 3;
            while (stopAt < greedy.length && contains(greedy, stopAt, greedy[stopAt])) {
                stopAt++;
            }
            assertTrue(stopAt < greedy.length, "prompt 0 gives a new token after its third");
            int stop = greedy[stopAt];
            for (int i = 0; i < 12; i++) {
                RecordingListener listener = new RecordingListener(i == 4 || i == 9 ? 2 + i / 3 : Integer.MAX_VALUE);
                SamplingParams sampling = i % 3 == 2 ? new SamplingParams(0.9, 0.95, 0, 1000L + i)
                        : SamplingParams.GREEDY;
                int maxTokens = 3 + (i * 7) % 38;
                Set<Integer> stops = i == 0 ? Set.of(stop) : Set.of();
                GenerationHandle handle = scheduler.submit(new GenerationRequest(prompts.get(i), i == 0 ? 40 : maxTokens,
                        sampling, stops, null, null, listener));
                listener.attach(handle);
                listeners.add(listener);
            }
            List<int[]> tokens = new ArrayList<>();
            List<FinishReason> ends = new ArrayList<>();
            for (RecordingListener listener : listeners) {
                ends.add(listener.await());
                tokens.add(listener.ids());
            }
            assertEquals(FinishReason.STOP, ends.get(0), "request 0 reaches its stop token");
            assertEquals(stopAt, tokens.get(0).length, "tokens before the stop token, which is not delivered");
            assertEquals(FinishReason.CANCELLED, ends.get(4));
            assertEquals(FinishReason.CANCELLED, ends.get(9));
            return new Run(tokens, ends, backend.fedBack.get(), executor.statistics().pagesInUse());
        }
    }

    private static boolean contains(int[] values, int before, int value) {
        for (int i = 0; i < before; i++) {
            if (values[i] == value) {
                return true;
            }
        }
        return false;
    }

    /** The backend with a pool of 16,384 pages of 4 tokens (more than any test here needs), for {@code rows} sequences. */
    private static StepExecutor executor(Backend backend, int rows) {
        return executor(backend, rows, KvCacheManager.REPACK_DEFAULT);
    }

    private static StepExecutor executor(Backend backend, int rows, boolean repack) {
        return StepExecutor.allocate(backend, 4, (32L << 20 >> 11) * backend.kvBytesPerPage(4), rows, repack);
    }

    /**
     * The CPU backend, counting the steps that feed a token back; {@code deferred}: each step runs when it is read,
     * not when it is submitted; {@code failAtAwait}: the n-th read (from 1) fails.
     */
    private static final class CountingBackend extends DelegatingBackend {
        final AtomicInteger fedBack = new AtomicInteger();
        final AtomicInteger awaits = new AtomicInteger();
        final AtomicInteger submits = new AtomicInteger();
        final AtomicInteger pendingNow = new AtomicInteger();
        final AtomicInteger promptAhead = new AtomicInteger();  // steps with prompt tokens submitted behind another
        final List<String> plans = java.util.Collections.synchronizedList(new ArrayList<>());  // "id:tokens ..." a step
        volatile boolean deferred;
        volatile int failAtAwait = -1;
        volatile int cancelAtSubmit = -1;
        volatile Runnable onCancel;

        CountingBackend(Backend inner) {
            super(inner);
        }

        @Override
        public StepOutput step(StepPlan plan) {
            return submit(plan).await();
        }

        @Override
        public PendingStep submit(StepPlan plan) {
            if (plan.sequences().stream().anyMatch(SequenceStep::fedBack)) {
                fedBack.incrementAndGet();
            }
            plans.add(plan.sequences().stream().map(s -> s.sequenceId() + ":" + s.tokens().length)
                    .collect(java.util.stream.Collectors.joining(" ")));
            if (pendingNow.getAndIncrement() > 0 && plan.sequences().stream().anyMatch(s -> !s.fedBack())) {
                promptAhead.incrementAndGet();
            }
            if (submits.incrementAndGet() == cancelAtSubmit && onCancel != null) {
                onCancel.run();
            }
            PendingStep pending = deferred ? () -> inner.step(plan) : inner.submit(plan);
            return () -> {
                pendingNow.decrementAndGet();
                if (awaits.incrementAndGet() == failAtAwait) {
                    throw new IllegalStateException("a device fault, injected at read " + failAtAwait);
                }
                return pending.await();
            };
        }
    }
}
