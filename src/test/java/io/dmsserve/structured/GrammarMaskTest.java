package io.dmsserve.structured;

import static org.assertj.core.api.Assertions.assertThat;

import io.dmsserve.tokenizer.Tokenizer;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.json.JsonMapper;

/**
 * The mask {@link Grammar#mask} computes (inside a string: the tokenizer's table of quote-free tokens by the
 * characters they need, and only the tokens with a quote walked through the automaton) equals the full walk of
 * the vocabulary trie through the automaton, token for token: in every lexer state a string body can be in, at
 * every length up to and at maxLength, with minLength, in strings that two stacks share (anyOf) or that a
 * literal shares, in free-form keys and values; on the real Qwen3 vocabulary (151k tokens, up to 128 bytes) and
 * on the tiny model's along random walks of fuzzed schemas.
 */
class GrammarMaskTest {

    private static final JsonMapper JSON = JsonMapper.builder().build();
    private static Tokenizer qwen3;
    private static Vocabulary qwen3Vocabulary;
    /** byteToken[b]: a Qwen3 token that is the single byte b, to reach any state byte by byte. */
    private static final int[] BYTE_TOKEN = new int[256];

    @BeforeAll
    static void load() {
        qwen3 = Tokenizer.load(Path.of("src/test/resources/golden/qwen3-tokenizer/tokenizer.json"),
                Path.of("src/test/resources/golden/qwen3-tokenizer/tokenizer_config.json"));
        qwen3Vocabulary = GrammarTest.vocabulary(qwen3);
        java.util.Arrays.fill(BYTE_TOKEN, -1);
        for (int id = 0; id < qwen3Vocabulary.size; id++) {
            byte[] t = qwen3Vocabulary.tokens[id];
            if (t != null && t.length == 1 && BYTE_TOKEN[t[0] & 0xff] < 0) {
                BYTE_TOKEN[t[0] & 0xff] = id;
            }
        }
    }

    @AfterAll
    static void close() {
        qwen3.close();
    }

    /** What follows the characters already in a string: nothing, or an escape or a character cut short. */
    private static final String[] PARTS = {
        "", "\\", "\\u", "\\u0", "\\u00", "\\u00e", "\\ud", "\\uD7", "\\ud7f", // escapes, \\u ones and D-first ones
        "\u00c3", "\u00e2", "\u00e2\u0082", "\u00e0", "\u00ed", // (bytes) 2- and 3-byte characters begun
        "\u00f0", "\u00f1", "\u00f4", "\u00f0\u009d", "\u00f0\u009d\u0084", // 4-byte characters begun
    };

    /** Whole characters a string may hold so far: ASCII, a 2-, 3- and 4-byte character, an escape. */
    private static final String[] FILLERS = {"a", "\u00e9", "\u20ac", "\ud834\udd1e", "\\n", "\\u00e9"};

    @Test
    void stringStatesMatchTheFullWalkInEveryLexerStateAndAtEveryLength() {
        // schema, what opens its string, the most characters to try (past maxLength, so that the bound binds)
        Object[][] cases = {
            {"{\"type\":\"string\",\"maxLength\":3}", "\"", 4},
            {"{\"type\":\"string\",\"minLength\":2,\"maxLength\":5}", "\"", 6},
            {"{\"type\":\"string\"}", "\"", 3},
            {"{\"type\":\"string\",\"minLength\":4}", "\"", 5}, // the length is counted up to 4, then capped
            {"{\"type\":\"object\",\"properties\":{\"s\":{\"type\":\"string\",\"maxLength\":2}},\"required\":[\"s\"]}",
                "{\"s\":\"", 3}, // what follows the string: "}
            {"{\"anyOf\":[{\"type\":\"string\",\"maxLength\":1},{\"type\":\"string\",\"minLength\":2,\"maxLength\":4}]}",
                "\"", 5}, // two string stacks with different bounds
            {"{\"anyOf\":[{\"const\":\"a\\\"b\"},{\"type\":\"string\",\"maxLength\":2}]}", "\"", 3}, // a literal too
            {"{\"type\":\"array\",\"items\":{\"type\":\"string\",\"maxLength\":2},\"maxItems\":3}", "[\"", 3},
            {"{\"type\":\"object\"}", "{\"", 2}, // a free-form key
            {"{\"type\":\"object\"}", "{\"k\":\"", 2}, // a free-form value (any value: a string here)
        };
        Grammars grammars = new Grammars(qwen3Vocabulary);
        int compared = 0;
        for (Object[] c : cases) {
            Grammar grammar = grammars.schema(JSON.readTree((String) c[0]));
            int most = (Integer) c[2];
            for (String filler : FILLERS) {
                for (int chars = 0; chars <= most; chars++) {
                    // every partial escape and character after "a"s; whole characters of each kind alone
                    for (String part : filler.equals("a") ? PARTS : new String[] {""}) {
                        String text = (String) c[1] + filler.repeat(chars);
                        byte[] bytes = concat(text.getBytes(StandardCharsets.UTF_8), latin1(part));
                        Object state = byBytes(grammar, bytes);
                        if (state != null) {
                            assertSameMask(grammar, state, c[0] + " after " + GrammarTestText.hex(bytes));
                            compared++;
                        }
                    }
                }
            }
        }
        // Each case reaches most of its (filler, length, part) states; dead ones (past the bound) are skipped.
        assertThat(compared).isGreaterThan(800);
    }

    @Test
    void randomWalksOnQwen3MatchTheFullWalk() {
        Grammars grammars = new Grammars(qwen3Vocabulary);
        String[] schemas = {
            "{\"type\":\"object\",\"properties\":{\"name\":{\"type\":\"string\",\"maxLength\":24},\"age\":{\"type\":\"integer\"},"
                + "\"email\":{\"type\":\"string\",\"minLength\":3,\"maxLength\":40},\"tags\":{\"type\":\"array\",\"items\":"
                + "{\"enum\":[\"a\",\"b\",\"c\"]},\"maxItems\":4}},\"required\":[\"name\",\"age\",\"email\",\"tags\"]}",
            "{\"type\":\"object\"}",
        };
        int compared = 0;
        for (int i = 0; i < schemas.length; i++) {
            Grammar grammar = grammars.schema(JSON.readTree(schemas[i]));
            compared += walkComparing(grammar, new Random(i), 3, 60);
        }
        assertThat(compared).isGreaterThan(200);
    }

    @Test
    void randomWalksOfFuzzedSchemasOnTheTinyVocabularyMatchTheFullWalk() {
        Path dir = Path.of("src/main/resources/models/tiny-qwen3-dms");
        try (Tokenizer tiny = Tokenizer.load(dir.resolve("tokenizer.json"), dir.resolve("tokenizer_config.json"))) {
            Grammars grammars = new Grammars(GrammarTest.vocabulary(tiny));
            Random random = new Random(20261129);
            int compared = 0;
            for (int i = 0; i < 80; i++) {
                String schema = JSON.writeValueAsString(SchemaFuzzer.schema(random, 3));
                compared += walkComparing(grammars.schema(JSON.readTree(schema)), new Random(i), 4, 120);
            }
            assertThat(compared).isGreaterThan(2000);
        }
    }

    /**
     * Random walks comparing every state's mask with the full walk; half of the tokens are chosen among those
     * that hold a quote, a backslash or a non-ASCII byte, where a string body's table and the automaton meet.
     */
    private static int walkComparing(Grammar grammar, Random random, int walks, int steps) {
        Vocabulary v = grammar.vocabulary();
        int compared = 0;
        for (int w = 0; w < walks; w++) {
            Object state = grammar.start();
            ByteArrayOutputStream text = new ByteArrayOutputStream();
            for (int step = 0; step < steps; step++) {
                long[] mask = assertSameMask(grammar, state, "after " + GrammarTestText.hex(text.toByteArray()));
                compared++;
                if (grammar.complete(state)) {
                    break;
                }
                List<Integer> allowed = new ArrayList<>();
                List<Integer> edgy = new ArrayList<>();
                for (int id = 0; id < v.size; id++) {
                    if ((mask[id >>> 6] & (1L << id)) != 0 && v.tokens[id] != null) {
                        allowed.add(id);
                        if (edgy(v.tokens[id])) {
                            edgy.add(id);
                        }
                    }
                }
                List<Integer> from = !edgy.isEmpty() && random.nextBoolean() ? edgy : allowed;
                int token = from.get(random.nextInt(from.size()));
                state = grammar.advance(state, token);
                assertThat(state).as("an allowed token advances").isNotNull();
                text.writeBytes(v.tokens[token]);
            }
        }
        return compared;
    }

    private static boolean edgy(byte[] token) {
        for (byte b : token) {
            if (b == '"' || b == '\\' || b < 0) {
                return true;
            }
        }
        return false;
    }

    private static long[] assertSameMask(Grammar grammar, Object state, String where) {
        long[] fast = grammar.mask(state);
        long[] full = grammar.fullWalkMask(state);
        if (!java.util.Arrays.equals(fast, full)) {
            Vocabulary v = grammar.vocabulary();
            List<String> differ = new ArrayList<>();
            for (int id = 0; id < v.size && differ.size() < 10; id++) {
                boolean a = (fast[id >>> 6] & (1L << id)) != 0;
                boolean b = (full[id >>> 6] & (1L << id)) != 0;
                if (a != b) {
                    differ.add(id + (a ? " only in mask " : " only in full walk ")
                            + (v.tokens[id] == null ? "(special)" : GrammarTestText.hex(v.tokens[id])));
                }
            }
            throw new AssertionError("masks differ " + where + ": " + differ);
        }
        return fast;
    }

    /** The state after these bytes fed one single-byte token at a time; null when refused. */
    private static Object byBytes(Grammar grammar, byte[] bytes) {
        Object state = grammar.start();
        for (byte b : bytes) {
            int token = BYTE_TOKEN[b & 0xff];
            assertThat(token).as("Qwen3 has a token for byte %02x", b & 0xff).isNotNegative();
            state = grammar.advance(state, token);
            if (state == null) {
                return null;
            }
        }
        return state;
    }

    private static byte[] latin1(String s) {
        return s.getBytes(StandardCharsets.ISO_8859_1);
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}

/** Bytes for assertion messages: printable ASCII as is, the rest as \xNN. */
final class GrammarTestText {
    private GrammarTestText() {
    }

    static String hex(byte[] bytes) {
        StringBuilder out = new StringBuilder();
        for (byte b : bytes) {
            int c = b & 0xff;
            out.append(c >= 0x20 && c < 0x7f ? String.valueOf((char) c) : String.format("\\x%02x", c));
        }
        return out.toString();
    }
}
