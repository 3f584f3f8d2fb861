package io.dmsserve.sampling;

/** A chosen token and, when asked for, its log-probabilities. */
public record Sample(int token, Logprobs logprobs) {
}
