package io.dmsserve.scheduler;

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

    /** The sequence ended; its KV memory is already back in the pool. Called exactly once, or onError. */
    void onComplete(FinishReason reason, Usage usage);

    /** The sequence failed (a backend error, or it can never fit in the KV cache). */
    void onError(RuntimeException error);
}
