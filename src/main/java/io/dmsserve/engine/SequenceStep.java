package io.dmsserve.engine;

import io.dmsserve.dms.DmsRule;
import io.dmsserve.kvcache.SlotReservation;
import io.dmsserve.sampling.SamplingParams;

/**
 * One sequence's part of a step plan: its tokens (a prefill chunk, or one decode token) at positions
 * {@code kv.first()} onwards, where their keys and values go, the DMS rule for this step, and how to sample.
 *
 * @param kv the slots reserved for these tokens in every (layer, kvHead), and the sequence's table row
 * @param rule threshold, window and per-layer offsets, fixed for this step
 * @param promptLength positions below it are the prompt's (the penalties tell prompt from output)
 * @param sampling how to choose the next token; constant for the sequence
 * @param seed the sequence's random stream
 * @param drawIndex which draw this is (tokens generated so far); −1 when this step samples nothing (a
 *     prefill chunk that is not the prompt's last)
 * @param allowedTokens bit t of {@code allowedTokens[t >> 6]} allows token t (structured outputs); null: all
 * @param logits full logits to return, normally {@link LogitsRequest#NONE}
 */
public record SequenceStep(long sequenceId, int[] tokens, SlotReservation kv, DmsRule rule, int promptLength,
        SamplingParams sampling, long seed, long drawIndex, long[] allowedTokens, LogitsRequest logits) {

    /**
     * The token of a one-token step that is the one this sequence sampled in the step submitted just before
     * ({@link Backend#submit}): the host submits the step before that token reaches it.
     */
    public static final int FED_BACK = -1;

    public SequenceStep {
        if (tokens == null || tokens.length == 0) {
            throw new IllegalArgumentException("a step needs at least one token for sequence " + sequenceId);
        }
        if (fedBack(tokens) && (tokens.length != 1 || sampling == null || sampling.penalized())) {
            throw new IllegalArgumentException("sequence " + sequenceId + " feeds back the token it sampled in a step of "
                    + tokens.length + " tokens" + (tokens.length == 1 ? " with penalties" : "")
                    + "; only a one-token step without penalties can");
        }
        if (kv.length() != tokens.length) {
            throw new IllegalArgumentException("sequence " + sequenceId + " has " + tokens.length + " tokens but "
                    + kv.length() + " reserved slots");
        }
        if (sampling == null || rule == null || logits == null) {
            throw new IllegalArgumentException("sampling, rule and logits request are required");
        }
    }

    public int first() {
        return kv.first();
    }

    public int length() {
        return tokens.length;
    }

    public boolean samples() {
        return drawIndex >= 0;
    }

    /** The same step with other tokens (as many: the reservation is for them). */
    public SequenceStep withTokens(int[] newTokens) {
        return new SequenceStep(sequenceId, newTokens, kv, rule, promptLength, sampling, seed, drawIndex, allowedTokens,
                logits);
    }

    /** Whether the token is {@link #FED_BACK}, read by the backend from the step before. */
    public boolean fedBack() {
        return fedBack(tokens);
    }

    private static boolean fedBack(int[] tokens) {
        return tokens != null && tokens.length > 0 && tokens[0] == FED_BACK;
    }
}
