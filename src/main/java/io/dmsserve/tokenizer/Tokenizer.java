package io.dmsserve.tokenizer;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.OptionalInt;
import java.util.Set;
import tools.jackson.core.JacksonException;
import tools.jackson.core.JsonParser;
import tools.jackson.core.JsonToken;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;

/**
 * A Hugging Face tokenizer (tokenizer.json + tokenizer_config.json), e.g. Qwen3's byte-level BPE.
 * Encoding and decoding run in the Rust tokenizers library (through DJL), so they match
 * {@code tokenizer.encode(text, add_special_tokens=False)} and {@code tokenizer.decode(ids)};
 * the chat template runs in our Jinja interpreter. Thread-safe; close() frees the native tokenizer.
 */
public final class Tokenizer implements AutoCloseable {

    private static final String[] NAMED_SPECIAL_TOKENS = {
        "bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"
    };

    private final Path tokenizerJson;
    private final Path tokenizerConfigJson;
    private final HuggingFaceTokenizer hf;
    private final Map<String, Integer> tokenToId;
    private final String[] idToToken;
    private final boolean[] special;
    /** Raw bytes of each token when the decoder is ByteLevel; null otherwise. */
    private final byte[][] tokenBytes;
    private final Set<Integer> eosTokenIds;
    private final String chatTemplateSource;
    private final Map<String, Object> templateSpecialTokens;
    private volatile ChatTemplate chatTemplate;

    private Tokenizer(Path tokenizerJson, Path tokenizerConfigJson, HuggingFaceTokenizer hf, Vocab vocab,
            Config config) {
        this.tokenizerJson = tokenizerJson;
        this.tokenizerConfigJson = tokenizerConfigJson;
        this.hf = hf;
        this.tokenToId = vocab.tokenToId;
        int size = 0;
        for (int id : tokenToId.values()) {
            size = Math.max(size, id + 1);
        }
        this.idToToken = new String[size];
        tokenToId.forEach((t, id) -> idToToken[id] = t);
        this.special = new boolean[size];
        vocab.addedTokens.forEach((t, isSpecial) -> special[tokenToId.get(t)] = isSpecial);
        this.tokenBytes = vocab.byteLevelDecoder ? ByteLevel.tokenBytes(idToToken) : null;

        Set<Integer> eos = new LinkedHashSet<>();
        if (config.eosToken != null && tokenToId.containsKey(config.eosToken)) {
            eos.add(tokenToId.get(config.eosToken));
        }
        if (tokenToId.containsKey("<|endoftext|>")) {
            eos.add(tokenToId.get("<|endoftext|>"));
        }
        this.eosTokenIds = Collections.unmodifiableSet(eos);
        this.chatTemplateSource = config.chatTemplate;
        this.templateSpecialTokens = config.namedSpecialTokens;
    }

    /**
     * Loads tokenizer.json and tokenizer_config.json (the latter may be null: no chat template, EOS
     * only from {@code <|endoftext|>}).
     *
     * @throws TokenizerLoadException naming the file when a file is missing or malformed
     */
    public static Tokenizer load(Path tokenizerJson, Path tokenizerConfigJson) {
        if (tokenizerJson == null) {
            throw new TokenizerLoadException("tokenizer.json path is null");
        }
        Vocab vocab = readVocab(tokenizerJson);
        Config config = tokenizerConfigJson == null ? new Config(null, null, Map.of())
                : readConfig(tokenizerConfigJson);
        // DJL "calls home" from some cloud hosts unless told not to; this server runs offline.
        if (System.getProperty("OPT_OUT_TRACKING") == null && System.getenv("OPT_OUT_TRACKING") == null) {
            System.setProperty("OPT_OUT_TRACKING", "true");
        }
        // On a host with a CUDA device DJL picks its CUDA build of the tokenizer library, which is not in the jar
        // and would be downloaded (seen on the H200 host: "Cannot download jni files ... cu122-90"); the
        // tokenizer never uses a GPU, so the CPU build in the jar is the one.
        if (System.getProperty("RUST_FLAVOR") == null && System.getenv("RUST_FLAVOR") == null) {
            System.setProperty("RUST_FLAVOR", "cpu");
        }
        HuggingFaceTokenizer hf;
        try {
            Map<String, String> options = Map.of(
                    "addSpecialTokens", "false",
                    "truncation", "false",
                    "padding", "false",
                    "modelMaxLength", Integer.toString(Integer.MAX_VALUE));
            hf = HuggingFaceTokenizer.newInstance(tokenizerJson, options);
        } catch (IOException | RuntimeException e) {
            throw new TokenizerLoadException(tokenizerJson + ": cannot load tokenizer: " + e.getMessage(), e);
        }
        return new Tokenizer(tokenizerJson, tokenizerConfigJson, hf, vocab, config);
    }

    /**
     * Token ids of text, no BOS/EOS added; special tokens written in the text ({@code <|im_start|>})
     * become their ids, like Hugging Face with split_special_tokens=False.
     */
    public int[] encode(String text) {
        if (text.isEmpty()) {
            return new int[0];
        }
        long[] ids = hf.encode(replaceLoneSurrogates(text), false, false).getIds();
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = Math.toIntExact(ids[i]);
        }
        return out;
    }

    /** Unpaired surrogates (possible in JSON input) cannot be UTF-8 encoded; they become U+FFFD. */
    static String replaceLoneSurrogates(String s) {
        StringBuilder b = null;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            boolean lone = Character.isHighSurrogate(c)
                    ? i + 1 >= s.length() || !Character.isLowSurrogate(s.charAt(i + 1))
                    : Character.isLowSurrogate(c) && (i == 0 || !Character.isHighSurrogate(s.charAt(i - 1)));
            if (lone && b == null) {
                b = new StringBuilder(s.length()).append(s, 0, i);
            }
            if (b != null) {
                b.append(lone ? '\uFFFD' : c);
            }
        }
        return b == null ? s : b.toString();
    }

    /** Like HF {@code tokenizer.decode(ids)}: special tokens kept, no clean-up of spaces. Unknown ids are skipped. */
    public String decode(int[] ids) {
        return decode(ids, false);
    }

    public String decode(int[] ids, boolean skipSpecialTokens) {
        long[] known = Arrays.stream(ids).filter(id -> id >= 0 && id < idToToken.length && idToToken[id] != null)
                .asLongStream().toArray();
        if (known.length == 0) {
            return "";
        }
        return hf.decode(known, skipSpecialTokens);
    }

    /** Number of token ids the tokenizer defines (largest id + 1); the model's vocab may be padded past it. */
    public int vocabSize() {
        return idToToken.length;
    }

    /** Id of a vocabulary token as written in tokenizer.json (byte-level form, e.g. "Ġthe") or an added token. */
    public OptionalInt tokenId(String token) {
        Integer id = tokenToId.get(token);
        return id == null ? OptionalInt.empty() : OptionalInt.of(id);
    }

    /** The vocabulary string of an id (byte-level form), or null when the id is not defined. */
    public String tokenString(int id) {
        return id >= 0 && id < idToToken.length ? idToToken[id] : null;
    }

    /** True for added tokens flagged special (those skip_special_tokens drops). */
    public boolean isSpecial(int id) {
        return id >= 0 && id < special.length && special[id];
    }

    /** tokenizer_config's eos_token plus {@code <|endoftext|>} when present. */
    public Set<Integer> eosTokenIds() {
        return eosTokenIds;
    }

    public boolean hasChatTemplate() {
        return chatTemplateSource != null;
    }

    /**
     * The chat template from tokenizer_config.json ("chat_template", or a sibling chat_template.jinja).
     *
     * @throws IllegalStateException when there is none
     * @throws io.dmsserve.jinja.TemplateException when it does not parse
     */
    public ChatTemplate chatTemplate() {
        ChatTemplate t = chatTemplate;
        if (t == null) {
            if (chatTemplateSource == null) {
                throw new IllegalStateException("no chat_template in "
                        + (tokenizerConfigJson == null ? "(no tokenizer_config.json given)" : tokenizerConfigJson));
            }
            synchronized (this) {
                t = chatTemplate;
                if (t == null) {
                    t = new ChatTemplate(chatTemplateSource, templateSpecialTokens, Clock.systemDefaultZone());
                    chatTemplate = t;
                }
            }
        }
        return t;
    }

    /** A streaming detokenizer that keeps special tokens (like {@link #decode(int[])}). */
    public IncrementalDetokenizer newDetokenizer() {
        return newDetokenizer(false);
    }

    public IncrementalDetokenizer newDetokenizer(boolean skipSpecialTokens) {
        return new IncrementalDetokenizer(this, skipSpecialTokens);
    }

    /** Raw bytes of a token for byte-level detokenization, or null when the decoder is not ByteLevel. */
    byte[] tokenBytes(int id) {
        if (tokenBytes == null) {
            return null;
        }
        return id >= 0 && id < tokenBytes.length && tokenBytes[id] != null ? tokenBytes[id] : ByteLevel.EMPTY;
    }

    /**
     * The bytes a token stands for (a copy): its byte-level bytes, or the UTF-8 of its decoded text for other
     * decoders; empty for an unknown id. Logprobs report them, and constrained decoding walks them.
     */
    public byte[] bytesOf(int id) {
        if (tokenBytes != null) {
            return tokenBytes(id).clone();
        }
        return id >= 0 && id < idToToken.length && idToToken[id] != null
                ? hf.decode(new long[] {id}, false).getBytes(StandardCharsets.UTF_8) : ByteLevel.EMPTY;
    }

    boolean byteLevel() {
        return tokenBytes != null;
    }

    public Path source() {
        return tokenizerJson;
    }

    @Override
    public void close() {
        hf.close();
    }

    // ---- file reading ----

    private record Vocab(Map<String, Integer> tokenToId, Map<String, Boolean> addedTokens, boolean byteLevelDecoder) { }

    private record Config(String eosToken, String chatTemplate, Map<String, Object> namedSpecialTokens) { }

    private static final ObjectMapper JSON = new ObjectMapper();

    /** Streams tokenizer.json for model.vocab, added_tokens and decoder, skipping the (large) merges. */
    private static Vocab readVocab(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new TokenizerLoadException("tokenizer file not found: " + file);
        }
        Map<String, Integer> vocab = new HashMap<>(200_000);
        Map<String, Boolean> added = new LinkedHashMap<>();
        boolean byteLevel = false;
        boolean sawVocab = false;
        try (JsonParser p = JSON.createParser(file)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new TokenizerLoadException(file + ": not a tokenizer.json (expected a JSON object)");
            }
            while (p.nextToken() == JsonToken.PROPERTY_NAME) {
                String name = p.currentName();
                p.nextToken();
                switch (name) {
                    case "added_tokens" -> {
                        JsonNode arr = p.readValueAsTree();
                        for (JsonNode t : arr.values()) {
                            String content = t.path("content").asString();
                            added.put(content, t.path("special").asBoolean(false));
                            vocab.put(content, t.path("id").asInt());
                        }
                    }
                    case "decoder" -> {
                        JsonNode d = p.readValueAsTree();
                        byteLevel = d != null && "ByteLevel".equals(d.path("type").asString(""));
                    }
                    case "model" -> {
                        if (p.currentToken() != JsonToken.START_OBJECT) {
                            throw new TokenizerLoadException(file + ": \"model\" is not an object");
                        }
                        while (p.nextToken() == JsonToken.PROPERTY_NAME) {
                            String field = p.currentName();
                            JsonToken tok = p.nextToken();
                            if (field.equals("vocab") && tok == JsonToken.START_OBJECT) {
                                sawVocab = true;
                                while (p.nextToken() == JsonToken.PROPERTY_NAME) {
                                    String token = p.currentName();
                                    p.nextToken();
                                    vocab.putIfAbsent(token, p.getIntValue());
                                }
                            } else if (field.equals("vocab") && tok == JsonToken.START_ARRAY) {
                                sawVocab = true; // Unigram: [[piece, score], ...], id = position
                                int id = 0;
                                while (p.nextToken() == JsonToken.START_ARRAY) {
                                    p.nextToken();
                                    vocab.putIfAbsent(p.getString(), id++);
                                    p.skipChildren();
                                    while (p.currentToken() != JsonToken.END_ARRAY) {
                                        p.nextToken();
                                    }
                                }
                            } else {
                                p.skipChildren();
                            }
                        }
                    }
                    default -> p.skipChildren();
                }
            }
        } catch (JacksonException e) {
            throw new TokenizerLoadException(file + ": not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (!sawVocab) {
            throw new TokenizerLoadException(file + ": no model.vocab in tokenizer.json");
        }
        for (int id : vocab.values()) {
            if (id < 0 || id > 10_000_000) {
                throw new TokenizerLoadException(file + ": token id out of range: " + id);
            }
        }
        return new Vocab(vocab, added, byteLevel);
    }

    private static Config readConfig(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new TokenizerLoadException("tokenizer config file not found: " + file);
        }
        JsonNode root;
        try {
            root = JSON.readTree(file);
        } catch (JacksonException e) {
            throw new TokenizerLoadException(file + ": not valid JSON: " + e.getOriginalMessage(), e);
        }
        if (root == null || !root.isObject()) {
            throw new TokenizerLoadException(file + ": not a tokenizer_config.json (expected a JSON object)");
        }
        Map<String, Object> named = new HashMap<>();
        for (String key : NAMED_SPECIAL_TOKENS) {
            String v = tokenContent(root.get(key));
            if (v != null) {
                named.put(key, v);
            }
        }
        String template = null;
        JsonNode ct = root.get("chat_template");
        if (ct != null && ct.isString()) {
            template = ct.asString();
        } else if (ct != null && ct.isArray()) {
            for (JsonNode entry : ct.values()) {
                if ("default".equals(entry.path("name").asString(""))) {
                    template = entry.path("template").asString(null);
                }
            }
            if (template == null) {
                throw new TokenizerLoadException(file + ": chat_template list has no \"default\" entry");
            }
        } else if (ct != null && !ct.isNull()) {
            throw new TokenizerLoadException(file + ": chat_template must be a string or a list");
        }
        if (template == null) {
            Path jinja = file.resolveSibling("chat_template.jinja");
            if (Files.isRegularFile(jinja)) {
                try {
                    template = Files.readString(jinja, StandardCharsets.UTF_8);
                } catch (IOException e) {
                    throw new TokenizerLoadException(jinja + ": cannot read: " + e.getMessage(), e);
                }
            }
        }
        return new Config((String) named.get("eos_token"), template, named);
    }

    /** A special token given as "text" or as {"content": "text", ...} (AddedToken form). */
    private static String tokenContent(JsonNode n) {
        if (n == null || n.isNull()) {
            return null;
        }
        if (n.isString()) {
            return n.asString();
        }
        if (n.isObject() && n.path("content").isString()) {
            return n.path("content").asString();
        }
        return null;
    }
}
