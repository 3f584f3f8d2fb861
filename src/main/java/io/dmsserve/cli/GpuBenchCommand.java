package io.dmsserve.cli;

import io.dmsserve.dms.EvictionPolicies;
import io.dmsserve.dms.EvictionPolicy;
import io.dmsserve.engine.Checkpoint;
import io.dmsserve.engine.LogitsRequest;
import io.dmsserve.engine.ModelConfig;
import io.dmsserve.engine.SequenceOutput;
import io.dmsserve.engine.SequenceStep;
import io.dmsserve.engine.StepOutput;
import io.dmsserve.engine.Tensor;
import io.dmsserve.engine.cuda.CudaBackend;
import io.dmsserve.engine.cuda.CudaContext;
import io.dmsserve.kvcache.CacheStatistics;
import io.dmsserve.kvcache.HeadCache;
import io.dmsserve.kvcache.KvCacheManager;
import io.dmsserve.kvcache.SequenceKv;
import io.dmsserve.scheduler.StepExecutor;
import java.io.PrintStream;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.math.BigDecimal;
import java.math.MathContext;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * {@code java -jar dms-serve.jar gpubench --model DIR ...}: the CUDA backend driven directly (no scheduler, no
 * HTTP): prefill and decode throughput of a batch of random prompts, the eviction rate DMS reached, the KV bytes
 * held per token, and the bytes a decode step reads. With random weights the learned decisions mean nothing, so
 * {@code --evict-rate R} searches the threshold that flags about R of the decisions on a calibration prompt.
 * One line of JSON per measurement, for docs/benchmarks.md.
 */
public final class GpuBenchCommand {

    private GpuBenchCommand() {
    }

    public static int run(String[] args, PrintStream out, PrintStream err) {
        Options o;
        try {
            o = Options.parse(args);
        } catch (IllegalArgumentException e) {
            err.println("gpubench: " + e.getMessage());
            err.println(Options.USAGE);
            return 2;
        }
        try (Checkpoint checkpoint = Checkpoint.open(Path.of(o.model))) {
            ModelConfig config = checkpoint.config();
            long start = System.nanoTime();
            CudaContext context = CudaContext.open();
            CudaBackend backend = new CudaBackend(checkpoint, context);
            double loadSeconds = (System.nanoTime() - start) / 1e9;
            long kvBytes = (long) (backend.kvMemoryAvailable() * o.fraction);
            try (StepExecutor engine = StepExecutor.allocate(backend, o.pageSize, kvBytes, o.batch + 1, o.repack)) {
                float threshold = o.threshold;
                if (o.evictRate >= 0) {
                    threshold = calibrate(engine, config, o.evictRate, o.seed);
                }
                EvictionPolicy policy = EvictionPolicies.create(o.policy, threshold, config.dms());
                Random random = new Random(o.seed);
                out.println(json("load", "seconds", loadSeconds, "kv_pages", engine.cache().pageCount(),
                        "page_size", o.pageSize, "kv_pool_GB", kvBytes / 1e9, "threshold", threshold, "pdl",
                        context.pdlState(), "attention_early", context.attentionEarly()));
                // Warm-up: every kernel once, at the shapes of the run, and enough decode steps for the JIT to compile
                // the host's step path (64 timed steps after only 4 warm ones measured up to 1 ms more host work a step).
                runBatch(engine, config, policy, Math.min(o.prompt, 64), 48, 0, o, random, backend);
                warmPrefills(engine, config, policy, o, new Random(o.seed + 1));  // the timed prompts as before
                Result r = runBatch(engine, config, policy, o.prompt, o.decode, o.profileSteps, o, random, backend);
                CudaBackend.StepTimes t = r.decodeTimes();
                CudaBackend.StepTimes pt = r.prefill().times();
                double perStep = 1e6 * Math.max(1, t.steps());
                long weights = weightBytesReadPerToken(checkpoint);
                double perStepBytes = weights + r.kvBytesAtEnd;
                out.println(json("run", "model", o.model, "policy", policy.toString(), "batch", o.batch,
                        "prompt", o.prompt, "decode", o.decode, "chunk", o.chunk, "overlap", o.overlap,
                        "repack", o.repack, "warm_prefills", o.warmPrefills,
                        "distinct", o.prefilled(),
                        "prefill_tokens_per_s", r.prefillTokens / r.prefillSeconds,
                        // 2 x parameters a token, the lm_head's included, as every pass since the first counted
                        // it; the prefill runs the lm_head for a prompt's last token only, and its attention is
                        // not counted: prefill_model_TFLOPs counts both as run (prefillModelFlops).
                        "prefill_TFLOPs", 2.0 * parameters(config) * r.prefillTokens / r.prefillSeconds / 1e12,
                        "prefill_model_TFLOPs",
                        prefillModelFlops(config, o.prefilled(), o.prompt) / r.prefillSeconds / 1e12,
                        "decode_tokens_per_s", (double) o.batch * o.decode / r.decodeSeconds,
                        "ms_per_step", r.decodeSeconds * 1e3 / o.decode,
                        // From the first step's result to the last: the steps after the first, without the host's
                        // planning and queuing of the first (which nothing overlaps; after a long prefill that kept
                        // every token it took about 80 ms on the H200, 2026-11-30).
                        "steady_tokens_per_s",
                        o.decode > 1 ? (double) o.batch * (o.decode - 1) / r.steadySeconds() : null,
                        "decode_bytes_per_step_GB", perStepBytes / 1e9,
                        "decode_implied_TBps", perStepBytes / (r.decodeSeconds / o.decode) / 1e12,
                        "evicted_fraction", r.evictedFraction, "kv_bytes_per_token", r.kvBytesPerToken,
                        "live_tokens", r.liveTokens, "processed_tokens", r.processedTokens,
                        // What the pool gives up, by whole pages: a page stays held while one of its slots is
                        // live, so after a chunked DMS prefill about 7/8 of the last chunk's slots are free slots
                        // in held pages until later tokens refill them. Per sequence at the end of the run, the
                        // bytes per token they make (slot bytes x held slots / tokens processed), and how many
                        // sequences of this length the pool holds at that many pages each.
                        "pages_per_sequence", (double) r.pagesHeld / o.batch,
                        "held_kv_bytes_per_token", r.heldKvBytesPerToken,
                        "live_share_of_held_slots", (double) r.liveTokens / Math.max(1, r.pagesHeld * o.pageSize),
                        "sequences_fit", r.pagesHeld == 0 ? null
                                : (double) (engine.cache().pageCount() / (r.pagesHeld / (double) o.batch)),
                        // Where a decode step's wall time goes: the engine's own work (planning, KV bookkeeping)
                        // outside the backend, the backend's host work before its synchronisation, the wait for
                        // the device in it, and the outputs after it; of the backend's, queuing the forward pass
                        // (recording the step, or not when its graph is found by shape, and launching it).
                        "engine_ms_per_step", (r.decodeSeconds * 1e9 - t.beforeSyncNanos() - t.syncNanos()
                                - t.afterSyncNanos()) / perStep,
                        "backend_host_ms_per_step", (t.beforeSyncNanos() + t.afterSyncNanos()) / perStep,
                        "backend_queue_ms_per_step", t.queueNanos() / perStep,
                        "device_wait_ms_per_step", t.syncNanos() / perStep,
                        // -Ddms.cuda.step-timing=true: the device's own time on a step's forward pass, and its
                        // idle gap before the pass (waiting for the host to queue it); absent otherwise.
                        "device_ms_per_step", t.deviceNanos() > 0 ? t.deviceNanos() / perStep : null,
                        "device_gap_ms_per_step", t.gaps() > 0 ? t.gapNanos() / 1e6 / t.gaps() : null,
                        "gc_ms_in_decode", r.decodeGcMillis(),
                        // The prefill's wall time the same way, in ms over all its chunks: the engine's work
                        // outside the backend (planning, applying the decisions), the backend's host work, its
                        // wait for the device, and with step timing the device's own time on the passes.
                        "prefill_ms", r.prefillSeconds * 1e3,
                        "prefill_engine_ms", (r.prefillSeconds * 1e9 - pt.beforeSyncNanos() - pt.syncNanos()
                                - pt.afterSyncNanos()) / 1e6,
                        "prefill_backend_host_ms", (pt.beforeSyncNanos() + pt.afterSyncNanos()) / 1e6,
                        "prefill_backend_queue_ms", pt.queueNanos() / 1e6,
                        "prefill_backend_after_sync_ms", pt.afterSyncNanos() / 1e6,
                        "prefill_device_wait_ms", pt.syncNanos() / 1e6,
                        "prefill_device_ms", pt.deviceNanos() > 0 ? pt.deviceNanos() / 1e6 : null,
                        "prefill_gc_ms", r.prefill().gcMillis(),
                        "prefill_first_sequence_chunk_ms", r.prefill().firstSequenceChunkMillis(),
                        "prefill_first_sequence_chunk_uptime_ms", r.prefill().firstSequenceChunkUptimeMillis()));
                // -Ddms.cuda.kernel-timing=true: each kernel's device time in the timed prefill (ms over its
                // launches, all chunks of all sequences), then in the timed decode steps (launch by launch).
                for (CudaBackend.KernelTime k : r.prefill().kernels()) {
                    out.println(json("prefill_kernel", "kernel", k.kernel(), "launches", k.launches(), "ms",
                            k.nanos() / 1e6, "us_per_launch", k.nanos() / 1e3 / Math.max(1, k.launches()),
                            "us_shortest_launch", k.shortestNanos() / 1e3));
                }
                for (CudaBackend.KernelTime k : r.kernels()) {
                    out.println(json("kernel", "kernel", k.kernel(), "launches_per_step",
                            (double) k.launches() / Math.max(1, o.decode), "us_per_step",
                            k.nanos() / 1e3 / Math.max(1, o.decode), "us_per_launch",
                            k.nanos() / 1e3 / Math.max(1, k.launches()), "us_shortest_launch",
                            k.shortestNanos() / 1e3));
                }
                Lists l = r.lists();
                out.println(json("lists", "mean_pages", l.meanPages(), "median_pages", l.medianPages(), "p90_pages",
                        l.p90Pages(), "max_pages", l.maxPages(), "worst_layer_longest_over_mean",
                        l.worstLayerRatio(), "live_share_of_listed_slots", l.liveShare()));
            }
            return 0;
        } catch (RuntimeException e) {
            err.println("gpubench: " + e);
            return 1;
        }
    }

    /** A timed batch: every sequence's prompt in chunks, then decode steps of the whole batch. */
    record Result(long prefillTokens, double prefillSeconds, double decodeSeconds, double steadySeconds,
            double evictedFraction,
            double kvBytesPerToken, long liveTokens, long processedTokens, long kvBytesAtEnd,
            CudaBackend.StepTimes decodeTimes, long decodeGcMillis, Lists lists,
            List<CudaBackend.KernelTime> kernels, long pagesHeld, double heldKvBytesPerToken, Prefill prefill) {
    }

    /**
     * Where the timed prefill's wall time went: the backend's step times over its chunks (as a decode step's), the
     * collectors' milliseconds in it, and the first sequence's chunks one by one (the first of a run can pay for
     * scratch grown past the warm-up's shapes), each with the JVM's uptime (ms) at its start, so that a JVM log
     * ({@code -Xlog:...} decorates with the uptime) or a flight recording can be laid beside a slow chunk: that is how
     * the H200 host's one-in-five slow first chunks (70-100 ms more in the engine) were traced to C2 recompiling
     * {@code HeadCache.reserve}, and removed (docs/benchmarks.md, twenty-seventh to twenty-ninth passes). With
     * {@code -Ddms.cuda.kernel-timing=true} also each kernel's device time over the timed prefill's launches.
     */
    record Prefill(CudaBackend.StepTimes times, long gcMillis, double[] firstSequenceChunkMillis,
            long[] firstSequenceChunkUptimeMillis, List<CudaBackend.KernelTime> kernels) {
    }

    /** One decode token for each sequence: {@code next}, or the token it samples in the step in flight. */
    private static List<StepExecutor.Work> decodeStep(long base, int[] next, boolean fedBack) {
        List<StepExecutor.Work> step = new ArrayList<>(next.length);
        for (int s = 0; s < next.length; s++) {
            int token = fedBack ? SequenceStep.FED_BACK : next[s];
            step.add(StepExecutor.Work.greedy(base + s, new int[] {token}, true, LogitsRequest.NONE));
        }
        return step;
    }

    /** Milliseconds the JVM's collectors have spent so far (their own accounting). */
    private static long gcMillis() {
        long total = 0;
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            total += Math.max(0, gc.getCollectionTime());
        }
        return total;
    }

    /** {@code o.warmPrefills} prompts of up to two chunks, prefilled and released (Options#warmPrefills). */
    private static void warmPrefills(StepExecutor engine, ModelConfig config, EvictionPolicy policy, Options o,
            Random random) {
        int length = Math.min(o.prompt, 2 * o.chunk);
        for (int p = 0; p < o.warmPrefills; p++) {
            long id = -1 - p;
            engine.open(id, policy);
            try {
                // the timed prefill's own path, chunks ahead included, so that the JIT has compiled it
                prefill(engine, id, random.ints(length, 0, config.vocabSize()).toArray(), o.chunk,
                        o.overlap, null, null);
            } finally {
                engine.release(id);
            }
        }
    }

    /**
     * Feeds a prompt in chunks of {@code chunk} tokens and returns the token sampled after it. With {@code ahead},
     * each chunk after the first is submitted before the one before it is read where the chunk in flight frees
     * nothing it needs (SequenceKv#canReserveAhead: a policy that never evicts, or a DMS window of at least the chunk
     * + 1 tokens), as the scheduler goes on with a prompt (EngineLoop#continuation). {@code chunkMillis} and {@code uptimes}, when not null,
     * get each chunk's ms from its submission to its read (overlapping, ahead) and the JVM's uptime at its start.
     */
    static int prefill(StepExecutor engine, long id, int[] tokens, int chunk, boolean ahead,
            double[] chunkMillis, long[] uptimes) {
        StepExecutor.Submitted pending = null;  // the chunk in flight behind which the next was submitted
        int pendingIndex = -1;
        long pendingBegan = 0;
        for (int c = 0; c * chunk < tokens.length; c++) {
            int at = c * chunk;
            int[] part = Arrays.copyOfRange(tokens, at, Math.min(tokens.length, at + chunk));
            boolean last = at + chunk >= tokens.length;
            if (uptimes != null) {
                uptimes[c] = ManagementFactory.getRuntimeMXBean().getUptime();
            }
            long began = System.nanoTime();
            StepExecutor.Submitted submitted =
                    engine.submit(List.of(StepExecutor.Work.greedy(id, part, last, LogitsRequest.NONE)));
            if (pending != null) {
                engine.await(pending);
                if (chunkMillis != null) {
                    chunkMillis[pendingIndex] = (System.nanoTime() - pendingBegan) / 1e6;
                }
                pending = null;
            }
            if (ahead && !last && engine.cache().sequence(id).canReserveAhead()) {
                pending = submitted;
                pendingIndex = c;
                pendingBegan = began;
                continue;
            }
            int token = engine.await(submitted).get(0).token();
            if (chunkMillis != null) {
                chunkMillis[c] = (System.nanoTime() - began) / 1e6;
            }
            if (last) {
                return token;
            }
        }
        throw new IllegalArgumentException("an empty prompt");
    }

    /**
     * With {@code o.overlap}, each decode step is submitted before the one before it is read, its tokens fed back on
     * the device, as the scheduler runs an unchanged batch ({@code dms.scheduler.overlap}); so is each prompt chunk
     * after the first where {@link #prefill} may (the first sequence's chunk times then overlap).
     */
    private static Result runBatch(StepExecutor engine, ModelConfig config, EvictionPolicy policy, int prompt,
            int decode, int profileSteps, Options o, Random random, CudaBackend backend) {
        int batch = o.batch;
        int chunk = o.chunk;
        long base = 1_000_000L * (1 + random.nextInt(1000));
        int[] next = new int[batch];
        backend.takeStepTimes();
        backend.takeKernelTimes();  // (the calibration's and warm-up's launches)
        long prefillGcBefore = gcMillis();
        long start = System.nanoTime();
        int distinct = o.prefilled();
        double[] firstChunks = new double[(prompt + chunk - 1) / chunk];  // the first sequence's, ms each
        long[] firstChunkUptimes = new long[firstChunks.length];  // the JVM's uptime (ms) at each one's start
        // With overlap, a prompt's next chunk is submitted before the one in flight is read, as the scheduler goes
        // on with it (EngineLoop#continuation), where that chunk cannot change what the next one frees (prefill: a
        // policy that never evicts, or a DMS window longer than a chunk, 512 against the server's 256 tokens a step;
        // not gpubench's default chunks of 2,048, which go one at a time).
        boolean chunksAhead = o.overlap;
        for (int s = 0; s < distinct; s++) {
            engine.open(base + s, policy);
            int[] tokens = random.ints(prompt, 0, config.vocabSize()).toArray();
            next[s] = prefill(engine, base + s, tokens, chunk, chunksAhead, s == 0 ? firstChunks : null,
                    s == 0 ? firstChunkUptimes : null);
        }
        double prefill = (System.nanoTime() - start) / 1e9;
        Prefill prefillParts = new Prefill(backend.takeStepTimes(), gcMillis() - prefillGcBefore, firstChunks,
                firstChunkUptimes, backend.takeKernelTimes());
        // --distinct: the other sequences are copies of the prefilled ones (KvCacheManager#fork), whose pages one
        // untimed decode step copies on the device; then every sequence is prompt + 1 tokens long.
        int untimed = distinct < batch ? 1 : 0;
        for (int s = distinct; s < batch; s++) {
            engine.fork(base + s % distinct, base + s);
            next[s] = next[s % distinct];
        }
        if (untimed > 0) {
            StepOutput output = engine.run(decodeStep(base, next, false));
            for (int s = 0; s < batch; s++) {
                next[s] = output.get(s).token();
            }
        }
        // The prefill leaves gigabytes of young KV bookkeeping (16 x 32K tokens x 288 heads) that the first young
        // collection copies: on the H200 host that pause (hundreds of ms) fell into 32 timed decode steps and read as
        // 17-26 ms of engine time a step. Collect it before timing; collections inside the window are reported.
        System.gc();
        long gcBefore = gcMillis();
        backend.takeStepTimes();
        backend.takeKernelTimes();
        start = System.nanoTime();
        long firstOut = start;
        StepExecutor.Submitted ahead = null;
        for (int t = 0; t < decode; t++) {
            if (profileSteps > 0 && t == decode - profileSteps) {
                backend.profiler(true);  // the launches from here on (with overlap, the step in flight was launched)
            }
            StepExecutor.Submitted current = ahead != null ? ahead : engine.submit(decodeStep(base, next, false));
            ahead = o.overlap && t + 1 < decode ? engine.submit(decodeStep(base, next, true)) : null;
            StepOutput output = engine.await(current);
            for (int s = 0; s < batch; s++) {
                next[s] = output.get(s).token();
            }
            if (t == 0) {
                firstOut = System.nanoTime();
            }
        }
        long end = System.nanoTime();
        double decodeSeconds = (end - start) / 1e9;
        double steadySeconds = (end - firstOut) / 1e9;
        if (profileSteps > 0) {
            backend.profiler(false);
        }
        CudaBackend.StepTimes decodeTimes = backend.takeStepTimes();
        List<CudaBackend.KernelTime> kernels = backend.takeKernelTimes();
        long decodeGcMillis = gcMillis() - gcBefore;
        CacheStatistics stats = engine.statistics();
        long live = stats.totalLiveTokens();
        long fedTokens = (long) batch * (prompt + untimed + decode);  // every sequence's
        long processed = fedTokens * config.numLayers() * config.numKvHeads();  // token-heads
        long perSlot = 4L * config.headDim() + 5;
        Lists lists = Lists.of(engine.cache(), base, batch);
        long pagesHeld = 0;
        for (int s = 0; s < batch; s++) {
            pagesHeld += engine.cache().pagesHeld(base + s);
        }
        for (int s = 0; s < batch; s++) {
            engine.release(base + s);
        }
        return new Result((long) distinct * prompt, prefill, decodeSeconds, steadySeconds,
                1.0 - (double) live / processed, (double) live * perSlot / fedTokens, live, processed,
                live * 4L * config.headDim(), decodeTimes, decodeGcMillis, lists, kernels, pagesHeld,
                (double) pagesHeld * engine.cache().pageSize() * perSlot / fedTokens, prefillParts);
    }

    /**
     * The page lists the decode attention scans at the end of a timed run, one per (sequence, layer, kv head): their
     * lengths in page-table entries (mean, median, 90th percentile, longest), the largest over layers of a layer's
     * longest list over its mean one (what a grid sized by the longest list leaves idle), and the share of the
     * listed slots that hold a live token. What a standalone attention benchmark needs to copy the run's lists.
     */
    record Lists(double meanPages, int medianPages, int p90Pages, int maxPages, double worstLayerRatio,
            double liveShare) {

        static Lists of(KvCacheManager cache, long base, int batch) {
            int layers = cache.layers();
            int kvHeads = cache.kvHeads();
            int[] pages = new int[batch * layers * kvHeads];
            long liveTokens = 0;
            double worst = 0;
            int at = 0;
            for (int l = 0; l < layers; l++) {
                long layerSum = 0;
                int layerMax = 0;
                for (int s = 0; s < batch; s++) {
                    SequenceKv sequence = cache.sequence(base + s);
                    for (int h = 0; h < kvHeads; h++) {
                        HeadCache head = sequence.head(l, h);
                        int size = head.pageTableSize();
                        pages[at++] = size;
                        layerSum += size;
                        layerMax = Math.max(layerMax, size);
                        liveTokens += head.live();
                    }
                }
                if (layerSum > 0) {
                    worst = Math.max(worst, (double) layerMax * batch * kvHeads / layerSum);
                }
            }
            int[] sorted = pages.clone();
            Arrays.sort(sorted);
            long total = Arrays.stream(sorted).asLongStream().sum();
            return new Lists((double) total / sorted.length, sorted[sorted.length / 2],
                    sorted[Math.min(sorted.length - 1, sorted.length * 9 / 10)], sorted[sorted.length - 1], worst,
                    total == 0 ? 0 : (double) liveTokens / (total * cache.pageSize()));
        }
    }

    /** Bisects the threshold until about {@code rate} of a 1,024-token prompt's decisions flag. */
    private static float calibrate(StepExecutor engine, ModelConfig config, double rate, long seed) {
        int[] prompt = new Random(seed + 1).ints(1024, 0, config.vocabSize()).toArray();
        float low = -200f;
        float high = 200f;
        for (int i = 0; i < 24; i++) {
            float mid = (low + high) / 2;
            double flagged = flagRate(engine, config, prompt, mid);
            if (flagged > rate) {
                low = mid;
            } else {
                high = mid;
            }
        }
        return (low + high) / 2;
    }

    private static double flagRate(StepExecutor engine, ModelConfig config, int[] prompt, float threshold) {
        long id = 42L;
        engine.open(id, EvictionPolicies.create("dms", threshold, config.dms()));
        try {
            SequenceOutput out = engine.run(List.of(StepExecutor.Work.greedy(id, prompt, false, LogitsRequest.NONE)))
                    .get(0);
            long flagged = 0;
            for (int c = 1; c < prompt.length; c++) {
                for (int l = 0; l < config.numLayers(); l++) {
                    for (int h = 0; h < config.numKvHeads(); h++) {
                        flagged += out.decisions().flagged(c, l, h) ? 1 : 0;
                    }
                }
            }
            return (double) flagged / ((prompt.length - 1L) * config.numLayers() * config.numKvHeads());
        } finally {
            engine.release(id);
        }
    }

    /**
     * The work of prefilling {@code sequences} prompts of {@code prompt} tokens as a dense model does it, in
     * floating-point operations (a multiply-add is two): every layer's products for every token; the lm_head for each
     * prompt's last token, the one that samples; and causal attention, q·k and p·v over the qDim channels for each of
     * a prompt's prompt · (prompt + 1) / 2 (query, key) pairs in every layer. Split activations (two tensor-core
     * products for one) and DMS's skipped keys do not change it: it is the model's work, not the kernels'. For
     * Qwen3-8B at 4,096 tokens it is 99.8% of {@code 2 · parameters · tokens}, which counts the lm_head for every
     * token and no attention (GpuBenchCommandTest).
     */
    static double prefillModelFlops(ModelConfig c, int sequences, int prompt) {
        double layerParameters = parameters(c) - (double) c.vocabSize() * c.hiddenSize();
        double products = 2.0 * layerParameters * prompt + 2.0 * c.vocabSize() * c.hiddenSize();
        double pairs = prompt * (prompt + 1.0) / 2;
        double attention = 4.0 * c.numLayers() * c.qDim() * pairs;
        return sequences * (products + attention);
    }

    static long parameters(ModelConfig c) {
        long attention = (long) c.hiddenSize() * (2L * c.qDim() + 2L * c.kvDim());
        long mlp = 3L * c.hiddenSize() * c.intermediateSize();
        return c.numLayers() * (attention + mlp) + (long) c.vocabSize() * c.hiddenSize();
    }

    /** Bytes of bf16 weights a decode step reads: every tensor but the embedding (only gathered). */
    private static long weightBytesReadPerToken(Checkpoint checkpoint) {
        long bytes = 0;
        for (String name : checkpoint.tensorNames()) {
            if (!name.equals("model.embed_tokens.weight") || checkpoint.config().tieWordEmbeddings()) {
                Tensor t = checkpoint.tensor(name);
                bytes += t.numel() * 2;
            }
        }
        return bytes;
    }

    private static final JsonMapper JSON = JsonMapper.builder().build();

    /**
     * One JSON line: {@code what} then the pairs in order, written by Jackson (strings escaped as JSON needs);
     * floating-point values rounded to 6 significant digits, as the figures are read (double[] values each so),
     * whole numbers and long[] values as they are; pairs whose value is null left out.
     */
    static String json(String what, Object... pairs) {
        ObjectNode line = JSON.createObjectNode().put("what", what);
        for (int i = 0; i < pairs.length; i += 2) {
            String key = String.valueOf(pairs[i]);
            Object v = pairs[i + 1];
            if (v == null) {
                continue;  // a figure this run did not measure
            }
            if (v instanceof Double || v instanceof Float) {
                double d = ((Number) v).doubleValue();
                if (Double.isFinite(d)) {
                    line.put(key, new BigDecimal(d).round(SIGNIFICANT).stripTrailingZeros());
                } else {
                    line.putNull(key);  // JSON has no NaN or infinity
                }
            } else if (v instanceof double[] values) {
                ArrayNode array = line.putArray(key);
                for (double d : values) {
                    array.add(new BigDecimal(d).round(SIGNIFICANT).stripTrailingZeros());
                }
            } else if (v instanceof long[] values) {
                ArrayNode array = line.putArray(key);
                for (long l : values) {
                    array.add(l);
                }
            } else if (v instanceof Number n) {
                line.put(key, n.longValue());
            } else {
                line.put(key, String.valueOf(v));
            }
        }
        return JSON.writeValueAsString(line);
    }

    private static final MathContext SIGNIFICANT = new MathContext(6);

    private static final class Options {
        static final String USAGE = "usage: gpubench --model DIR [--batch N] [--prompt N] [--decode N] [--chunk N]"
                + " [--policy dms|none|auto] [--threshold X | --evict-rate R] [--page-size N] [--fraction F] [--seed N]"
                + " [--overlap true|false] [--profile-steps N] [--distinct N] [--repack true|false]"
                + " [--warm-prefills N]";
        String model;
        int batch = 1;
        int prompt = 512;
        int decode = 64;
        int chunk = 2048;
        String policy = "auto";
        float threshold = 0;
        double evictRate = -1;
        int pageSize = 16;
        double fraction = 0.9;
        long seed = 1;
        /**
         * Steps submitted before the one before is read (decode, and the prompt chunks of a policy that never
         * evicts); {@code -Ddms.gpubench.overlap=false} sets the default, so that an A/B's arms (JVM options) can
         * differ in it.
         */
        boolean overlap = Boolean.parseBoolean(System.getProperty("dms.gpubench.overlap", "true"));
        /** Whether commits repack sparse heads (KvCacheManager#commit); the engine's default. */
        boolean repack = KvCacheManager.REPACK_DEFAULT;
        /** The last N timed decode steps' launches between cuProfilerStart and cuProfilerStop (0: none). */
        int profileSteps = 0;
        /**
         * Sequences prefilled (0: all); the others are forks of them, sequence s a copy of s mod N: a batch larger
         * than one device call could prefill (174 x 32K with DMS), with the page lists of N real ones.
         */
        int distinct = 0;
        /**
         * Prompts of up to two chunks prefilled before the timed run, each released after, so that the JIT has
         * compiled the host's prompt path (a server's is after its first prompts): the timed prefill of a fresh JVM
         * otherwise runs its KV bookkeeping partly interpreted (0: none, the figures before 2026-12-02's twenty-fifth
         * pass).
         */
        int warmPrefills = 3;

        /** The sequences prefilled: --distinct, at most --batch, or all of them. */
        int prefilled() {
            return distinct > 0 ? Math.min(distinct, batch) : batch;
        }

        private static boolean bool(String option, String v) {
            return switch (v) {
                case "true" -> true;
                case "false" -> false;
                default -> throw new IllegalArgumentException(option + " takes true or false, not '" + v + "'");
            };
        }

        static Options parse(String[] args) {
            Options o = new Options();
            for (int i = 0; i < args.length; i += 2) {
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException(args[i] + " needs a value");
                }
                String v = args[i + 1];
                switch (args[i]) {
                    case "--model" -> o.model = v;
                    case "--batch" -> o.batch = Integer.parseInt(v);
                    case "--prompt" -> o.prompt = Integer.parseInt(v);
                    case "--decode" -> o.decode = Integer.parseInt(v);
                    case "--chunk" -> o.chunk = Integer.parseInt(v);
                    case "--policy" -> o.policy = v;
                    case "--threshold" -> o.threshold = Float.parseFloat(v);
                    case "--evict-rate" -> o.evictRate = Double.parseDouble(v);
                    case "--page-size" -> o.pageSize = Integer.parseInt(v);
                    case "--fraction" -> o.fraction = Double.parseDouble(v);
                    case "--seed" -> o.seed = Long.parseLong(v);
                    case "--profile-steps" -> o.profileSteps = Integer.parseInt(v);
                    case "--distinct" -> o.distinct = Integer.parseInt(v);
                    case "--overlap" -> o.overlap = bool("--overlap", v);
                    case "--repack" -> o.repack = bool("--repack", v);
                    case "--warm-prefills" -> o.warmPrefills = Integer.parseInt(v);
                    default -> throw new IllegalArgumentException("unknown option '" + args[i] + "'");
                }
            }
            if (o.warmPrefills < 0) {
                throw new IllegalArgumentException("--warm-prefills must be >= 0, got " + o.warmPrefills);
            }
            if (o.distinct < 0) {
                throw new IllegalArgumentException("--distinct must be >= 0 (0: every sequence prefilled), got "
                        + o.distinct);
            }
            if (o.model == null || o.batch < 1 || o.prompt < 1 || o.decode < 1 || o.chunk < 1) {
                throw new IllegalArgumentException("--model is required; counts must be positive");
            }
            if (o.profileSteps < 0 || o.profileSteps > o.decode) {
                throw new IllegalArgumentException("--profile-steps must be 0 to --decode (" + o.decode + "), got "
                        + o.profileSteps);
            }
            return o;
        }
    }
}
