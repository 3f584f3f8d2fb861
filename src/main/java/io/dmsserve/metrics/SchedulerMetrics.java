package io.dmsserve.metrics;

import static io.dmsserve.metrics.MetricNames.*;

import io.dmsserve.scheduler.FinishReason;
import io.dmsserve.scheduler.Rejection;
import io.dmsserve.scheduler.Scheduler;
import io.dmsserve.scheduler.SchedulerObserver;
import io.dmsserve.scheduler.SchedulerStatistics;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.time.Duration;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.function.ToDoubleFunction;
import java.util.stream.DoubleStream;

/**
 * The scheduler's and its requests' meters. Counts and queue lengths are read from the scheduler's own
 * counters at scrape time; latencies and step sizes are recorded as the engine loop reports them (it is the
 * {@link SchedulerObserver}), into histograms with fixed buckets so Prometheus can aggregate quantiles across
 * instances. Running and waiting follow the Gateway API Inference Extension's model-server protocol.
 */
public final class SchedulerMetrics implements MeterBinder, SchedulerObserver {

    // Buckets in seconds, after vLLM's, extended downwards: the CPU backend on a small model answers in ms.
    static final double[] TTFT_BUCKETS = {0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75,
        1, 2.5, 5, 7.5, 10, 20, 40, 80, 160, 640};
    static final double[] TPOT_BUCKETS = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3,
        0.4, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80};
    static final double[] END_TO_END_BUCKETS = {0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 20, 30, 40, 50,
        60, 120, 240, 480, 960, 1920, 7680};
    static final double[] QUEUE_BUCKETS = {0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20,
        40, 80, 160, 640};
    static final double[] STEP_BUCKETS = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
        10};

    private final Scheduler scheduler;
    private final Tags model;
    private final int maxRunning;
    private final int stepTokens;
    private volatile Recorders recorders;

    /**
     * @param maxRunning sequences in a batch at most: the top bucket of sequences per step
     * @param stepTokens tokens in a step at most: the top bucket of tokens per step
     */
    public SchedulerMetrics(Scheduler scheduler, String model, int maxRunning, int stepTokens) {
        this.scheduler = scheduler;
        this.model = Tags.of(MODEL, model);
        this.maxRunning = maxRunning;
        this.stepTokens = stepTokens;
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        Gauge.builder(RUNNING, scheduler, s -> s.statistics().running()).tags(model)
                .description("Sequences in the running batch (a request with n choices counts n)").register(registry);
        Gauge.builder(WAITING, scheduler, s -> s.statistics().waiting()).tags(model)
                .description("Sequences queued for the batch, preempted ones included").register(registry);
        counter(registry, PREEMPTIONS, "Sequences preempted (their KV cache dropped, recomputed later)",
                SchedulerStatistics::preemptions, model);
        counter(registry, STEPS, "Engine steps run", SchedulerStatistics::steps, model);
        counter(registry, STEP_FAILURES, "Engine steps that threw; their sequences failed",
                SchedulerStatistics::failedSteps, model);
        for (Rejection reason : Rejection.values()) {
            counter(registry, REJECTED, "Requests refused at submission", s -> s.rejected(reason),
                    model.and(REASON, reason.label()));
        }
        counter(registry, PROMPT_TOKENS, "Prompt tokens of the sequences admitted (a preempted one counts once)",
                SchedulerStatistics::promptTokens, model);
        counter(registry, GENERATED_TOKENS, "Tokens generated", SchedulerStatistics::generatedTokens, model);
        for (FinishReason reason : FinishReason.values()) {
            counter(registry, FINISHED, "Sequences ended, by reason", s -> s.finished(reason),
                    model.and(REASON, reason.name().toLowerCase(Locale.ROOT)));
        }
        counter(registry, FINISHED, "Sequences ended, by reason", SchedulerStatistics::failed,
                model.and(REASON, "error"));
        recorders = new Recorders(
                timer(registry, STEP_DURATION, "Time of one engine step (reserve, backend, commit)", STEP_BUCKETS),
                summary(registry, STEP_TOKENS, "Tokens fed in one engine step (prefill chunks and decode tokens)",
                        powersOfTwo(stepTokens)),
                summary(registry, STEP_SEQUENCES, "Sequences in one engine step", powersOfTwo(maxRunning)),
                timer(registry, QUEUE_TIME, "From submission to first joining the batch", QUEUE_BUCKETS),
                timer(registry, TTFT, "From submission to the first generated token", TTFT_BUCKETS),
                timer(registry, TPOT, "Between two generated tokens of a sequence", TPOT_BUCKETS),
                timer(registry, END_TO_END, "From submission to the end of the sequence, whatever the reason",
                        END_TO_END_BUCKETS));
        scheduler.observe(this);
    }

    @Override
    public void step(int sequences, int tokens, long nanos) {
        Recorders r = recorders;
        r.stepDuration.record(nanos, TimeUnit.NANOSECONDS);
        r.stepTokens.record(tokens);
        r.stepSequences.record(sequences);
    }

    @Override
    public void queued(long nanos) {
        recorders.queue.record(nanos, TimeUnit.NANOSECONDS);
    }

    @Override
    public void firstToken(long nanos) {
        recorders.firstToken.record(nanos, TimeUnit.NANOSECONDS);
    }

    @Override
    public void nextToken(long nanos) {
        recorders.nextToken.record(nanos, TimeUnit.NANOSECONDS);
    }

    @Override
    public void ended(long nanos) {
        recorders.endToEnd.record(nanos, TimeUnit.NANOSECONDS);
    }

    private void counter(MeterRegistry registry, String name, String description,
            ToDoubleFunction<SchedulerStatistics> value, Tags tags) {
        FunctionCounter.builder(name, scheduler, s -> value.applyAsDouble(s.statistics())).tags(tags)
                .description(description).register(registry);
    }

    private Timer timer(MeterRegistry registry, String name, String description, double[] bucketSeconds) {
        return Timer.builder(name).tags(model).description(description)
                .serviceLevelObjectives(Arrays.stream(bucketSeconds)
                        .mapToObj(s -> Duration.ofNanos(Math.round(s * 1e9))).toArray(Duration[]::new))
                .register(registry);
    }

    private DistributionSummary summary(MeterRegistry registry, String name, String description, double[] buckets) {
        return DistributionSummary.builder(name).tags(model).description(description).serviceLevelObjectives(buckets)
                .register(registry);
    }

    /** 1, 2, 4, … up to the first power of two at or above {@code max}. */
    static double[] powersOfTwo(int max) {
        return DoubleStream.iterate(1, b -> b < 2.0 * max, b -> b * 2).filter(b -> b / 2 < max).toArray();
    }

    private record Recorders(Timer stepDuration, DistributionSummary stepTokens, DistributionSummary stepSequences,
            Timer queue, Timer firstToken, Timer nextToken, Timer endToEnd) {
    }
}
