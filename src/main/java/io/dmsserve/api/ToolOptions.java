package io.dmsserve.api;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import tools.jackson.databind.JsonNode;

/**
 * A chat request's {@code tools}, {@code tool_choice} and {@code parallel_tool_calls}.
 *
 * @param tools the tool dicts as given, for the chat template (empty: none, or {@code tool_choice: none})
 * @param functions name to parameters schema (null when the function declares none)
 * @param choice auto, none, required, or function (then {@code forced} names it)
 */
record ToolOptions(List<Map<String, Object>> tools, Map<String, JsonNode> functions, Choice choice, String forced,
        boolean parallel) {

    enum Choice { AUTO, NONE, REQUIRED, FUNCTION }

    static final ToolOptions NONE = new ToolOptions(List.of(), Map.of(), Choice.NONE, null, true);
    private static final Pattern NAME = Pattern.compile("[a-zA-Z0-9_-]{1,64}");
    private static final int MAX_TOOLS = 128;

    /** Whether the output is parsed for calls. */
    boolean parsesCalls() {
        return choice != Choice.NONE && !functions.isEmpty();
    }

    /** Whether decoding must produce a call (required, or a named function). */
    boolean forcesCall() {
        return choice == Choice.REQUIRED || choice == Choice.FUNCTION;
    }

    static ToolOptions parse(Fields body) {
        JsonNode array = body.get("tools");
        JsonNode choiceNode = body.get("tool_choice");
        Boolean parallel = body.bool("parallel_tool_calls");
        List<Map<String, Object>> tools = new ArrayList<>();
        Map<String, JsonNode> functions = new LinkedHashMap<>();
        if (array != null) {
            if (!array.isArray()) {
                throw ApiException.invalidType("tools", "an array", Fields.describe(array));
            }
            if (array.size() > MAX_TOOLS) {
                throw ApiException.invalidValue("tools", "array too long. Expected at most " + MAX_TOOLS
                        + " tools, but got " + array.size() + " instead.");
            }
            for (int i = 0; i < array.size(); i++) {
                Fields tool = Fields.of(array.get(i), "tools[" + i + "]");
                String type = tool.string("type");
                if (type == null) {
                    throw ApiException.missing(tool.param("type"));
                }
                if (!type.equals("function")) {
                    throw ApiException.invalidValue(tool.param("type"), "'" + Text.quote(type)
                            + "' is not supported; this server supports tools of type 'function' only.");
                }
                Fields function = tool.object("function");
                if (function == null) {
                    throw ApiException.missing(tool.param("function"));
                }
                String name = function.string("name");
                if (name == null) {
                    throw ApiException.missing(function.param("name"));
                }
                if (!NAME.matcher(name).matches()) {
                    throw ApiException.invalidValue(function.param("name"), "'" + Text.quote(name)
                            + "' does not match '^[a-zA-Z0-9_-]{1,64}$'.");
                }
                if (functions.containsKey(name)) {
                    throw ApiException.invalidValue(function.param("name"), "the function '" + name
                            + "' is declared twice.");
                }
                function.string("description");
                JsonNode parameters = function.get("parameters");
                if (parameters != null && !parameters.isObject()) {
                    throw ApiException.invalidType(function.param("parameters"), "an object (a JSON schema)",
                            Fields.describe(parameters));
                }
                functions.put(name, parameters);
                @SuppressWarnings("unchecked")
                Map<String, Object> dict = ApiJson.convert(tool.node(), Map.class);
                tools.add(dict);
            }
        }
        Choice choice = functions.isEmpty() ? Choice.NONE : Choice.AUTO;
        String forced = null;
        if (choiceNode != null) {
            if (functions.isEmpty()) {
                throw ApiException.invalidValue("tool_choice", "'tool_choice' is only allowed when 'tools' are given.");
            }
            if (choiceNode.isString()) {
                String value = choiceNode.stringValue();
                choice = switch (value) {
                    case "auto" -> Choice.AUTO;
                    case "none" -> Choice.NONE;
                    case "required" -> Choice.REQUIRED;
                    default -> throw ApiException.invalidValue("tool_choice", "'" + Text.quote(value)
                            + "' is not one of 'none', 'auto', 'required' or a named function.");
                };
            } else {
                Fields named = Fields.of(choiceNode, "tool_choice");
                String type = named.string("type");
                if (!"function".equals(type)) {
                    throw ApiException.invalidValue(named.param("type"), "expected 'function'.");
                }
                Fields function = named.object("function");
                if (function == null) {
                    throw ApiException.missing(named.param("function"));
                }
                forced = function.string("name");
                if (forced == null) {
                    throw ApiException.missing(function.param("name"));
                }
                if (!functions.containsKey(forced)) {
                    throw ApiException.invalidValue(function.param("name"), "no tool named '" + Text.quote(forced)
                            + "' is in 'tools'.");
                }
                choice = Choice.FUNCTION;
            }
        }
        if (choice == Choice.NONE) {
            // The model is not to call anything: it is not told about the tools either.
            return new ToolOptions(List.of(), Map.of(), Choice.NONE, null, parallel == null || parallel);
        }
        return new ToolOptions(List.copyOf(tools), functions, choice, forced, parallel == null || parallel);
    }

    Set<String> names() {
        return functions.keySet();
    }
}
