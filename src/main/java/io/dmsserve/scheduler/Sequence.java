package io.dmsserve.scheduler;

import io.dmsserve.dms.EvictionPolicy;
import io.dmsserve.sampling.Sampler;
import java.util.Arrays;

/**
 * A request inside the scheduler. Its tokens are the prompt and what was generated; {@code fed} of them
 * are in the backend's KV cache. A preempted sequence drops its cache and is fed again from token 0
 * (recompute); the sampler's random stream goes on where it was.
 */
final class Sequence implements GenerationHandle {

    final long id;
    final GenerationRequest request;
    final EvictionPolicy policy;
    final Sampler sampler;
    final long deadlineNanos;
    private final Runnable wake;
    private int[] tokens;      // (prompt + generated)
    private int size;
    int fed;
    int generated;
    boolean open;              // holds a backend sequence
    private volatile boolean cancelled;

    Sequence(long id, GenerationRequest request, EvictionPolicy policy, long deadlineNanos, Runnable wake) {
        this.id = id;
        this.request = request;
        this.policy = policy;
        this.sampler = new Sampler(request.sampling());
        this.deadlineNanos = deadlineNanos;
        this.wake = wake;
        this.tokens = Arrays.copyOf(request.promptTokens(), request.promptTokens().length + 16);
        this.size = request.promptTokens().length;
    }

    @Override
    public void cancel() {
        cancelled = true;
        wake.run();
    }

    boolean cancelled() {
        return cancelled;
    }

    int promptLength() {
        return request.promptTokens().length;
    }

    int size() {
        return size;
    }

    /** Tokens not yet in the cache. */
    int unfed() {
        return size - fed;
    }

    int[] nextChunk(int length) {
        return Arrays.copyOfRange(tokens, fed, fed + length);
    }

    void append(int token) {
        if (size == tokens.length) {
            tokens = Arrays.copyOf(tokens, tokens.length * 2);
        }
        tokens[size++] = token;
        generated++;
    }

    /** Forgets the cache position after a preemption: everything is fed again. */
    void resetForRecompute() {
        fed = 0;
        open = false;
    }
}
