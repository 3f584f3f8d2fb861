package io.dmsserve.tokenizer;

import java.nio.file.Path;

/** The real tokenizers checked into src/test/resources/golden/. */
final class TestTokenizers {

    static final Path GOLDEN = Path.of("src/test/resources/golden");
    static final Path QWEN3 = GOLDEN.resolve("qwen3-tokenizer");

    private TestTokenizers() {
    }

    /** Loads the real Qwen3 tokenizer (11 MB tokenizer.json): once per test class, and close it. */
    static Tokenizer qwen3() {
        return load(QWEN3);
    }

    static Tokenizer load(Path dir) {
        return Tokenizer.load(dir.resolve("tokenizer.json"), dir.resolve("tokenizer_config.json"));
    }
}
