package io.dmsserve.structured;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.networknt.schema.Error;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import io.dmsserve.tokenizer.Tokenizer;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Constrained decoding over real vocabularies (the tiny model's and Qwen3's), checked by an independent
 * oracle: random walks through the masks (a random allowed token at every step, as a model with random
 * weights would choose) end in text that a JSON parser reads and that networknt's JSON Schema validator
 * accepts against the schema, for hand-written and fuzzed schemas; unsupported keywords are refused by name.
 */
class GrammarTest {

    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static final SchemaRegistry VALIDATORS = SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_2020_12);
    private static Tokenizer tiny;
    private static Grammars tinyGrammars;

    @BeforeAll
    static void load() {
        Path dir = Path.of("src/main/resources/models/tiny-qwen3-dms");
        tiny = Tokenizer.load(dir.resolve("tokenizer.json"), dir.resolve("tokenizer_config.json"));
        tinyGrammars = new Grammars(vocabulary(tiny));
    }

    @AfterAll
    static void close() {
        tiny.close();
    }

    static Vocabulary vocabulary(Tokenizer tokenizer) {
        byte[][] bytes = new byte[tokenizer.vocabSize()][];
        for (int id = 0; id < bytes.length; id++) {
            bytes[id] = tokenizer.isSpecial(id) ? null : tokenizer.bytesOf(id);
        }
        return new Vocabulary(bytes, tokenizer.eosTokenIds());
    }

    /** A random walk through the grammar's masks; the text when it ended with an EOS token, else null. */
    static String walk(Grammar grammar, Random random, int maxSteps) {
        Vocabulary v = grammar.vocabulary();
        Object state = grammar.start();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int step = 0; step < maxSteps; step++) {
            long[] mask = grammar.mask(state);
            List<Integer> allowed = new ArrayList<>();
            for (int id = 0; id < v.size; id++) {
                if ((mask[id >>> 6] & (1L << id)) != 0) {
                    allowed.add(id);
                }
            }
            assertThat(allowed).as("a mask is never empty").isNotEmpty();
            boolean canEnd = grammar.complete(state);
            if (canEnd) {
                assertThat(allowed).as("a complete value allows the end").contains(v.eosIds[0]);
                if (random.nextInt(3) > 0) {
                    return out.toString(StandardCharsets.UTF_8);
                }
            }
            // Prefer short tokens that close things half of the time, so that walks end.
            int token = allowed.get(random.nextInt(allowed.size()));
            if (random.nextBoolean()) {
                List<Integer> closing = allowed.stream().filter(id -> v.tokens[id] != null && v.tokens[id].length == 1
                        && "\"]},0123456789tfn".indexOf(v.tokens[id][0]) >= 0).toList();
                if (!closing.isEmpty()) {
                    token = closing.get(random.nextInt(closing.size()));
                }
            }
            if (isEos(v, token)) {
                return out.toString(StandardCharsets.UTF_8);
            }
            Object next = grammar.advance(state, token);
            assertThat(next).as("an allowed token advances").isNotNull();
            out.writeBytes(v.tokens[token]);
            state = next;
        }
        return null;
    }

    private static boolean isEos(Vocabulary v, int token) {
        for (int id : v.eosIds) {
            if (id == token) {
                return true;
            }
        }
        return false;
    }

    /** Walks until `walks` of them ended; each ended text must parse and validate. */
    static int assertWalksValidate(Grammars grammars, String schemaJson, int walks, long seed) {
        JsonNode schema = JSON.readTree(schemaJson);
        Grammar grammar = grammars.schema(schema);
        Schema validator = VALIDATORS.getSchema(schemaJson);
        Random random = new Random(seed);
        int ended = 0;
        for (int attempt = 0; attempt < walks * 4 && ended < walks; attempt++) {
            String text = walk(grammar, random, 400);
            if (text == null) {
                continue;
            }
            ended++;
            JsonNode value;
            try {
                value = JSON.readTree(text);
            } catch (RuntimeException e) {
                throw new AssertionError("not JSON: " + text + " (schema " + schemaJson + ")", e);
            }
            List<Error> errors = validator.validate(value);
            assertThat(errors).as("%s against %s", EngineText.quote(text), schemaJson).isEmpty();
        }
        assertThat(ended).as("walks that ended for %s", schemaJson).isGreaterThanOrEqualTo(walks / 2);
        return ended;
    }

    @Test
    void handWrittenSchemasValidate() {
        String[] schemas = {
            "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"maxLength\":8},\"age\":{\"type\":\"integer\"},"
                + "\"admin\":{\"type\":\"boolean\"}},\"required\":[\"name\",\"age\"],\"additionalProperties\":false}",
            "{\"type\":\"array\",\"items\":{\"enum\":[\"red\",\"green\",1,null,{\"a\":[1,2]}]},\"minItems\":2,\"maxItems\":4}",
            "{\"anyOf\":[{\"type\":\"string\",\"minLength\":2,\"maxLength\":3},{\"type\":\"number\"},{\"type\":\"null\"}]}",
            "{\"$defs\":{\"point\":{\"type\":\"object\",\"properties\":{\"x\":{\"type\":\"number\"},\"y\":{\"type\":\"number\"}},"
                + "\"required\":[\"x\",\"y\"]}},\"type\":\"object\",\"properties\":{\"from\":{\"$ref\":\"#/$defs/point\"},"
                + "\"to\":{\"$ref\":\"#/$defs/point\"},\"label\":{\"const\":\"line \\\"1\\\"\"}},\"required\":[\"from\",\"to\",\"label\"]}",
            "{\"type\":[\"integer\",\"boolean\"]}",
            "{\"type\":\"object\"}",
            "{\"type\":\"object\",\"properties\":{\"tags\":{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":4}}},"
                + "\"additionalProperties\":false}",
            "{\"type\":\"object\",\"additionalProperties\":{\"type\":\"integer\"}}",
        };
        for (int i = 0; i < schemas.length; i++) {
            assertWalksValidate(tinyGrammars, schemas[i], 20, i);
        }
    }

    @Test
    void fuzzedSchemasValidate() {
        Random random = new Random(20261129);
        for (int i = 0; i < 60; i++) {
            String schema = JSON.writeValueAsString(SchemaFuzzer.schema(random, 3));
            assertWalksValidate(tinyGrammars, schema, 6, i);
        }
    }

    @Test
    void jsonObjectModeGivesObjects() {
        Grammar grammar = tinyGrammars.jsonObject();
        Random random = new Random(5);
        int objects = 0;
        for (int i = 0; i < 40; i++) {
            String text = walk(grammar, random, 400);
            if (text != null) {
                assertThat(JSON.readTree(text).isObject()).as(text).isTrue();
                objects++;
            }
        }
        assertThat(objects).isGreaterThan(10);
    }

    @Test
    void toolCallBlocksCarryAKnownNameAndValidArguments() {
        JsonNode weather = JSON.readTree("{\"type\":\"object\",\"properties\":{\"city\":{\"enum\":[\"Paris\",\"Rome\"]},"
                + "\"days\":{\"type\":\"integer\"}},\"required\":[\"city\"]}");
        Grammar grammar = tinyGrammars.toolCalls(new java.util.LinkedHashMap<>(Map.of("get_weather", weather)), true);
        Random random = new Random(9);
        int calls = 0;
        for (int i = 0; i < 30; i++) {
            String text = walk(grammar, random, 400);
            if (text == null) {
                continue;
            }
            for (String block : text.split("\n(?=<tool_call>)")) {
                assertThat(block).startsWith("<tool_call>\n{\"name\":").endsWith("}\n</tool_call>");
                JsonNode call = JSON.readTree(block.substring("<tool_call>\n".length(), block.length()
                        - "\n</tool_call>".length()));
                assertThat(call.get("name").asString()).isEqualTo("get_weather");
                assertThat(VALIDATORS.getSchema(weather.toString()).validate(call.get("arguments"))).isEmpty();
                calls++;
            }
        }
        assertThat(calls).isGreaterThan(10);
    }

    @Test
    void theRealQwen3VocabularyGivesValidOutputs() {
        Tokenizer qwen3 = Tokenizer.load(Path.of("src/test/resources/golden/qwen3-tokenizer/tokenizer.json"),
                Path.of("src/test/resources/golden/qwen3-tokenizer/tokenizer_config.json"));
        try {
            Grammars grammars = new Grammars(vocabulary(qwen3));
            assertWalksValidate(grammars, "{\"type\":\"object\",\"properties\":{\"answer\":{\"type\":\"string\","
                    + "\"maxLength\":12},\"score\":{\"type\":\"number\"},\"ok\":{\"type\":\"boolean\"}},"
                    + "\"required\":[\"answer\",\"score\",\"ok\"]}", 4, 1);
        } finally {
            qwen3.close();
        }
    }

    @Test
    void tokensOutsideTheMaskDoNotAdvance() {
        Grammar grammar = tinyGrammars.schema(JSON.readTree("{\"type\":\"integer\"}"));
        Vocabulary v = grammar.vocabulary();
        long[] mask = grammar.mask(grammar.start());
        for (int id = 0; id < v.size; id++) {
            boolean allowed = (mask[id >>> 6] & (1L << id)) != 0;
            assertThat(grammar.advance(grammar.start(), id) != null).as("token %d %s", id,
                    v.tokens[id] == null ? "special" : new String(v.tokens[id], StandardCharsets.UTF_8))
                    .isEqualTo(allowed);
            if (allowed) {
                String text = new String(v.tokens[id], StandardCharsets.UTF_8);
                assertThat(text).matches("-|-?[0-9]+");
            }
        }
    }

    @Test
    void unsupportedKeywordsAreRefusedByName() {
        Map<String, String> cases = Map.of(
                "{\"type\":\"string\",\"pattern\":\"^a\"}", "pattern",
                "{\"type\":\"object\",\"properties\":{\"d\":{\"type\":\"string\",\"format\":\"date\"}}}", "properties/d/format",
                "{\"oneOf\":[{\"type\":\"string\"}]}", "oneOf",
                "{\"$defs\":{\"n\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/n\"}}},\"$ref\":\"#/$defs/n\"}", "$defs/n/items/$ref",
                "{\"type\":\"integer\",\"minimum\":3}", "minimum",
                "{\"$ref\":\"https://example.com/s.json\"}", "$ref",
                "{\"type\":\"object\",\"required\":[\"a\"]}", "required");
        cases.forEach((schema, keyword) -> assertThatThrownBy(() -> tinyGrammars.schema(JSON.readTree(schema)))
                .as(schema).isInstanceOf(SchemaException.class)
                .satisfies(e -> assertThat(((SchemaException) e).keyword()).isEqualTo(keyword))
                .hasMessageContaining(keyword.substring(keyword.lastIndexOf('/') + 1)));
        assertThat(Set.of()).isEmpty();
    }
}

/** Assertion text with non-ASCII and control characters escaped. */
final class EngineText {
    private EngineText() {
    }

    static String quote(String text) {
        StringBuilder out = new StringBuilder();
        text.chars().forEach(c -> out.append(c >= 0x20 && c < 0x7f ? String.valueOf((char) c) : String.format("\\u%04x", c)));
        return out.toString();
    }
}
