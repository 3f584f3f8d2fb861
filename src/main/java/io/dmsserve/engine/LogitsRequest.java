package io.dmsserve.engine;

/** Which full-vocabulary logits a step returns to the host for a sequence: normally none. */
public enum LogitsRequest {
    /** Serving: only the sampled token (and its logprobs when asked) comes back. */
    NONE,
    /** The last token's row (inspect). */
    LAST,
    /** Every token of the chunk (golden tests). */
    ALL
}
