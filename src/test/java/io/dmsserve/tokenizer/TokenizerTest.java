package io.dmsserve.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TokenizerTest {

    private static Tokenizer qwen;

    @BeforeAll
    static void load() {
        qwen = TestTokenizers.qwen3();
    }

    @AfterAll
    static void close() {
        qwen.close();
    }

    @Test
    void encodesWithoutBosOrEos() {
        // "Hello world" is two tokens in Qwen's vocabulary: "Hello" and "Ġworld"
        int[] ids = qwen.encode("Hello world");
        assertThat(ids).containsExactly(qwen.tokenId("Hello").orElseThrow(), qwen.tokenId("Ġworld").orElseThrow());
        assertThat(qwen.decode(ids)).isEqualTo("Hello world");
        assertThat(qwen.encode("")).isEmpty();
    }

    @Test
    void specialTokensInTextBecomeTheirIds() {
        int[] ids = qwen.encode("<|im_start|>user\nHi<|im_end|>\n");
        assertThat(ids[0]).isEqualTo(151644);
        assertThat(ids).contains(151645);
        assertThat(qwen.decode(ids)).isEqualTo("<|im_start|>user\nHi<|im_end|>\n");
        assertThat(qwen.decode(ids, true)).isEqualTo("user\nHi\n");
    }

    @Test
    void decodeDoesNotCleanUpSpaces() {
        // clean_up_tokenization_spaces=False for Qwen3: " ." and " n't" stay as written
        String text = "Hello , world . do n't , ok ? yes !";
        assertThat(qwen.decode(qwen.encode(text))).isEqualTo(text);
    }

    @Test
    void longTextIsNotTruncated() {
        String text = "word ".repeat(20_000);
        int[] ids = qwen.encode(text);
        assertThat(ids.length).isGreaterThan(10_000);
        assertThat(qwen.decode(ids)).isEqualTo(text);
    }

    @Test
    void decodeSkipsIdsOutsideTheVocabulary() {
        int hello = qwen.tokenId("Hello").orElseThrow();
        assertThat(qwen.decode(new int[] {hello, 151_900, -1, hello})).isEqualTo("HelloHello");
    }

    @Test
    void loneSurrogatesEncodeAsReplacementCharacter() {
        assertThat(qwen.encode("a\uD800b")).containsExactly(qwen.encode("a\uFFFDb"));
        assertThat(qwen.decode(qwen.encode("x\uDC00"))).isEqualTo("x\uFFFD");
        assertThat(Tokenizer.replaceLoneSurrogates("😀\uD83D")).isEqualTo("😀\uFFFD");
    }

    @Test
    void vocabularyAndSpecialTokens() {
        assertThat(qwen.vocabSize()).isEqualTo(151_669); // 151643 BPE tokens + 26 added tokens
        assertThat(qwen.tokenId("<|im_end|>")).hasValue(151645);
        assertThat(qwen.tokenId("<think>")).hasValue(151667);
        assertThat(qwen.tokenId("no such token")).isEmpty();
        assertThat(qwen.tokenString(151645)).isEqualTo("<|im_end|>");
        assertThat(qwen.isSpecial(151645)).isTrue();
        assertThat(qwen.isSpecial(151667)).isFalse(); // <think> is an added, non-special token
        assertThat(qwen.eosTokenIds()).containsExactlyInAnyOrder(151645, 151643);
        assertThat(qwen.hasChatTemplate()).isTrue();
    }

    @Test
    void missingFileIsNamed(@TempDir Path dir) {
        Path missing = dir.resolve("tokenizer.json");
        assertThatThrownBy(() -> Tokenizer.load(missing, null))
                .isInstanceOf(TokenizerLoadException.class)
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(missing.toString());
    }

    @Test
    void malformedJsonIsNamed(@TempDir Path dir) throws Exception {
        Path bad = Files.writeString(dir.resolve("tokenizer.json"), "{\"model\": {\"vocab\": ");
        assertThatThrownBy(() -> Tokenizer.load(bad, null))
                .isInstanceOf(TokenizerLoadException.class)
                .hasMessageContaining(bad.toString())
                .hasMessageContaining("not valid JSON");
    }

    @Test
    void tokenizerJsonWithoutVocabIsRejected(@TempDir Path dir) throws Exception {
        Path empty = Files.writeString(dir.resolve("tokenizer.json"), "{}");
        assertThatThrownBy(() -> Tokenizer.load(empty, null))
                .isInstanceOf(TokenizerLoadException.class)
                .hasMessageContaining(empty.toString());
    }

    @Test
    void malformedConfigIsNamed(@TempDir Path dir) throws Exception {
        Path config = Files.writeString(dir.resolve("tokenizer_config.json"), "[1, 2");
        assertThatThrownBy(() -> Tokenizer.load(TestTokenizers.QWEN3.resolve("tokenizer.json"), config))
                .isInstanceOf(TokenizerLoadException.class)
                .hasMessageContaining(config.toString());
        Path missing = dir.resolve("nope.json");
        assertThatThrownBy(() -> Tokenizer.load(TestTokenizers.QWEN3.resolve("tokenizer.json"), missing))
                .isInstanceOf(TokenizerLoadException.class)
                .hasMessageContaining(missing.toString());
    }

    @Test
    void configWithoutChatTemplate(@TempDir Path dir) throws Exception {
        Path config = Files.writeString(dir.resolve("tokenizer_config.json"), "{\"eos_token\": {\"content\":"
                + " \"<|im_end|>\"}}");
        try (Tokenizer t = Tokenizer.load(TestTokenizers.QWEN3.resolve("tokenizer.json"), config)) {
            assertThat(t.hasChatTemplate()).isFalse();
            assertThat(t.eosTokenIds()).contains(151645);
            assertThatThrownBy(t::chatTemplate)
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining(config.toString());
        }
    }

    @Test
    void chatTemplateFromSiblingJinjaFile(@TempDir Path dir) throws Exception {
        Path config = Files.writeString(dir.resolve("tokenizer_config.json"), "{\"eos_token\": \"<|im_end|>\"}");
        Files.writeString(dir.resolve("chat_template.jinja"), "{{ messages[0].content }}{{ eos_token }}\n");
        try (Tokenizer t = Tokenizer.load(TestTokenizers.QWEN3.resolve("tokenizer.json"), config)) {
            assertThat(t.chatTemplate().render(java.util.List.of(ChatMessage.of("user", "x")), false))
                    .isEqualTo("x<|im_end|>");
        }
    }
}
