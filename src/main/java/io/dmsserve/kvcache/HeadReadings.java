package io.dmsserve.kvcache;

/**
 * Live view of the counters of one (layer, kv-head), summed over the sequences of a cache: what metrics
 * read at each scrape. Every method is one atomic read of the bookkeeping; nothing is estimated.
 */
public final class HeadReadings {

    private final CacheCounters counters;
    private final int layer;
    private final int kvHead;

    HeadReadings(CacheCounters counters, int layer, int kvHead) {
        this.counters = counters;
        this.layer = layer;
        this.kvHead = kvHead;
    }

    /** Tokens stored now by open sequences. */
    public long liveTokens() {
        return counters.liveAt(layer, kvHead);
    }

    /** Tokens evicted since start (cumulative). */
    public long evictedTokens() {
        return counters.evictedAt(layer, kvHead);
    }

    /** Decisions that flagged a token since start (cumulative). */
    public long flagDecisions() {
        return counters.flaggedAt(layer, kvHead);
    }

    /** Tokens open sequences have stored here, evicted since or not: live + evicted of those sequences. */
    public long seenTokens() {
        return counters.seenAt(layer, kvHead);
    }

    /** Pool pages open sequences hold here now. */
    public long pages() {
        return counters.pagesAt(layer, kvHead);
    }
}
