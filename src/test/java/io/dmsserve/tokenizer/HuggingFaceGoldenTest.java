package io.dmsserve.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;

/**
 * Golden files made by Hugging Face transformers/tokenizers on a reference host, one folder per
 * tokenizer under src/test/resources/golden/ (tokenizer.json + tokenizer_config.json next to them):
 * <ul>
 *   <li>ids.json: {@code [{"text", "ids", "decoded"}]} from {@code tok.encode(text,
 *       add_special_tokens=False)} and {@code tok.decode(ids)};</li>
 *   <li>chat_templates.json: {@code [{"name", "messages", "add_generation_prompt", "enable_thinking"
 *       (null = not passed), "rendered", "ids"}]} from {@code tok.apply_chat_template(...)}.</li>
 * </ul>
 * A missing file fails its test.
 */
class HuggingFaceGoldenTest {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final List<String> EXPECTED = List.of("qwen3-tokenizer", "tiny-qwen3-dms");
    private static final Map<Path, Tokenizer> TOKENIZERS = new HashMap<>();

    /** The expected folders plus any other folder under golden/ that has an ids.json. */
    static Stream<String> folders() throws IOException {
        TreeSet<String> names = new TreeSet<>(EXPECTED);
        if (Files.isDirectory(TestTokenizers.GOLDEN)) {
            try (Stream<Path> dirs = Files.list(TestTokenizers.GOLDEN)) {
                dirs.filter(d -> Files.exists(d.resolve("ids.json"))).forEach(d -> names.add(d.getFileName().toString()));
            }
        }
        return names.stream();
    }

    private static synchronized Tokenizer tokenizer(Path dir) {
        return TOKENIZERS.computeIfAbsent(dir, TestTokenizers::load);
    }

    @AfterAll
    static void closeAll() {
        TOKENIZERS.values().forEach(Tokenizer::close);
        TOKENIZERS.clear();
    }

    /** A missing golden file fails the test: a skip would let the check vanish unnoticed. */
    private static JsonNode golden(Path file) {
        assertThat(file).as("golden file made by Hugging Face on a reference host (tools/golden)").isRegularFile();
        return JSON.readTree(file);
    }

    private static int[] ints(JsonNode array) {
        return array.values().stream().mapToInt(JsonNode::asInt).toArray();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("folders")
    void encodeDecodeAndStreamLikeHuggingFace(String folder) {
        Path dir = TestTokenizers.GOLDEN.resolve(folder);
        JsonNode cases = golden(dir.resolve("ids.json"));
        Tokenizer tok = tokenizer(dir);
        assertThat(cases.size()).isPositive();
        for (JsonNode c : cases.values()) {
            String text = c.get("text").asString();
            int[] ids = ints(c.get("ids"));
            String decoded = c.get("decoded").asString();
            assertThat(tok.encode(text)).as("encode(%s)", text).containsExactly(ids);
            assertThat(tok.decode(ids)).as("decode of %s", text).isEqualTo(decoded);

            IncrementalDetokenizer detok = tok.newDetokenizer();
            StringBuilder streamed = new StringBuilder();
            List<String> pieces = new ArrayList<>();
            for (int id : ids) {
                pieces.add(detok.push(id));
            }
            pieces.add(detok.flush());
            for (String p : pieces) {
                streamed.append(p);
                if (!decoded.contains("\uFFFD")) {
                    assertThat(p).as("push result while streaming %s", text).doesNotContain("\uFFFD");
                }
                assertThat(IncrementalDetokenizerTest.isWellFormed(p)).isTrue();
            }
            assertThat(streamed.toString()).as("streamed %s", text).isEqualTo(decoded);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("folders")
    void chatTemplateRendersLikeHuggingFace(String folder) {
        Path dir = TestTokenizers.GOLDEN.resolve(folder);
        JsonNode cases = golden(dir.resolve("chat_templates.json"));
        Tokenizer tok = tokenizer(dir);
        assertThat(cases.size()).isPositive();
        for (JsonNode c : cases.values()) {
            String name = c.get("name").asString();
            List<ChatMessage> messages = new ArrayList<>();
            for (JsonNode m : c.get("messages").values()) {
                JsonNode reasoning = m.get("reasoning_content");
                JsonNode content = m.get("content");
                messages.add(new ChatMessage(m.get("role").asString(),
                        content == null || content.isNull() ? null : content.asString(),
                        reasoning == null || reasoning.isNull() ? null : reasoning.asString()));
            }
            Map<String, Object> kwargs = new HashMap<>();
            JsonNode thinking = c.get("enable_thinking");
            if (thinking != null && !thinking.isNull()) {
                kwargs.put("enable_thinking", thinking.asBoolean());
            }
            String rendered = tok.chatTemplate().render(messages, c.get("add_generation_prompt").asBoolean(), kwargs);
            assertThat(rendered).as("rendering of %s", name).isEqualTo(c.get("rendered").asString());
            assertThat(tok.encode(rendered)).as("ids of %s", name).containsExactly(ints(c.get("ids")));
        }
    }
}
