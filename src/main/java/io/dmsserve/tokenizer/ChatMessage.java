package io.dmsserve.tokenizer;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * One chat turn as the chat template sees it. {@code content} may be null (an assistant turn that
 * only calls tools); {@code reasoningContent} is optional and, when null, is left out of the
 * template's message dict entirely (the Qwen3 template then looks for {@code <think>} in content).
 */
public record ChatMessage(String role, String content, String reasoningContent) {

    public ChatMessage {
        Objects.requireNonNull(role, "role");
    }

    public static ChatMessage of(String role, String content) {
        return new ChatMessage(role, content, null);
    }

    /** The dict passed to the template: role, content and, if present, reasoning_content. */
    Map<String, Object> toTemplateValue() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("role", role);
        m.put("content", content);
        if (reasoningContent != null) {
            m.put("reasoning_content", reasoningContent);
        }
        return m;
    }
}
