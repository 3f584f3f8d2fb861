package io.dmsserve.tokenizer;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One chat turn as the chat template sees it. {@code content} may be null (an assistant turn that
 * only calls tools); {@code reasoningContent} is optional and, when null, is left out of the
 * template's message dict entirely (the Qwen3 template then looks for {@code <think>} in content).
 * {@code toolCalls} (an assistant turn's OpenAI {@code tool_calls} dicts) and {@code toolCallId} (a tool turn's)
 * are passed to the template when present.
 */
public record ChatMessage(String role, String content, String reasoningContent, List<Map<String, Object>> toolCalls,
        String toolCallId) {

    public ChatMessage {
        Objects.requireNonNull(role, "role");
        toolCalls = toolCalls == null || toolCalls.isEmpty() ? null : List.copyOf(toolCalls);
    }

    public ChatMessage(String role, String content, String reasoningContent) {
        this(role, content, reasoningContent, null, null);
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
        if (toolCalls != null) {
            m.put("tool_calls", toolCalls);
        }
        if (toolCallId != null) {
            m.put("tool_call_id", toolCallId);
        }
        return m;
    }
}
