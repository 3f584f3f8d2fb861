package io.dmsserve.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;
import java.util.Optional;

/**
 * A text completion ({@code object: "text_completion"}), whole or as one streamed chunk; streamed chunks
 * treat {@code usage} as {@link ChatCompletionChunk} does.
 */
record TextCompletion(String id, String object, long created, String model, List<Choice> choices,
        @JsonInclude(JsonInclude.Include.NON_NULL) Optional<UsageBody> usage) {

    TextCompletion(String id, long created, String model, List<Choice> choices, Optional<UsageBody> usage) {
        this(id, "text_completion", created, model, choices, usage);
    }

    record Choice(int index, String text, Object logprobs, String finishReason) {
    }
}
