package io.dmsserve.structured;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Structured outputs: JSON schemas, free JSON objects and Qwen3 tool-call blocks compiled into
 * {@link Grammar}s over one tokenizer's {@link Vocabulary}, cached by their text so that repeated requests
 * reuse states and masks. Thread-safe.
 */
public final class Grammars {

    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final int CACHED = 64;

    private final Vocabulary vocabulary;
    private final Map<String, Grammar> cache = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, Grammar> eldest) {
            return size() > CACHED;
        }
    };

    public Grammars(Vocabulary vocabulary) {
        this.vocabulary = vocabulary;
    }

    public Vocabulary vocabulary() {
        return vocabulary;
    }

    /**
     * A value valid against the schema.
     *
     * @throws SchemaException when the schema uses what this compiler does not support, naming the keyword
     */
    public Grammar schema(JsonNode schema) {
        return cached("schema:" + SchemaCompiler.compact(schema), () -> SchemaCompiler.compile(schema));
    }

    /** Any JSON object ({@code response_format: json_object}). */
    public Grammar jsonObject() {
        return cached("object", () -> Node.FreeObj.INSTANCE);
    }

    /**
     * One Qwen3 tool-call block, {@code <tool_call>\n{"name": "f", "arguments": {...}}\n</tool_call>}, calling one
     * of the functions with arguments valid against its parameters schema (null: any object); with
     * {@code parallel}, more blocks may follow, one per line.
     *
     * @throws SchemaException naming the function when a parameters schema cannot be enforced
     */
    public Grammar toolCalls(Map<String, JsonNode> functions, boolean parallel) {
        Map<String, Object> key = new LinkedHashMap<>();
        key.put("functions", functions);
        key.put("parallel", parallel);
        return cached("tools:" + JSON.writeValueAsString(key), () -> {
            List<Node> calls = new ArrayList<>();
            for (Map.Entry<String, JsonNode> f : functions.entrySet()) {
                Node arguments;
                try {
                    arguments = f.getValue() == null ? Node.FreeObj.INSTANCE : SchemaCompiler.compile(f.getValue());
                } catch (SchemaException e) {
                    throw new SchemaException(f.getKey() + ": " + e.keyword(), e.getMessage());
                }
                calls.add(new Node.Obj(List.of("\"name\"", "\"arguments\""),
                        List.of(new Node.Literals(List.of(SchemaCompiler.compact(JSON.getNodeFactory()
                                .stringNode(f.getKey())))), arguments), new boolean[] {true, true}));
            }
            Node call = calls.size() == 1 ? calls.get(0) : new Node.AnyOf(calls);
            return new Node.Wrapped("<tool_call>\n", call, "\n</tool_call>", parallel ? "\n" : null);
        });
    }

    private Grammar cached(String key, java.util.function.Supplier<Node> compile) {
        synchronized (cache) {
            Grammar g = cache.get(key);
            if (g == null) {
                g = new Grammar(compile.get(), vocabulary);
                cache.put(key, g);
            }
            return g;
        }
    }
}
