package io.dmsserve.kvcache;

import java.util.Arrays;

/**
 * A consistent-enough snapshot of the cache bookkeeping for metrics and the dashboard: each number is
 * read atomically, the set as a whole while the engine keeps running.
 *
 * @param liveTokens (layer, kvHead) tokens stored now, over all sequences
 * @param evictedTokens (layer, kvHead) tokens evicted since start, over all sequences
 */
public record CacheStatistics(int pageSize, int pageCount, int pagesInUse, int sequences, long[][] liveTokens,
        long[][] evictedTokens) {

    public long liveTokens(int layer) {
        return Arrays.stream(liveTokens[layer]).sum();
    }

    public long evictedTokens(int layer) {
        return Arrays.stream(evictedTokens[layer]).sum();
    }

    public long totalLiveTokens() {
        return Arrays.stream(liveTokens).flatMapToLong(Arrays::stream).sum();
    }
}
