package io.dmsserve.kvcache;

/**
 * The KV page pool cannot hold what is asked of it: no free page now (the scheduler preempts or waits), or a
 * request larger than the whole pool (it fails; a bigger pool would help, retrying would not).
 */
public final class KvCacheFullException extends RuntimeException {

    public KvCacheFullException(String message) {
        super(message);
    }
}
