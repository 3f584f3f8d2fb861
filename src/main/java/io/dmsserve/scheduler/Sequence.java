package io.dmsserve.scheduler;

import io.dmsserve.dms.EvictionPolicy;
import java.util.Arrays;

/**
 * A request inside the scheduler. Its tokens are the prompt and what was generated; {@code fed} of them
 * are in the KV cache. A preempted sequence drops its cache and is fed again from token 0 (recompute);
 * its draws are counter-based, so it draws the same numbers again.
 */
final class Sequence implements GenerationHandle, StepPlanner.Candidate {

    final long id;
    final GenerationRequest request;
    final EvictionPolicy policy;
    final long seed;
    final long deadlineNanos;
    final long submittedNanos;
    final long submittedAtMillis = System.currentTimeMillis(); // wall clock, for the admin dashboard
    boolean admittedOnce;      // engine thread: joined the batch at least once (preemptions re-admit)
    long lastTokenNanos;       // engine thread: when the last token was emitted
    private final Runnable wake;
    private int[] tokens;      // (prompt + generated)
    private int size;
    int fed;
    int generated;
    boolean open;              // holds pages in the KV cache
    boolean done;              // engine thread: finished or failed; a step still in flight for it is ignored
    private volatile boolean cancelled;

    Sequence(long id, GenerationRequest request, EvictionPolicy policy, long seed, long submittedNanos,
            long deadlineNanos, Runnable wake) {
        this.submittedNanos = submittedNanos;
        this.id = id;
        this.request = request;
        this.policy = policy;
        this.seed = seed;
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

    /** Cancelled, or past its deadline at {@code now}: it ends at the next plan. */
    boolean over(long now) {
        return cancelled || now > deadlineNanos;
    }

    /** For log lines: the client's request id when it has one. */
    String label() {
        return request.requestId() != null ? request.requestId() + " (sequence " + id + ")" : "sequence " + id;
    }

    int promptLength() {
        return request.promptTokens().length;
    }

    @Override
    public long id() {
        return id;
    }

    @Override
    public boolean open() {
        return open;
    }

    @Override
    public int size() {
        return size;
    }

    @Override
    public int generated() {
        return generated;
    }

    /** Tokens not yet in the cache. */
    @Override
    public int unfed() {
        return size - fed;
    }

    /**
     * Tokens this sequence holds at least while it runs: its window (w + 1 tokens per head, plus the one being
     * stored) or, for a policy that never evicts, everything. Tokens it keeps beyond the window are found
     * out step by step; the check before each step covers them.
     */
    @Override
    public int residentTokens() {
        return policy.evicts() ? (int) Math.min(size, policy.window() + 2L) : size;
    }

    int[] nextChunk(int length) {
        return chunkAt(fed, length);
    }

    /** Tokens [from, from + length): a chunk after the one in flight (EngineLoop#continuation). */
    int[] chunkAt(int from, int length) {
        return Arrays.copyOfRange(tokens, from, from + length);
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
