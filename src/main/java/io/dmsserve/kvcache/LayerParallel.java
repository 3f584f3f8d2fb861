package io.dmsserve.kvcache;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ForkJoinTask;

/**
 * Runs a step's KV bookkeeping in layer ranges on several threads when the step is large. A decode step of 16
 * sequences on Qwen3-8B touches 16 x 288 heads, each its own objects: the work waits on memory, not on arithmetic,
 * and took 2.5–3.6 ms of the engine thread per step on the H200 host (gpubench, DMS at 7/8 evicted), a quarter of
 * the step. Split by layer, every (layer, kv head) counter keeps one writer; the page pool and the page-table journal,
 * which all heads share, synchronise. Which pool page a head gets may then differ from run to run; what the step
 * computes does not (attention reads pages in page-table order, whatever their ids). Small steps (fewer than
 * {@value #MIN_HEAD_STEPS} head steps: heads of evicting sequences, plus a head step for every 64 tokens of a prompt
 * chunk, {@code KvCacheManager#headSteps}; a batch-1 decode, the tests' tiny models, a decode step without eviction)
 * stay on the calling thread, in the serial order. A prompt chunk of 2,048 tokens reserves 590,000 slots in Qwen3-8B's
 * heads with or without eviction: it takes the threads.
 */
final class LayerParallel {

    /** Head steps (KvCacheManager#headSteps) below which a step runs on the calling thread. */
    static final int MIN_HEAD_STEPS = 1024;
    private static final int THREADS = Math.max(1, Math.min(8, Runtime.getRuntime().availableProcessors()));
    private static volatile ForkJoinPool pool;

    /** Layer range work: {@code from} inclusive, {@code to} exclusive. */
    interface Range {
        void run(int from, int to);
    }

    private LayerParallel() {
    }

    /**
     * Runs {@code body} over layers [0, layers), in up to {@link #THREADS} ranges at once when {@code headSteps} is
     * large enough. Returns when every range has finished; then rethrows the first failure (a {@link
     * KvCacheFullException} as thrown), so no range still runs when the caller handles it.
     */
    static void run(int layers, long headSteps, Range body) {
        int parts = Math.min(THREADS, layers);
        if (parts <= 1 || headSteps < MIN_HEAD_STEPS) {
            body.run(0, layers);
            return;
        }
        ForkJoinPool threads = pool();
        List<ForkJoinTask<?>> tasks = new ArrayList<>(parts - 1);
        RuntimeException[] failure = new RuntimeException[parts];
        Error[] error = new Error[parts];
        try {
            for (int p = 1; p < parts; p++) {
                int part = p;
                tasks.add(threads.submit(() -> runPart(body, layers, parts, part, failure, error)));
            }
            runPart(body, layers, parts, 0, failure, error);
        } finally {
            // Also when a submission failed (no thread could be made): no range may still run once this returns.
            for (ForkJoinTask<?> task : tasks) {
                task.join();  // runPart catches everything: join returns normally
            }
        }
        for (int p = 0; p < parts; p++) {
            if (error[p] != null) {
                throw error[p];
            }
        }
        for (int p = 0; p < parts; p++) {
            if (failure[p] != null) {
                throw failure[p];
            }
        }
    }

    private static void runPart(Range body, int layers, int parts, int part, RuntimeException[] failure,
            Error[] error) {
        try {
            body.run(layers * part / parts, layers * (part + 1) / parts);
        } catch (RuntimeException e) {
            failure[part] = e;
        } catch (Error e) {
            error[part] = e;
        }
    }

    private static ForkJoinPool pool() {
        ForkJoinPool p = pool;
        if (p == null) {
            synchronized (LayerParallel.class) {
                p = pool;
                if (p == null) {
                    p = new ForkJoinPool(THREADS, pool -> {
                        var thread = ForkJoinPool.defaultForkJoinWorkerThreadFactory.newThread(pool);
                        thread.setName("kv-bookkeeping-" + thread.getPoolIndex());
                        thread.setDaemon(true);
                        return thread;
                    }, null, false);
                    pool = p;
                }
            }
        }
        return p;
    }
}
