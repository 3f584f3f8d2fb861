package io.dmsserve.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.dmsserve.config.ModelLoad;
import io.dmsserve.dms.EvictionPolicies;
import io.dmsserve.dms.EvictionPolicy;
import io.dmsserve.engine.Checkpoint;
import io.dmsserve.engine.cpu.CpuBackend;
import io.dmsserve.engine.cpu.GoldenCase;
import io.dmsserve.kvcache.CacheStatistics;
import io.dmsserve.sampling.SamplingParams;
import io.dmsserve.scheduler.FinishReason;
import io.dmsserve.scheduler.GenerationListener;
import io.dmsserve.scheduler.GenerationRequest;
import io.dmsserve.scheduler.Scheduler;
import io.dmsserve.scheduler.SchedulerSettings;
import io.dmsserve.scheduler.StepExecutor;
import io.dmsserve.scheduler.Usage;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Timer;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The meters against the golden files of the tiny DMS model (made by the independent reference, not by our
 * engine): after a fixed greedy run through the real scheduler on the CPU backend, the per-layer eviction
 * and flag-decision counters equal the golden counts, the live gauges equal the golden live slots and the
 * bookkeeping at the same moment, and once every request has ended the cache reads idle and the queue 0.
 */
class MetricsGoldenTest {

    private static final String MODEL = "tiny-qwen3-dms";
    private static Checkpoint checkpoint;
    private static StepExecutor executor;
    private static Scheduler scheduler;
    private static PrometheusMeterRegistry registry;
    private static List<GoldenCase> cases;
    private static int layers;
    private static int kvHeads;

    @BeforeAll
    static void start() {
        cases = GoldenCase.load(MODEL);
        checkpoint = Checkpoint.open(GoldenCase.GOLDEN.resolve(MODEL));
        layers = checkpoint.config().numLayers();
        kvHeads = checkpoint.config().numKvHeads();
        CpuBackend backend = new CpuBackend(checkpoint, 2);
        executor = StepExecutor.allocate(backend, 4, 4096 * backend.kvBytesPerPage(4), 16);
        EvictionPolicy dms = EvictionPolicies.create("dms", 0f, checkpoint.config().dms());
        scheduler = new Scheduler(executor, new SchedulerSettings(16, 16, 64, Duration.ofMinutes(2)), dms);
        registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        ModelLoad load = new ModelLoad();
        load.finished();
        new KvCacheMetrics(executor.cache(), backend, MODEL, true).bindTo(registry);
        new SchedulerMetrics(scheduler, MODEL, 16, 64).bindTo(registry);
        new ModelMetrics(scheduler, load, dms, MODEL, backend.name()).bindTo(registry);
        scheduler.start();
    }

    @AfterAll
    static void stop() {
        if (scheduler != null) {
            scheduler.stop();
        }
        if (executor != null) {
            executor.close();
        }
        if (checkpoint != null) {
            checkpoint.close();
        }
    }

    @Test
    void oneGoldenRunAtATimeMatchesTheGoldenCounts() throws Exception {
        for (GoldenCase golden : cases) {
            long[] evictedBefore = perLayer(MetricNames.LAYER_EVICTED);
            long[] flagsBefore = perLayer(MetricNames.LAYER_FLAGS);
            Run run = submit(golden);
            assertThat(run.done.get(60, TimeUnit.SECONDS)).as("%s finish", golden).isEqualTo(FinishReason.LENGTH);
            assertThat(run.tokens).as("%s: the scheduler's greedy tokens are the golden ones", golden)
                    .containsExactly(Arrays.stream(golden.greedy()).boxed().toArray(Integer[]::new));

            Reading atLastToken = run.atLastToken;
            int processed = golden.promptIds().length + golden.maxNewTokens() - 1;
            for (int l = 0; l < layers; l++) {
                long goldenLive = Arrays.stream(golden.kvLive()[l]).sum();
                long goldenFlags = Arrays.stream(golden.decisions()[l]).mapToLong(d -> d.length).sum();
                assertThat(atLastToken.evicted[l] - evictedBefore[l]).as("%s layer %d: evicted", golden, l)
                        .isEqualTo(golden.evicted()[l]);
                assertThat(atLastToken.flags[l] - flagsBefore[l]).as("%s layer %d: flag decisions", golden, l)
                        .isEqualTo(goldenFlags);
                assertThat(atLastToken.live[l]).as("%s layer %d: live tokens", golden, l).isEqualTo(goldenLive)
                        .isEqualTo(atLastToken.bookkeeping.liveTokens(l));
                assertThat(atLastToken.seen[l]).as("%s layer %d: seen tokens", golden, l)
                        .isEqualTo((long) processed * kvHeads);
                assertThat(atLastToken.compression[l]).as("%s layer %d: compression", golden, l)
                        .isEqualTo((double) processed * kvHeads / goldenLive);
                for (int h = 0; h < kvHeads; h++) {
                    assertThat(atLastToken.headLive[l][h]).as("%s layer %d head %d: live", golden, l, h)
                            .isEqualTo(golden.kvLive()[l][h]).isEqualTo(atLastToken.bookkeeping.liveTokens()[l][h]);
                }
            }
            assertThat(atLastToken.pagesUsed).as("%s: pages", golden).isEqualTo(atLastToken.bookkeeping.pagesInUse());
            awaitIdle();
        }
    }

    @Test
    void allGoldenRunsAtOnceAddUp() throws Exception {
        long[] evictedBefore = perLayer(MetricNames.LAYER_EVICTED);
        long[] flagsBefore = perLayer(MetricNames.LAYER_FLAGS);
        long ttftBefore = timer(MetricNames.TTFT).count();
        long tpotBefore = timer(MetricNames.TPOT).count();
        double promptBefore = counter(MetricNames.PROMPT_TOKENS);
        double generatedBefore = counter(MetricNames.GENERATED_TOKENS);
        double lengthBefore = registry.get(MetricNames.FINISHED).tag(MetricNames.REASON, "length").functionCounter()
                .count();
        List<Run> runs = new ArrayList<>();
        for (GoldenCase golden : cases) {
            runs.add(submit(golden));
        }
        for (Run run : runs) {
            assertThat(run.done.get(60, TimeUnit.SECONDS)).isEqualTo(FinishReason.LENGTH);
        }
        awaitIdle();
        long[] evicted = perLayer(MetricNames.LAYER_EVICTED);
        long[] flags = perLayer(MetricNames.LAYER_FLAGS);
        for (int l = 0; l < layers; l++) {
            int layer = l;
            long goldenEvicted = cases.stream().mapToLong(c -> c.evicted()[layer]).sum();
            long goldenFlags = cases.stream().flatMap(c -> Arrays.stream(c.decisions()[layer]))
                    .mapToLong(d -> d.length).sum();
            assertThat(evicted[l] - evictedBefore[l]).as("layer %d: evicted, batched", l).isEqualTo(goldenEvicted);
            assertThat(flags[l] - flagsBefore[l]).as("layer %d: flag decisions, batched", l).isEqualTo(goldenFlags);
        }
        int newTokens = cases.stream().mapToInt(GoldenCase::maxNewTokens).sum();
        assertThat(timer(MetricNames.TTFT).count() - ttftBefore).isEqualTo(cases.size());
        assertThat(timer(MetricNames.TPOT).count() - tpotBefore).isEqualTo(newTokens - cases.size());
        assertThat(counter(MetricNames.PROMPT_TOKENS) - promptBefore)
                .isEqualTo(cases.stream().mapToInt(c -> c.promptIds().length).sum());
        assertThat(counter(MetricNames.GENERATED_TOKENS) - generatedBefore).isEqualTo(newTokens);
        assertThat(registry.get(MetricNames.FINISHED).tag(MetricNames.REASON, "length").functionCounter().count()
                - lengthBefore).isEqualTo(cases.size());
    }

    @Test
    void rejectionsAreCountedByReason() {
        double before = registry.get(MetricNames.REJECTED).tag(MetricNames.REASON, "prompt_too_long")
                .functionCounter().count();
        int[] tooLong = new int[checkpoint.config().maxPositionEmbeddings()];
        assertThrows(IllegalArgumentException.class, () -> scheduler.submit(new GenerationRequest(tooLong, 1,
                SamplingParams.GREEDY, null, null, null, new Run())));
        assertThat(registry.get(MetricNames.REJECTED).tag(MetricNames.REASON, "prompt_too_long").functionCounter()
                .count()).isEqualTo(before + 1);
    }

    @Test
    void theScrapeNamesWhatDocsMetricsMdLists() {
        // Micrometer holds what a meter reads only weakly: after a collection every value must still be there.
        System.gc();
        String scrape = registry.scrape();
        assertThat(scrape).contains("dms_kv_layer_live_tokens{layer=\"0\",model=\"tiny-qwen3-dms\"}",
                "dms_kv_layer_evicted_tokens_total{layer=\"2\",model=\"tiny-qwen3-dms\"}",
                "dms_kv_layer_flag_decisions_total{layer=\"1\"", "dms_kv_layer_compression_ratio{",
                "dms_kv_layer_occupancy_ratio{", "dms_kv_head_live_tokens{kv_head=\"1\",layer=\"2\"",
                "dms_kv_cache_usage_ratio{", "dms_kv_pool_used_bytes{", "dms_kv_pool_total_bytes{",
                "dms_requests_running{", "dms_requests_waiting{", "dms_requests_rejected_total{",
                "dms_request_time_to_first_token_seconds_bucket{", "dms_request_time_per_output_token_seconds_bucket{",
                "dms_request_end_to_end_seconds_bucket{", "dms_request_queue_time_seconds_bucket{",
                "dms_scheduler_step_tokens_bucket{", "dms_scheduler_step_sequences_bucket{",
                "dms_scheduler_step_duration_seconds_bucket{", "dms_scheduler_preemptions_total{",
                "dms_request_finished_total{", "dms_request_prompt_tokens_total{",
                "dms_request_generated_tokens_total{", "dms_model_state{backend=\"cpu\",model=\"tiny-qwen3-dms\","
                        + "state=\"ready\"} 1.0",
                "dms_model_load_seconds{", "dms_model_load_progress_ratio{model=\"tiny-qwen3-dms\"} 1.0",
                "dms_eviction_threshold{model=\"tiny-qwen3-dms\",policy=\"dms\"} 0.0",
                "dms_eviction_window_tokens{model=\"tiny-qwen3-dms\",policy=\"dms\"} 16.0");
        assertThat(scrape).doesNotContain("dms_device_memory").as("the cpu backend has no device memory");
    }

    /** Waits until the engine has ended every sequence and updated its gauges, then checks they read idle. */
    private static void awaitIdle() throws InterruptedException {
        await(() -> gauge(MetricNames.RUNNING) == 0 && gauge(MetricNames.WAITING) == 0, "running and waiting 0");
        for (int l = 0; l < layers; l++) {
            String layer = Integer.toString(l);
            assertThat(registry.get(MetricNames.LAYER_LIVE).tag(MetricNames.LAYER, layer).gauge().value()).isZero();
            assertThat(registry.get(MetricNames.LAYER_SEEN).tag(MetricNames.LAYER, layer).gauge().value()).isZero();
            assertThat(registry.get(MetricNames.LAYER_PAGES).tag(MetricNames.LAYER, layer).gauge().value()).isZero();
            assertThat(registry.get(MetricNames.LAYER_OCCUPANCY).tag(MetricNames.LAYER, layer).gauge().value())
                    .isZero();
        }
        assertThat(gauge(MetricNames.POOL_PAGES_USED)).isZero();
        assertThat(gauge(MetricNames.POOL_BYTES_USED)).isZero();
        assertThat(gauge(MetricNames.CACHE_USAGE)).isZero();
        assertThat(gauge(MetricNames.POOL_PAGES_TOTAL)).isEqualTo(executor.cache().pageCount());
        assertThat(gauge(MetricNames.COMPRESSION)).isNaN();
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > end) {
                throw new AssertionError("not within 10 s: " + what);
            }
            Thread.sleep(5);
        }
    }

    private Run submit(GoldenCase golden) {
        Run run = new Run(golden.maxNewTokens());
        EvictionPolicy policy = EvictionPolicies.create(golden.policy(), golden.threshold(), checkpoint.config().dms());
        scheduler.submit(new GenerationRequest(golden.promptIds(), golden.maxNewTokens(), SamplingParams.GREEDY, null,
                null, policy, run));
        return run;
    }

    private static long[] perLayer(String name) {
        long[] out = new long[layers];
        for (int l = 0; l < layers; l++) {
            out[l] = (long) registry.get(name).tag(MetricNames.LAYER, Integer.toString(l)).functionCounter().count();
        }
        return out;
    }

    private static double gauge(String name) {
        return registry.get(name).gauge().value();
    }

    private static double counter(String name) {
        return registry.get(name).functionCounter().count();
    }

    private static Timer timer(String name) {
        return registry.get(name).timer();
    }

    /** What the meters read while the engine thread hands over a sequence's last token (before it ends). */
    private static final class Reading {
        final long[] live = new long[layers];
        final long[] seen = new long[layers];
        final long[] evicted;
        final long[] flags;
        final double[] compression = new double[layers];
        final long[][] headLive = new long[layers][kvHeads];
        final double pagesUsed;
        final CacheStatistics bookkeeping;

        Reading() {
            bookkeeping = executor.cache().statistics();
            evicted = perLayer(MetricNames.LAYER_EVICTED);
            flags = perLayer(MetricNames.LAYER_FLAGS);
            for (int l = 0; l < layers; l++) {
                String layer = Integer.toString(l);
                live[l] = (long) registry.get(MetricNames.LAYER_LIVE).tag(MetricNames.LAYER, layer).gauge().value();
                seen[l] = (long) registry.get(MetricNames.LAYER_SEEN).tag(MetricNames.LAYER, layer).gauge().value();
                compression[l] = registry.get(MetricNames.LAYER_COMPRESSION).tag(MetricNames.LAYER, layer).gauge()
                        .value();
                for (int h = 0; h < kvHeads; h++) {
                    Gauge head = registry.get(MetricNames.HEAD_LIVE).tag(MetricNames.LAYER, layer)
                            .tag(MetricNames.KV_HEAD, Integer.toString(h)).gauge();
                    headLive[l][h] = (long) head.value();
                }
            }
            pagesUsed = gauge(MetricNames.POOL_PAGES_USED);
        }
    }

    /** A sequence's listener: reads the meters on the engine thread at its last token, when nothing moves. */
    private static final class Run implements GenerationListener {
        final List<Integer> tokens = new ArrayList<>();
        final CompletableFuture<FinishReason> done = new CompletableFuture<>();
        private final int last;
        volatile Reading atLastToken;

        Run() {
            this(Integer.MAX_VALUE);
        }

        Run(int last) {
            this.last = last;
        }

        @Override
        public boolean onToken(int tokenId) {
            tokens.add(tokenId);
            if (tokens.size() == last) {
                atLastToken = new Reading();
            }
            return true;
        }

        @Override
        public void onComplete(FinishReason reason, Usage usage) {
            done.complete(reason);
        }

        @Override
        public void onError(RuntimeException error) {
            done.completeExceptionally(error);
        }
    }
}
