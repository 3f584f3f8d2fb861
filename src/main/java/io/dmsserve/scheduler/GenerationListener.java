package io.dmsserve.scheduler;

import io.dmsserve.sampling.Logprobs;

/**
 * Receives one sequence's output. Called on the engine thread: implementations must return at once (hand
 * the token to a buffer, never block on a client), or every other sequence waits.
 */
public interface GenerationListener {

    /**
     * A newly generated token (end-of-sequence tokens are not passed on).
     *
     * @return false to stop generating now, with finish reason {@link FinishReason#STOP} (a stop string)
     */
    boolean onToken(int tokenId);

    /** As {@link #onToken(int)}, with the token's logprobs when the sampling parameters asked for them. */
    default boolean onToken(int tokenId, Logprobs logprobs) {
        return onToken(tokenId);
    }

    /** The sequence ended; its KV memory is already back in the pool. Called exactly once, or onError. */
    void onComplete(FinishReason reason, Usage usage);

    /**
     * The sequence failed: a backend error, or it can never fit in the KV cache
     * ({@link io.dmsserve.kvcache.KvCacheFullException}).
     */
    void onError(RuntimeException error);
}
