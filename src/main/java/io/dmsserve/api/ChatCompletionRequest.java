package io.dmsserve.api;

import io.dmsserve.tokenizer.ChatMessage;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import tools.jackson.databind.JsonNode;

/**
 * A {@code POST /v1/chat/completions} body. Fields this server does not use (user, metadata, store, ...) are
 * ignored, as OpenAI-compatible servers do.
 *
 * @param model null when not given: the served model
 * @param templateKwargs {@code chat_template_kwargs}, e.g. {@code enable_thinking}, passed to the chat template
 */
record ChatCompletionRequest(String model, List<ChatMessage> messages, Map<String, Object> templateKwargs,
        SamplingOptions options, ToolOptions tools, ResponseFormat responseFormat) {

    private static final Set<String> ROLES = Set.of("system", "developer", "user", "assistant", "tool");
    /** Template variables the server sets itself; a client cannot replace them through the kwargs. */
    private static final Set<String> RESERVED_KWARGS = Set.of("messages", "tools", "documents",
            "add_generation_prompt");

    static ChatCompletionRequest parse(JsonNode root, int maxN) {
        Fields body = Fields.body(root);
        String model = body.string("model");
        List<ChatMessage> messages = messages(body);
        Map<String, Object> kwargs = new LinkedHashMap<>();
        Fields templateKwargs = body.object("chat_template_kwargs");
        if (templateKwargs != null) {
            @SuppressWarnings("unchecked")
            Map<String, Object> given = ApiJson.convert(templateKwargs.node(), Map.class);
            given.forEach((k, v) -> {
                if (!RESERVED_KWARGS.contains(k)) {
                    kwargs.put(k, v);
                }
            });
        }
        return new ChatCompletionRequest(model, messages, kwargs, SamplingOptions.parse(body, maxN),
                ToolOptions.parse(body), ResponseFormat.parse(body));
    }

    private static List<ChatMessage> messages(Fields body) {
        JsonNode array = body.get("messages");
        if (array == null) {
            throw ApiException.missing("messages");
        }
        if (!array.isArray()) {
            throw ApiException.invalidType("messages", "an array", Fields.describe(array));
        }
        if (array.isEmpty()) {
            throw ApiException.invalid("messages", "empty_array",
                    "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.");
        }
        List<ChatMessage> messages = new ArrayList<>(array.size());
        for (int i = 0; i < array.size(); i++) {
            messages.add(message(Fields.of(array.get(i), "messages[" + i + "]")));
        }
        return messages;
    }

    private static ChatMessage message(Fields m) {
        String role = m.string("role");
        if (role == null) {
            throw ApiException.missing(m.param("role"));
        }
        if (!ROLES.contains(role)) {
            throw ApiException.invalidValue(m.param("role"), "'" + Text.quote(role)
                    + "' is not one of 'system', 'developer', 'user', 'assistant', 'tool'.");
        }
        String content = content(m);
        if (content == null) {
            // An assistant turn that only called tools has no content; every other turn needs one.
            if (!role.equals("assistant")) {
                throw ApiException.missing(m.param("content"));
            }
            content = "";
        }
        List<Map<String, Object>> toolCalls = role.equals("assistant") ? toolCalls(m) : null;
        String toolCallId = role.equals("tool") ? m.string("tool_call_id") : null;
        // OpenAI's "developer" role is the system prompt of newer clients; chat templates know "system".
        return new ChatMessage(role.equals("developer") ? "system" : role, content, m.string("reasoning_content"),
                toolCalls, toolCallId);
    }

    /** An assistant turn's {@code tool_calls}, as dicts for the template; arguments stay the JSON text given. */
    private static List<Map<String, Object>> toolCalls(Fields m) {
        JsonNode array = m.get("tool_calls");
        if (array == null) {
            return null;
        }
        if (!array.isArray()) {
            throw ApiException.invalidType(m.param("tool_calls"), "an array", Fields.describe(array));
        }
        List<Map<String, Object>> calls = new ArrayList<>();
        for (int i = 0; i < array.size(); i++) {
            Fields call = Fields.of(array.get(i), m.param("tool_calls") + "[" + i + "]");
            Fields function = call.object("function");
            if (function == null) {
                throw ApiException.missing(call.param("function"));
            }
            String name = function.string("name");
            if (name == null) {
                throw ApiException.missing(function.param("name"));
            }
            String arguments = function.string("arguments");
            Map<String, Object> f = new LinkedHashMap<>();
            f.put("name", name);
            f.put("arguments", arguments == null ? "{}" : arguments);
            Map<String, Object> dict = new LinkedHashMap<>();
            String id = call.string("id");
            if (id != null) {
                dict.put("id", id);
            }
            dict.put("type", "function");
            dict.put("function", f);
            calls.add(dict);
        }
        return calls;
    }

    /** A string, or an array of text parts joined with newlines (as vLLM does). */
    private static String content(Fields m) {
        JsonNode value = m.get("content");
        if (value == null) {
            return null;
        }
        if (value.isString()) {
            return value.stringValue();
        }
        if (!value.isArray()) {
            throw ApiException.invalidType(m.param("content"), "a string or an array of content parts",
                    Fields.describe(value));
        }
        List<String> texts = new ArrayList<>();
        for (int j = 0; j < value.size(); j++) {
            Fields part = Fields.of(value.get(j), m.param("content") + "[" + j + "]");
            String type = part.string("type");
            if (type == null) {
                throw ApiException.missing(part.param("type"));
            }
            if (!type.equals("text")) {
                throw ApiException.invalidValue(part.param("type"), "content parts of type '" + Text.quote(type)
                        + "' are not supported; this model accepts 'text' parts only.");
            }
            String text = part.string("text");
            if (text == null) {
                throw ApiException.missing(part.param("text"));
            }
            texts.add(text);
        }
        return String.join("\n", texts);
    }
}
