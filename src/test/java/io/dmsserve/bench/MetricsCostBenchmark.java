package io.dmsserve.bench;

import io.dmsserve.config.ModelLoad;
import io.dmsserve.dms.EvictionPolicies;
import io.dmsserve.dms.EvictionPolicy;
import io.dmsserve.engine.Checkpoint;
import io.dmsserve.engine.cpu.CpuBackend;
import io.dmsserve.metrics.KvCacheMetrics;
import io.dmsserve.metrics.ModelMetrics;
import io.dmsserve.metrics.SchedulerMetrics;
import io.dmsserve.sampling.SamplingParams;
import io.dmsserve.scheduler.FinishReason;
import io.dmsserve.scheduler.GenerationListener;
import io.dmsserve.scheduler.GenerationRequest;
import io.dmsserve.scheduler.Scheduler;
import io.dmsserve.scheduler.SchedulerObserver;
import io.dmsserve.scheduler.SchedulerSettings;
import io.dmsserve.scheduler.StepExecutor;
import io.dmsserve.scheduler.Usage;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * What the meters cost an engine step (issue 8; not a test, results in docs/metrics.md "Cost"). One scheduler on
 * the CPU backend runs rounds of the same batch (greedy, fixed prompts) alternately without meters (no binder,
 * {@link SchedulerObserver#NONE}) and with every binder of the server bound to a Prometheus registry (per-head
 * meters on) that a thread scrapes every {@code --scrape-ms}. Step time = wall time of the round / steps; the
 * tiny model's steps are short, so the difference is the worst case relative to the step.
 *
 * <pre>
 * ./mvnw -q test-compile && ./mvnw -q dependency:build-classpath -Dmdep.outputFile=target/cp.txt
 * java --add-modules jdk.incubator.vector -cp target/classes:target/test-classes:$(cat target/cp.txt) \
 *     io.dmsserve.bench.MetricsCostBenchmark [MODEL_DIR] [--batch 16] [--tokens 128] [--rounds 10]
 * </pre>
 */
public final class MetricsCostBenchmark {

    private MetricsCostBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        Path model = Path.of("src/test/resources/golden/tiny-qwen3-dms");
        int batch = 16;
        int tokens = 128;
        int rounds = 10;
        int scrapeMs = 1000;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--batch" -> batch = Integer.parseInt(args[++i]);
                case "--tokens" -> tokens = Integer.parseInt(args[++i]);
                case "--rounds" -> rounds = Integer.parseInt(args[++i]);
                case "--scrape-ms" -> scrapeMs = Integer.parseInt(args[++i]);
                default -> model = Path.of(args[i]);
            }
        }
        try (Checkpoint checkpoint = Checkpoint.open(model)) {
            CpuBackend backend = new CpuBackend(checkpoint, Runtime.getRuntime().availableProcessors());
            StepExecutor executor = StepExecutor.allocate(backend, 16, 64L << 20, batch);
            EvictionPolicy policy = EvictionPolicies.create("auto", 0f, checkpoint.config().dms());
            Scheduler scheduler = new Scheduler(executor, new SchedulerSettings(batch, batch, 256,
                    Duration.ofMinutes(10)), policy).start();
            PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
            ModelLoad load = new ModelLoad();
            load.finished();
            new KvCacheMetrics(executor.cache(), backend, "bench", true).bindTo(registry);
            SchedulerMetrics schedulerMetrics = new SchedulerMetrics(scheduler, "bench", batch, 256);
            schedulerMetrics.bindTo(registry);
            new ModelMetrics(scheduler, load, policy, "bench", backend.name()).bindTo(registry);
            int[][] prompts = new int[batch][];
            Random random = new Random(1);
            for (int s = 0; s < batch; s++) {
                prompts[s] = random.ints(16 + s, 1, checkpoint.config().vocabSize() / 2).toArray();
            }
            List<Double> without = new ArrayList<>();
            List<Double> with = new ArrayList<>();
            List<Double> scrapeMillis = new ArrayList<>();
            for (int warm = 0; warm < 3; warm++) {
                round(scheduler, prompts, tokens);
            }
            for (int r = 0; r < rounds; r++) {
                scheduler.observe(SchedulerObserver.NONE);
                without.add(round(scheduler, prompts, tokens));
                scheduler.observe(schedulerMetrics);
                Thread scraper = scraper(registry, scrapeMs, scrapeMillis);
                with.add(round(scheduler, prompts, tokens));
                scraper.interrupt();
                scraper.join();
            }
            scheduler.stop();
            executor.close();
            // The hooks alone, as the engine thread calls them in one decode step of this batch: the step, then
            // one token per sequence. Many times, so the clock's resolution does not matter.
            double hookNanos = Double.MAX_VALUE;
            for (int repeat = 0; repeat < 5; repeat++) {
                int calls = 200_000;
                long t = System.nanoTime();
                for (int i = 0; i < calls; i++) {
                    schedulerMetrics.step(batch, batch, 1_000_000 + i);
                    for (int s = 0; s < batch; s++) {
                        schedulerMetrics.nextToken(1_000_000 + s);
                    }
                }
                hookNanos = Math.min(hookNanos, (System.nanoTime() - t) / (double) calls);
            }
            long series = registry.scrape().lines().filter(l -> l.startsWith("dms_")).count();
            System.out.printf("model %s (%d layers x %d KV heads), batch %d, %d tokens each, %d rounds, %d cpus%n",
                    checkpoint.config().numLayers() + "L", checkpoint.config().numLayers(),
                    checkpoint.config().numKvHeads(), batch, tokens, rounds, Runtime.getRuntime().availableProcessors());
            System.out.printf("step without meters: median %.1f us (rounds: %s)%n", median(without), fmt(without));
            System.out.printf("step with meters:    median %.1f us (rounds: %s)%n", median(with), fmt(with));
            System.out.printf("difference: %.1f us per step (%.1f%%)%n", median(with) - median(without),
                    100 * (median(with) - median(without)) / median(without));
            System.out.printf("hooks of one decode step of %d sequences: %.2f us (best of 5 x 200000)%n", batch,
                    hookNanos / 1e3);
            System.out.printf("scrape: %d dms_* lines, median %.2f ms over %d scrapes%n", series, median(scrapeMillis),
                    scrapeMillis.size());
        }
    }

    /** Runs the batch to the end; returns the mean step time in microseconds. */
    private static double round(Scheduler scheduler, int[][] prompts, int tokens) throws InterruptedException {
        CountDownLatch done = new CountDownLatch(prompts.length);
        long steps = scheduler.statistics().steps();
        long start = System.nanoTime();
        List<GenerationRequest> requests = new ArrayList<>();
        for (int[] prompt : prompts) {
            requests.add(new GenerationRequest(prompt, tokens, SamplingParams.GREEDY, null, null, null,
                    new GenerationListener() {
                        @Override
                        public boolean onToken(int tokenId) {
                            return true;
                        }

                        @Override
                        public void onComplete(FinishReason reason, Usage usage) {
                            done.countDown();
                        }

                        @Override
                        public void onError(RuntimeException error) {
                            error.printStackTrace();
                            done.countDown();
                        }
                    }));
        }
        scheduler.submitAll(requests);
        if (!done.await(10, TimeUnit.MINUTES)) {
            throw new IllegalStateException("round did not finish");
        }
        long elapsed = System.nanoTime() - start;
        return elapsed / 1e3 / (scheduler.statistics().steps() - steps);
    }

    private static Thread scraper(PrometheusMeterRegistry registry, int everyMs, List<Double> millis) {
        Thread thread = new Thread(() -> {
            try {
                while (!Thread.currentThread().isInterrupted()) {
                    long t = System.nanoTime();
                    registry.scrape();
                    synchronized (millis) {
                        millis.add((System.nanoTime() - t) / 1e6);
                    }
                    Thread.sleep(everyMs);
                }
            } catch (InterruptedException e) {
                // end of the round
            }
        }, "scraper");
        thread.start();
        return thread;
    }

    private static double median(List<Double> values) {
        synchronized (values) {
            double[] sorted = values.stream().mapToDouble(Double::doubleValue).sorted().toArray();
            return sorted.length == 0 ? Double.NaN : sorted.length % 2 == 1 ? sorted[sorted.length / 2]
                    : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
        }
    }

    private static String fmt(List<Double> values) {
        return Arrays.toString(values.stream().mapToLong(Math::round).toArray());
    }
}
