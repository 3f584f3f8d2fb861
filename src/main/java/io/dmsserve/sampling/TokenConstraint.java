package io.dmsserve.sampling;

/**
 * Which tokens a sequence may generate next (structured outputs, forced tool calls): asked for a mask before
 * each sampled token, told the token chosen after it. Called on the engine thread only; one instance per
 * sequence, since it holds the sequence's state. A preempted sequence keeps it: its generated tokens stay.
 */
public interface TokenConstraint {

    /** Allowed next tokens, bit t of {@code mask[t >> 6]} for token t (never empty); null allows every token. */
    long[] allowed();

    /** The token generated (one {@link #allowed()} allowed). */
    void accept(int token);
}
