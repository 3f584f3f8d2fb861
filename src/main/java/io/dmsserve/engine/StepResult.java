package io.dmsserve.engine;

/**
 * What one engine step produced for one sequence.
 *
 * @param logits (positions, vocab): one row per chunk token when all logits were asked for, else one row
 * @param flagged (layer, kvHead) token positions flagged by this step's decisions, ascending; null unless
 *     captured. A decision made at position t flags token t − 1.
 */
public record StepResult(long sequenceId, float[][] logits, int[][][] flagged) {

    public float[] lastLogits() {
        return logits[logits.length - 1];
    }
}
