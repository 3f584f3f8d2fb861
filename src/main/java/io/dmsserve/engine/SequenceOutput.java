package io.dmsserve.engine;

import io.dmsserve.dms.Decisions;
import io.dmsserve.sampling.Logprobs;

/**
 * What one step produced for one sequence: small enough to come back from a device in one copy.
 *
 * @param token the sampled token, −1 when the step sampled nothing for it
 * @param logprobs when the sampling parameters asked for them, else null
 * @param decisions what the step's DMS decisions flagged (all false for a model without the channel)
 * @param logits (rows, vocab) only when the plan asked for them, else null
 * @param decisionLogits (tokens, layers, kvHeads) the DMS decision logits behind {@code decisions}, when the plan
 *     asked for logits of a DMS model and the backend reports them (inspect, golden tests, the admin's
 *     retention view); else null
 */
public record SequenceOutput(long sequenceId, int token, Logprobs logprobs, Decisions decisions, float[][] logits,
        float[] decisionLogits) {

    public SequenceOutput(long sequenceId, int token, Logprobs logprobs, Decisions decisions, float[][] logits) {
        this(sequenceId, token, logprobs, decisions, logits, null);
    }
}
