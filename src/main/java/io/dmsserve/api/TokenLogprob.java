package io.dmsserve.api;

import java.util.List;

/**
 * One generated token's logprobs in OpenAI's chat shape: the token's text, its log-probability, its UTF-8
 * bytes (a token may hold part of a character) and the most likely alternatives.
 *
 * @param textOffset where the token's text starts in the choice's text (completions' {@code text_offset})
 */
record TokenLogprob(String token, float logprob, int[] bytes, List<Top> topLogprobs,
        @com.fasterxml.jackson.annotation.JsonIgnore int textOffset) {

    /** An alternative token. */
    record Top(String token, float logprob, int[] bytes) {
    }
}
