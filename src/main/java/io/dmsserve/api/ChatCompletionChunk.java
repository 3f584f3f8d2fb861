package io.dmsserve.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;
import java.util.Optional;

/**
 * One streamed chat event ({@code object: "chat.completion.chunk"}). With {@code include_usage}, every chunk
 * carries {@code "usage": null} and the last one the numbers; otherwise the field is left out (null here).
 */
record ChatCompletionChunk(String id, String object, long created, String model, List<Choice> choices,
        @JsonInclude(JsonInclude.Include.NON_NULL) Optional<UsageBody> usage) {

    ChatCompletionChunk(String id, long created, String model, List<Choice> choices, Optional<UsageBody> usage) {
        this(id, "chat.completion.chunk", created, model, choices, usage);
    }

    record Choice(int index, Delta delta, Object logprobs, String finishReason) {
    }

    /** Only the fields set are written: the last chunk of a choice has an empty delta. */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    record Delta(String role, String content, String reasoningContent, List<ToolCallDelta> toolCalls) {

        Delta(String role, String content) {
            this(role, content, null, null);
        }
    }

    /**
     * OpenAI's tool-call delta: the first for a call carries its id, type and name (arguments empty), the next
     * the arguments; {@code index} says which call of the choice it continues.
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    record ToolCallDelta(int index, String id, String type, ChatCompletion.Function function) {
    }
}
