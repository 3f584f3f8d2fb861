package io.dmsserve.sampling;

/**
 * Log-probabilities of one sampled token, from the distribution it was drawn from (after mask, bias,
 * penalties and temperature; before the top-k/top-p/min-p cut).
 *
 * @param logprob the chosen token's
 * @param topIds the most likely tokens, most likely first (ties by lower id); empty when none were asked for
 * @param topLogprobs their log-probabilities
 */
public record Logprobs(float logprob, int[] topIds, float[] topLogprobs) {
}
