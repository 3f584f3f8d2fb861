package io.dmsserve.engine;

import io.dmsserve.dms.EvictionPolicy;
import io.dmsserve.kvcache.CacheStatistics;
import java.util.List;

/**
 * Runs the Qwen3 forward pass with DMS on some hardware. The CPU backend is the reference oracle; a CUDA
 * backend keeps the same KV bookkeeping in device memory. All calls but {@link #cacheStatistics()} come
 * from one engine thread.
 */
public interface Backend extends AutoCloseable {

    String name();

    ModelConfig config();

    /** Opens an empty sequence that keeps this eviction policy for its whole life. */
    void open(long sequenceId, EvictionPolicy policy);

    /**
     * One engine step: for each request, its tokens (a prefill chunk, or one decode token) are processed at
     * the sequence's next positions. Sequences in one step must be distinct.
     *
     * @throws io.dmsserve.kvcache.KvCacheExhaustedException when the pool runs out of pages mid-step; the
     *     sequences of the step are then in an undefined state and must be released (and recomputed)
     */
    List<StepResult> step(List<StepRequest> requests);

    /** Tokens processed so far by a sequence. */
    int processed(long sequenceId);

    /** Live slots per (layer, kvHead) of one sequence. */
    int[][] liveCounts(long sequenceId);

    /**
     * Pages a step of {@code tokens} more tokens for this sequence may take from the pool (worst case: no
     * eviction); for a sequence not opened yet, what its first {@code tokens} tokens take.
     */
    int pagesToStore(long sequenceId, int tokens);

    /** Pages of the pool not in use. */
    int freePages();

    /** Returns every page of the sequence to the pool; harmless for an unknown or released sequence. */
    void release(long sequenceId);

    /** Readable from any thread while the engine runs. */
    CacheStatistics cacheStatistics();

    @Override
    void close();
}
