package io.dmsserve.structured;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * JSON schema to {@link Node}: objects with properties and required, arrays with items (and min/maxItems),
 * enum, const, strings (min/maxLength), integers, numbers, booleans, null, anyOf, {@code type} lists, and
 * local {@code $ref}s into {@code $defs}/{@code definitions} without recursion. Annotations (title,
 * description, default, examples, ...) are ignored; any other keyword is refused, naming it.
 */
final class SchemaCompiler {

    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final Set<String> ANNOTATIONS = Set.of("$schema", "$id", "$comment", "title", "description",
            "default", "examples", "deprecated", "readOnly", "writeOnly", "$defs", "definitions", "strict");
    private static final Set<String> TYPES = Set.of("object", "array", "string", "integer", "number", "boolean",
            "null");

    private final JsonNode root;
    private final Map<String, Node> resolved = new HashMap<>();
    private final Set<String> resolving = new LinkedHashSet<>();

    private SchemaCompiler(JsonNode root) {
        this.root = root;
    }

    static Node compile(JsonNode schema) {
        return new SchemaCompiler(schema).node(schema, "");
    }

    private Node node(JsonNode schema, String path) {
        if (schema.isBoolean()) {
            if (!schema.booleanValue()) {
                throw new SchemaException(path.isEmpty() ? "false" : path, "the schema " + where(path)
                        + " is false: no value can match it.");
            }
            return Node.Any.INSTANCE;
        }
        if (!schema.isObject()) {
            throw new SchemaException(path.isEmpty() ? "schema" : path, "a schema must be an object or a boolean "
                    + where(path) + ".");
        }
        for (String keyword : schema.propertyNames()) {
            boolean numberFormat = keyword.equals("format") && schema.path("type").isString()
                    && (schema.get("type").stringValue().equals("integer") || schema.get("type").stringValue().equals("number"));
            if (!ANNOTATIONS.contains(keyword) && !keyword.startsWith("x-") && !Keywords.SUPPORTED.contains(keyword)
                    && !numberFormat) {
                throw new SchemaException(at(path, keyword), "the keyword '" + keyword + "' " + where(path)
                        + " is not supported for structured outputs; supported: " + String.join(", ", Keywords.ORDERED)
                        + ".");
            }
        }
        if (schema.has("$ref")) {
            if (schema.size() > 1 && !onlyAnnotationsBesides(schema, "$ref")) {
                throw new SchemaException(at(path, "$ref"), "'$ref' " + where(path)
                        + " must stand alone (besides annotations).");
            }
            return ref(schema.get("$ref"), at(path, "$ref"));
        }
        if (schema.has("const")) {
            return new Node.Literals(List.of(compact(schema.get("const"))));
        }
        if (schema.has("enum")) {
            JsonNode values = schema.get("enum");
            if (!values.isArray() || values.isEmpty()) {
                throw new SchemaException(at(path, "enum"), "'enum' " + where(path) + " must be a non-empty array.");
            }
            List<String> texts = new ArrayList<>();
            values.forEach(v -> texts.add(compact(v)));
            return new Node.Literals(List.copyOf(new LinkedHashSet<>(texts)));
        }
        if (schema.has("anyOf")) {
            JsonNode options = schema.get("anyOf");
            if (!options.isArray() || options.isEmpty()) {
                throw new SchemaException(at(path, "anyOf"), "'anyOf' " + where(path) + " must be a non-empty array.");
            }
            for (String keyword : schema.propertyNames()) {
                if (!keyword.equals("anyOf") && !ANNOTATIONS.contains(keyword)) {
                    throw new SchemaException(at(path, keyword), "'" + keyword + "' next to 'anyOf' " + where(path)
                            + " is not supported; move it into each option.");
                }
            }
            List<Node> nodes = new ArrayList<>();
            for (int i = 0; i < options.size(); i++) {
                nodes.add(node(options.get(i), at(path, "anyOf/" + i)));
            }
            return nodes.size() == 1 ? nodes.get(0) : new Node.AnyOf(nodes);
        }
        JsonNode type = schema.get("type");
        if (type == null) {
            // No type: what the other keywords say, if they say it.
            if (schema.has("properties") || schema.has("required")) {
                return object(schema, path);
            }
            if (schema.has("items")) {
                return array(schema, path);
            }
            return Node.Any.INSTANCE;
        }
        if (type.isString()) {
            return typed(type.stringValue(), schema, path);
        }
        if (type.isArray() && !type.isEmpty()) {
            List<Node> nodes = new ArrayList<>();
            for (JsonNode t : type) {
                if (!t.isString()) {
                    throw new SchemaException(at(path, "type"), "'type' " + where(path) + " must name types.");
                }
                nodes.add(typed(t.stringValue(), schema, path));
            }
            return nodes.size() == 1 ? nodes.get(0) : new Node.AnyOf(nodes);
        }
        throw new SchemaException(at(path, "type"), "'type' " + where(path) + " must be a string or an array of strings.");
    }

    private Node typed(String type, JsonNode schema, String path) {
        if (!TYPES.contains(type)) {
            throw new SchemaException(at(path, "type"), "the type '" + type + "' " + where(path) + " is not a JSON type.");
        }
        return switch (type) {
            case "object" -> object(schema, path);
            case "array" -> array(schema, path);
            case "string" -> new Node.Str(count(schema, "minLength", path, 0),
                    count(schema, "maxLength", path, Integer.MAX_VALUE));
            case "integer" -> switch (format(schema, path, "int32", "int64")) {
                case "int32" -> Node.Num.INT32;
                case "int64" -> Node.Num.INT64;
                default -> Node.Num.INTEGER;
            };
            case "number" -> {
                format(schema, path, "double");
                yield Node.Num.NUMBER;
            }
            case "boolean" -> Node.Literals.BOOLEAN;
            default -> Node.Literals.NULL;
        };
    }

    /** The format of a number schema, one of the allowed ones ("" when absent); any other is refused. */
    private static String format(JsonNode schema, String path, String... allowed) {
        JsonNode format = schema.get("format");
        if (format == null) {
            return "";
        }
        for (String a : allowed) {
            if (format.isString() && format.stringValue().equals(a)) {
                return a;
            }
        }
        throw new SchemaException(at(path, "format"), "the format " + format + " " + where(path)
                + " is not supported; numbers accept " + String.join(", ", allowed) + ".");
    }

    private Node object(JsonNode schema, String path) {
        JsonNode properties = schema.get("properties");
        Set<String> required = new HashSet<>();
        JsonNode req = schema.get("required");
        if (req != null) {
            if (!req.isArray()) {
                throw new SchemaException(at(path, "required"), "'required' " + where(path) + " must be an array.");
            }
            req.forEach(r -> required.add(r.asString()));
        }
        JsonNode additional = schema.get("additionalProperties");
        if (additional != null && !additional.isBoolean() && !additional.isObject()) {
            throw new SchemaException(at(path, "additionalProperties"), "'additionalProperties' " + where(path)
                    + " must be a boolean or a schema.");
        }
        if (properties == null || properties.isEmpty()) {
            if (!required.isEmpty()) {
                throw new SchemaException(at(path, "required"), "'required' " + where(path)
                        + " names properties that 'properties' does not declare: " + required + ".");
            }
            // Declared nothing: any object, unless extra properties are forbidden.
            if (additional != null && additional.isBoolean() && !additional.booleanValue()) {
                return new Node.Obj(List.of(), List.of(), new boolean[0]);
            }
            return additional != null && additional.isObject()
                    ? new Node.FreeObj(node(additional, at(path, "additionalProperties"))) : Node.FreeObj.INSTANCE;
        }
        if (!properties.isObject()) {
            throw new SchemaException(at(path, "properties"), "'properties' " + where(path) + " must be an object.");
        }
        List<String> keys = new ArrayList<>();
        List<Node> values = new ArrayList<>();
        boolean[] isRequired = new boolean[properties.size()];
        int i = 0;
        for (String name : properties.propertyNames()) {
            keys.add(compact(JSON.getNodeFactory().stringNode(name)));
            values.add(node(properties.get(name), at(path, "properties/" + escape(name))));
            isRequired[i++] = required.remove(name);
        }
        if (!required.isEmpty()) {
            throw new SchemaException(at(path, "required"), "'required' " + where(path)
                    + " names properties that 'properties' does not declare: " + required + ".");
        }
        return new Node.Obj(keys, values, isRequired);
    }

    private Node array(JsonNode schema, String path) {
        JsonNode items = schema.get("items");
        if (items != null && items.isArray()) {
            throw new SchemaException(at(path, "items"), "'items' " + where(path)
                    + " as an array (tuple validation) is not supported; use one schema.");
        }
        int min = count(schema, "minItems", path, 0);
        int max = count(schema, "maxItems", path, Integer.MAX_VALUE);
        if (min > max) {
            throw new SchemaException(at(path, "minItems"), "'minItems' " + where(path) + " exceeds 'maxItems'.");
        }
        return new Node.Arr(items == null ? Node.Any.INSTANCE : node(items, at(path, "items")), min, max);
    }

    private Node ref(JsonNode ref, String path) {
        if (!ref.isString()) {
            throw new SchemaException(path, "'$ref' must be a string.");
        }
        String target = ref.stringValue();
        if (!target.startsWith("#/$defs/") && !target.startsWith("#/definitions/") && !target.equals("#")) {
            throw new SchemaException(path, "'$ref' '" + target + "' is not supported; only local references into "
                    + "'$defs' or 'definitions' are.");
        }
        if (resolved.containsKey(target)) {
            return resolved.get(target);
        }
        if (target.equals("#") || resolving.contains(target)) {
            throw new SchemaException(path, "'$ref' '" + target + "' is recursive; recursive schemas are not supported.");
        }
        JsonNode schema = root.at(target.substring(1));
        if (schema == null || schema.isMissingNode()) {
            throw new SchemaException(path, "'$ref' '" + target + "' points to nothing.");
        }
        resolving.add(target);
        Node node = node(schema, target.substring(2));
        resolving.remove(target);
        resolved.put(target, node);
        return node;
    }

    private static int count(JsonNode schema, String keyword, String path, int absent) {
        JsonNode value = schema.get(keyword);
        if (value == null) {
            return absent;
        }
        if (!value.isIntegralNumber() || value.asLong() < 0 || value.asLong() > Integer.MAX_VALUE) {
            throw new SchemaException(at(path, keyword), "'" + keyword + "' " + where(path)
                    + " must be a non-negative integer.");
        }
        return value.asInt();
    }

    private static boolean onlyAnnotationsBesides(JsonNode schema, String keyword) {
        for (String k : schema.propertyNames()) {
            if (!k.equals(keyword) && !ANNOTATIONS.contains(k)) {
                return false;
            }
        }
        return true;
    }

    static String compact(JsonNode value) {
        return JSON.writeValueAsString(value);
    }

    private static String escape(String name) {
        return name.replace("~", "~0").replace("/", "~1");
    }

    private static String at(String path, String keyword) {
        return path.isEmpty() ? keyword : path + "/" + keyword;
    }

    private static String where(String path) {
        return path.isEmpty() ? "at the top" : "at '" + path + "'";
    }

    /** The keywords that constrain values. */
    static final class Keywords {
        static final List<String> ORDERED = List.of("type", "properties", "required", "additionalProperties", "items",
                "minItems", "maxItems", "enum", "const", "minLength", "maxLength", "anyOf", "$ref", "$defs");
        static final Set<String> SUPPORTED = Set.copyOf(ORDERED);

        private Keywords() {
        }
    }
}
