package io.dmsserve.structured;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** Random schemas from the supported subset (nested objects, arrays, enums, const, anyOf, bounds). */
final class SchemaFuzzer {

    private SchemaFuzzer() {
    }

    static Map<String, Object> schema(Random random, int depth) {
        int kind = random.nextInt(depth > 0 ? 10 : 6);
        Map<String, Object> s = new LinkedHashMap<>();
        switch (kind) {
            case 0 -> {
                s.put("type", "string");
                if (random.nextBoolean()) {
                    int min = random.nextInt(3);
                    s.put("minLength", min);
                    s.put("maxLength", min + random.nextInt(5));
                } else {
                    s.put("maxLength", random.nextInt(6));
                }
            }
            case 1 -> s.put("type", "integer");
            case 2 -> s.put("type", "number");
            case 3 -> s.put("type", random.nextBoolean() ? "boolean" : "null");
            case 4 -> s.put("enum", List.of("a", "b c", 3, random.nextBoolean(), "\u00e9t\u00e9"));
            case 5 -> s.put("const", random.nextBoolean() ? "fixed" : 42);
            case 6, 7 -> {
                s.put("type", "object");
                Map<String, Object> properties = new LinkedHashMap<>();
                List<String> required = new ArrayList<>();
                int n = 1 + random.nextInt(3);
                for (int i = 0; i < n; i++) {
                    String name = "p" + i;
                    properties.put(name, schema(random, depth - 1));
                    if (random.nextBoolean()) {
                        required.add(name);
                    }
                }
                s.put("properties", properties);
                s.put("required", required);
                if (random.nextBoolean()) {
                    s.put("additionalProperties", false);
                }
            }
            case 8 -> {
                s.put("type", "array");
                s.put("items", schema(random, depth - 1));
                s.put("maxItems", 1 + random.nextInt(3));
            }
            default -> s.put("anyOf", List.of(schema(random, depth - 1), schema(random, depth - 1)));
        }
        if (random.nextInt(4) == 0) {
            s.put("description", "fuzzed");
        }
        return s;
    }
}
