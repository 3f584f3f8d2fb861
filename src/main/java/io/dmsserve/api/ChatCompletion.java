package io.dmsserve.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;

/** A non-streamed chat completion ({@code object: "chat.completion"}). */
record ChatCompletion(String id, String object, long created, String model, List<Choice> choices, UsageBody usage) {

    ChatCompletion(String id, long created, String model, List<Choice> choices, UsageBody usage) {
        this(id, "chat.completion", created, model, choices, usage);
    }

    record Choice(int index, Message message, Object logprobs, String finishReason) {
    }

    /** {@code content} is written even when null (a turn that only calls tools); the others only when present. */
    record Message(String role, String content,
            @JsonInclude(JsonInclude.Include.NON_NULL) String reasoningContent,
            @JsonInclude(JsonInclude.Include.NON_EMPTY) List<ToolCall> toolCalls) {

        Message(String role, String content) {
            this(role, content, null, null);
        }
    }

    /** One call: {@code arguments} is the JSON text of an object. */
    record ToolCall(String id, String type, Function function) {
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    record Function(String name, String arguments) {
    }
}
