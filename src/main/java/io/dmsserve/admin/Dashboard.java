package io.dmsserve.admin;

import io.dmsserve.config.ModelLoad;
import io.dmsserve.config.ServingModel;
import io.dmsserve.kvcache.HeadReadings;
import io.dmsserve.kvcache.KvCacheManager;
import io.dmsserve.scheduler.EngineState;
import io.dmsserve.scheduler.RequestsView;
import io.dmsserve.scheduler.Scheduler;
import io.dmsserve.scheduler.SchedulerStatistics;
import io.dmsserve.scheduler.SequenceView;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * What the dashboard shows, read from the same bookkeeping as the metrics ({@link KvCacheManager}'s per (layer,
 * KV head) counters, the scheduler's statistics), never estimated. Rates need a past: a daemon thread samples
 * the cumulative counters once a second and keeps the last {@value #HISTORY_SECONDS} s, so the eviction rate per
 * layer and tokens/s are differences of real counts.
 */
public final class Dashboard implements AutoCloseable {

    static final int HISTORY_SECONDS = 300;
    /** Eviction-rate history points: one per {@value} s. */
    static final int BUCKET_SECONDS = 5;
    /** The "now" rates span this many seconds. */
    static final int RATE_SECONDS = 5;

    private final ServingModel model;
    private final ModelLoad load;
    private final Scheduler scheduler;
    private final KvCacheManager cache;
    private final AdminControls controls;
    private final boolean showPrompts;
    private final HeadReadings[][] heads; // (layer, kvHead)
    private final ArrayDeque<Sample> samples = new ArrayDeque<>(); // guarded by itself, oldest first
    private final ScheduledExecutorService sampler;

    /** The cumulative counters at one moment. */
    private record Sample(long millis, long generated, long[] evicted) {
    }

    Dashboard(ServingModel model, ModelLoad load, Scheduler scheduler, KvCacheManager cache, AdminControls controls,
            boolean showPrompts) {
        this.model = model;
        this.load = load;
        this.scheduler = scheduler;
        this.cache = cache;
        this.controls = controls;
        this.showPrompts = showPrompts;
        this.heads = new HeadReadings[cache.layers()][cache.kvHeads()];
        for (int l = 0; l < cache.layers(); l++) {
            for (int h = 0; h < cache.kvHeads(); h++) {
                heads[l][h] = cache.readings(l, h);
            }
        }
        sample();
        this.sampler = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread thread = new Thread(r, "dms-admin-sampler");
            thread.setDaemon(true);
            return thread;
        });
        sampler.scheduleAtFixedRate(this::sample, 1, 1, TimeUnit.SECONDS);
    }

    /** Takes a sample now (the sampler thread does so every second). */
    void sample() {
        long[] evicted = new long[heads.length];
        for (int l = 0; l < heads.length; l++) {
            for (HeadReadings head : heads[l]) {
                evicted[l] += head.evictedTokens();
            }
        }
        Sample sample = new Sample(System.currentTimeMillis(), scheduler.statistics().generatedTokens(), evicted);
        synchronized (samples) {
            samples.addLast(sample);
            while (samples.size() > HISTORY_SECONDS + 1) {
                samples.removeFirst();
            }
        }
    }

    @Override
    public void close() {
        sampler.shutdownNow();
    }

    /** The overview figures. */
    public record Overview(String model, String backend, String state, String policy, Double tokensPerSecond, int running,
            int waiting, int maxRunning, int maxWaiting, int poolPagesUsed, int poolPages, double poolUsage,
            long liveTokens, Double compression, long steps, long generatedTokens, long preemptions) {
    }

    /**
     * Per layer and head.
     *
     * @param live (layer, kvHead) live tokens now
     * @param compression (layer) stored over live tokens of the open sequences; null while the layer holds nothing
     * @param evictionRate (layer) tokens evicted per second over the last {@link #RATE_SECONDS} s
     * @param evictionHistory (layer, point) tokens evicted per second in each {@link #BUCKET_SECONDS} s of the last
     *     {@link #HISTORY_SECONDS} s, oldest first; only points with samples
     */
    public record Cache(int layers, int kvHeads, long[][] live, Double[] compression, double[] evictionRate,
            double evictionRateTotal, double[][] evictionHistory, int bucketSeconds) {
    }

    /** A request row; {@code prompt} only when {@code dms.admin.show-prompts} is on. */
    public record Request(long id, String requestId, String state, int promptTokens, int generatedTokens, int processed,
            long liveKv, long storedKv, int pages, Double compression, long submittedAt, String prompt) {
    }

    public record Snapshot(long at, Overview overview, Cache cache, List<Request> running, List<Request> recent,
            AdminSettings settings, List<AuditEntry> audit) {
    }

    Snapshot snapshot() {
        SchedulerStatistics stats = scheduler.statistics();
        List<Sample> history;
        synchronized (samples) {
            history = new ArrayList<>(samples);
        }
        int layers = heads.length;
        int kvHeads = layers == 0 ? 0 : heads[0].length;
        long[][] live = new long[layers][kvHeads];
        Double[] compression = new Double[layers];
        long liveTotal = 0;
        long seenTotal = 0;
        for (int l = 0; l < layers; l++) {
            long layerLive = 0;
            long layerSeen = 0;
            for (int h = 0; h < kvHeads; h++) {
                live[l][h] = heads[l][h].liveTokens();
                layerLive += live[l][h];
                layerSeen += heads[l][h].seenTokens();
            }
            compression[l] = ratio(layerSeen, layerLive);
            liveTotal += layerLive;
            seenTotal += layerSeen;
        }
        long now = System.currentTimeMillis();
        Sample latest = new Sample(now, stats.generatedTokens(), evictedNow());
        Sample past = at(history, now - RATE_SECONDS * 1000L);
        double seconds = past == null ? 0 : (latest.millis - past.millis) / 1000.0;
        double[] rate = new double[layers];
        double rateTotal = 0;
        for (int l = 0; l < layers && seconds > 0; l++) {
            rate[l] = (latest.evicted[l] - past.evicted[l]) / seconds;
            rateTotal += rate[l];
        }
        Double tokensPerSecond = seconds > 0 ? (latest.generated - past.generated) / seconds : null;
        EngineState state = scheduler.engineState();
        String stateName = !load.done() ? "loading" : switch (state) {
            case RUNNING -> "ready";
            case STOPPED -> "stopped";
            case FAILED -> "failed";
        };
        Overview overview = new Overview(model.id(), model.backend(), stateName, controls.policyName(),
                tokensPerSecond, stats.running(), stats.waiting(), scheduler.maxRunning(), scheduler.maxWaiting(),
                cache.pagesInUse(), cache.pageCount(), (double) cache.pagesInUse() / cache.pageCount(), liveTotal,
                ratio(seenTotal, liveTotal), stats.steps(), stats.generatedTokens(), stats.preemptions());
        Cache cacheView = new Cache(layers, kvHeads, live, compression, rate, rateTotal, history(history, layers),
                BUCKET_SECONDS);
        RequestsView requests = scheduler.requests(showPrompts);
        return new Snapshot(now, overview, cacheView, requests.active().stream().map(this::request).toList(),
                requests.recent().stream().map(this::request).toList(), controls.current(),
                controls.store().recent(20));
    }

    private long[] evictedNow() {
        long[] evicted = new long[heads.length];
        for (int l = 0; l < heads.length; l++) {
            for (HeadReadings head : heads[l]) {
                evicted[l] += head.evictedTokens();
            }
        }
        return evicted;
    }

    /** The newest sample at or before {@code millis}, else the oldest one. */
    private static Sample at(List<Sample> history, long millis) {
        Sample found = null;
        for (Sample s : history) {
            if (s.millis <= millis || found == null) {
                found = s;
            }
        }
        return found;
    }

    private static double[][] history(List<Sample> history, int layers) {
        int points = history.isEmpty() ? 0 : (int) ((history.get(history.size() - 1).millis - history.get(0).millis)
                / (BUCKET_SECONDS * 1000L));
        double[][] out = new double[layers][points];
        if (points == 0) {
            return out;
        }
        long end = history.get(history.size() - 1).millis;
        for (int p = 0; p < points; p++) {
            Sample from = at(history, end - (long) (points - p) * BUCKET_SECONDS * 1000L);
            Sample to = at(history, end - (long) (points - p - 1) * BUCKET_SECONDS * 1000L);
            double seconds = (to.millis - from.millis) / 1000.0;
            for (int l = 0; l < layers; l++) {
                out[l][p] = seconds <= 0 ? 0 : (to.evicted[l] - from.evicted[l]) / seconds;
            }
        }
        return out;
    }

    private Request request(SequenceView v) {
        String prompt = showPrompts && v.promptTokens() != null ? model.tokenizer().decode(v.promptTokens()) : null;
        double compression = v.compression();
        return new Request(v.id(), v.requestId(), v.state(), v.promptLength(), v.generated(), v.processed(),
                v.liveTokens(), v.storedTokens(), v.pages(), Double.isNaN(compression) ? null : compression,
                v.submittedAtMillis(), prompt);
    }

    private static Double ratio(long seen, long live) {
        return live == 0 ? null : (double) seen / live;
    }
}
