package io.dmsserve.engine;

/**
 * Tokens of one sequence for one engine step.
 *
 * @param allLogits logits for every token of the chunk (golden tests, inspect), else only for the last
 * @param captureDecisions report which earlier tokens the step's decisions flagged
 */
public record StepRequest(long sequenceId, int[] tokens, boolean allLogits, boolean captureDecisions) {

    public StepRequest {
        if (tokens == null || tokens.length == 0) {
            throw new IllegalArgumentException("a step needs at least one token for sequence " + sequenceId);
        }
    }

    public static StepRequest lastLogits(long sequenceId, int... tokens) {
        return new StepRequest(sequenceId, tokens, false, false);
    }
}
