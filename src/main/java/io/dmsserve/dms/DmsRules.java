package io.dmsserve.dms;

/**
 * The DMS visibility rules of DESIGN.md §3, in one place, for every backend and the cache bookkeeping.
 *
 * <p>The decision computed at token t flags token t − 1. A flagged token k stays visible to queries
 * q with q − k ≤ w and disappears for q ≥ k + w + 1. There are no sinks: token 0 is like any other.
 */
public final class DmsRules {

    private DmsRules() {
    }

    /** Whether key token {@code key} (flagged or not) is visible to query token {@code query}. */
    public static boolean visible(int query, int key, boolean keyFlagged, int window) {
        return key <= query && !(keyFlagged && query - key > window);
    }

    /**
     * The last token position that is gone once {@code tokensProcessed} tokens have been processed, if
     * flagged: token k is gone iff flag[k] and k ≤ T − w − 2. Negative when nothing can be gone yet.
     */
    public static int lastEvictable(int tokensProcessed, int window) {
        return (int) Math.max(-1L, (long) tokensProcessed - window - 2);
    }

    /** The decision logit of a KV head: the last channel of its group's first query head, after q_norm. */
    public static float decisionLogit(float lastChannel, double alphaScale, double alphaOffset) {
        return (float) (lastChannel * alphaScale - alphaOffset);
    }
}
