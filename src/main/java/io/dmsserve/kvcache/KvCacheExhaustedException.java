package io.dmsserve.kvcache;

/** The page pool has no free page for a token that must be stored; the scheduler preempts or refuses. */
public final class KvCacheExhaustedException extends RuntimeException {

    public KvCacheExhaustedException(String message) {
        super(message);
    }
}
