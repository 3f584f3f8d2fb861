package io.dmsserve.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class IncrementalDetokenizerTest {

    private static Tokenizer qwen;

    @BeforeAll
    static void load() {
        qwen = TestTokenizers.qwen3();
    }

    @AfterAll
    static void close() {
        qwen.close();
    }

    /** Pushes ids one by one; returns each push result plus the flush as the last element. */
    static List<String> stream(Tokenizer t, int[] ids) {
        IncrementalDetokenizer d = t.newDetokenizer();
        List<String> pieces = new ArrayList<>();
        for (int id : ids) {
            pieces.add(d.push(id));
        }
        pieces.add(d.flush());
        return pieces;
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "Hello, world! 😀🎉 Emoji 👨‍👩‍👧‍👦 family and flags 🇫🇷🇯🇵.",
        "中文分词测试：今天天气很好，我们去公园散步吧。日本語のテキストも。한국어 문장.",
        "Accents: naïve café résumé Ångström Øresund ĳ ß ﬁ — “quotes” and ‘single’ … done",
        "<|im_start|>user\nMix 😀 and 中文 with <think>tags</think><|im_end|>\n",
        "Math: ∑ᵢ xᵢ² ≤ ∞, arrows ⟶ ⇒, box ┌─┐, braille ⠿, old italic 𐌀𐌁, music 𝄞",
        "   leading spaces\n\n\ttabs\r\nwindows lines   ",
    })
    void streamingEqualsDecodeAndNeverBreaksACharacter(String text) {
        int[] ids = qwen.encode(text);
        List<String> pieces = stream(qwen, ids);
        for (String p : pieces) {
            assertThat(p).doesNotContain("\uFFFD");
            assertThat(isWellFormed(p)).as("no lone surrogates in %s", p).isTrue();
        }
        assertThat(String.join("", pieces)).isEqualTo(qwen.decode(ids));
        assertThat(pieces.get(pieces.size() - 1)).isEmpty(); // nothing held back at the end of valid text
    }

    @Test
    void singleEmojiSpanningSeveralTokensComesOutOnce() {
        // a rare emoji is split into byte-level tokens that are not valid UTF-8 on their own
        String emoji = "🦩";
        int[] ids = qwen.encode(emoji);
        assertThat(ids.length).as("🦩 should take several tokens").isGreaterThan(1);
        for (int id : ids) {
            assertThat(qwen.decode(new int[] {id})).contains("\uFFFD"); // each token alone is a broken character
        }
        List<String> pieces = stream(qwen, ids);
        for (int i = 0; i < ids.length - 1; i++) {
            assertThat(pieces.get(i)).isEmpty();
        }
        assertThat(pieces.get(ids.length - 1)).isEqualTo(emoji);
        assertThat(pieces.get(ids.length)).isEmpty();
    }

    @Test
    void heldBackBytesAreCountedAndFlushedAsReplacement() {
        int[] ids = qwen.encode("🦩");
        IncrementalDetokenizer d = qwen.newDetokenizer();
        assertThat(d.push(ids[0])).isEmpty();
        assertThat(d.pendingBytes()).isPositive();
        // the stream ends mid-character: same as decode(), a replacement character
        assertThat(d.flush()).isEqualTo(qwen.decode(new int[] {ids[0]})).contains("\uFFFD");
        assertThat(d.pendingBytes()).isZero();
    }

    @Test
    void everyAddedTokenDecodesLikeTheRustDecoder() {
        for (int id = 151_643; id < qwen.vocabSize(); id++) {
            IncrementalDetokenizer d = qwen.newDetokenizer();
            assertThat(d.push(id) + d.flush()).isEqualTo(qwen.decode(new int[] {id}));
        }
    }

    @Test
    void skipSpecialTokensDropsOnlySpecialOnes() {
        int[] ids = qwen.encode("<|im_start|>assistant\n<think>x</think><|im_end|>");
        IncrementalDetokenizer d = qwen.newDetokenizer(true);
        StringBuilder b = new StringBuilder();
        for (int id : ids) {
            b.append(d.push(id));
        }
        b.append(d.flush());
        assertThat(b.toString()).isEqualTo(qwen.decode(ids, true)).isEqualTo("assistant\n<think>x</think>");
    }

    @Test
    void nonByteLevelTokenizerFallsBackToWindowDecoding(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        // a SentencePiece-style (Metaspace) tokenizer: the leading space of a word appears only once a
        // word follows another one, which the window re-decoding handles
        java.nio.file.Path json = java.nio.file.Files.writeString(dir.resolve("tokenizer.json"), """
                {"version": "1.0", "truncation": null, "padding": null, "added_tokens": [
                  {"id": 3, "content": "</s>", "single_word": false, "lstrip": false, "rstrip": false,
                   "normalized": false, "special": true}],
                 "normalizer": null,
                 "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always",
                                   "split": true},
                 "post_processor": null,
                 "decoder": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always",
                             "split": true},
                 "model": {"type": "WordLevel", "vocab": {"\u2581Hello": 0, "\u2581world": 1, "[UNK]": 2},
                           "unk_token": "[UNK]"}}
                """);
        try (Tokenizer t = Tokenizer.load(json, null)) {
            int[] ids = t.encode("Hello world</s>");
            assertThat(ids).containsExactly(0, 1, 3);
            List<String> pieces = stream(t, ids);
            assertThat(pieces.get(0)).isEqualTo("Hello");
            assertThat(pieces.get(1)).isEqualTo(" world");
            assertThat(String.join("", pieces)).isEqualTo(t.decode(ids)).isEqualTo("Hello world</s>");
            assertThat(t.eosTokenIds()).isEmpty();
        }
    }

    @Test
    void randomIdSequencesMatchDecodeExactly() {
        // arbitrary ids produce invalid UTF-8 all the time; the lossy replacement must match Rust's
        Random rnd = new Random(42);
        for (int round = 0; round < 300; round++) {
            int[] ids = new int[1 + rnd.nextInt(12)];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = rnd.nextInt(qwen.vocabSize());
            }
            assertThat(String.join("", stream(qwen, ids))).as("ids %s", java.util.Arrays.toString(ids))
                    .isEqualTo(qwen.decode(ids));
        }
    }

    @Test
    void byteLevelTokensOfSplitCharactersMatchDecode() {
        // ids of every byte of "é", "中", "😀" taken one byte at a time (single-byte tokens exist for all 256 bytes)
        for (String s : List.of("é", "中", "😀", "ab")) {
            byte[] utf8 = s.getBytes(StandardCharsets.UTF_8);
            int[] ids = new int[utf8.length];
            for (int i = 0; i < utf8.length; i++) {
                ids[i] = byteToken(utf8[i]);
            }
            List<String> pieces = stream(qwen, ids);
            assertThat(String.join("", pieces)).isEqualTo(s).isEqualTo(qwen.decode(ids));
        }
    }

    /** The id of the single-byte token for b. */
    private static int byteToken(byte b) {
        for (int id = 0; id < qwen.vocabSize(); id++) {
            String t = qwen.tokenString(id);
            if (t != null && t.length() == 1 && java.util.Arrays.equals(ByteLevel.decode(t), new byte[] {b})) {
                return id;
            }
        }
        throw new AssertionError("no single-byte token for " + b);
    }

    static boolean isWellFormed(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (Character.isHighSurrogate(c)) {
                if (i + 1 >= s.length() || !Character.isLowSurrogate(s.charAt(i + 1))) {
                    return false;
                }
                i++;
            } else if (Character.isLowSurrogate(c)) {
                return false;
            }
        }
        return true;
    }
}
