package io.dmsserve.chat;

import java.util.Set;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/** The JSON inside one {@code <tool_call>} block: {@code {"name": "...", "arguments": {...}}}. */
final class ToolCallJson {

    private static final JsonMapper JSON = JsonMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
            .build();

    record Call(String name, String arguments) {
    }

    private ToolCallJson() {
    }

    /** The call, or null when the body is not a call of one of the functions. */
    static Call parse(String body, Set<String> functions) {
        JsonNode node;
        try {
            node = JSON.readTree(body.strip());
        } catch (JacksonException e) {
            return null;
        }
        if (node == null || !node.isObject() || !node.path("name").isString()) {
            return null;
        }
        String name = node.get("name").stringValue();
        if (!functions.contains(name)) {
            return null;
        }
        JsonNode arguments = node.get("arguments");
        if (arguments == null || arguments.isNull()) {
            return new Call(name, "{}");
        }
        if (arguments.isString()) {
            // Some models write the arguments as a JSON string; it must hold an object.
            try {
                JsonNode inner = JSON.readTree(arguments.stringValue());
                return inner != null && inner.isObject() ? new Call(name, JSON.writeValueAsString(inner)) : null;
            } catch (JacksonException e) {
                return null;
            }
        }
        return arguments.isObject() ? new Call(name, JSON.writeValueAsString(arguments)) : null;
    }
}
