package io.dmsserve.api;

import java.util.List;

/** A non-streamed chat completion ({@code object: "chat.completion"}). */
record ChatCompletion(String id, String object, long created, String model, List<Choice> choices, UsageBody usage) {

    ChatCompletion(String id, long created, String model, List<Choice> choices, UsageBody usage) {
        this(id, "chat.completion", created, model, choices, usage);
    }

    record Choice(int index, Message message, Object logprobs, String finishReason) {
    }

    record Message(String role, String content) {
    }
}
