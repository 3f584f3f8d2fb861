package io.dmsserve.tokenizer;

import java.util.Arrays;

/**
 * Turns a stream of token ids into text as it is generated. {@link #push} returns only newly
 * completed text and never a partial UTF-8 sequence: a character split across byte-level tokens
 * is held back until its last byte arrives. The concatenation of all pushes and {@link #flush}
 * equals {@code tokenizer.decode(allIds)}. One instance per sequence; not thread-safe.
 *
 * <p>For byte-level tokenizers (Qwen, GPT-2 style) this works on raw token bytes and is exact;
 * invalid bytes become U+FFFD exactly where the Rust decoder's lossy UTF-8 would put them. For
 * other decoders it falls back to re-decoding a short window of ids (the vLLM/TGI approach).
 */
public final class IncrementalDetokenizer {

    private final Tokenizer tokenizer;
    private final boolean skipSpecialTokens;

    // byte-level mode: undecoded tail (at most 3 bytes of an incomplete character)
    private byte[] pending = new byte[16];
    private int pendingLen;

    // fallback mode
    private int[] ids = new int[16];
    private int idCount;
    private int prefixOffset;
    private int readOffset;

    IncrementalDetokenizer(Tokenizer tokenizer, boolean skipSpecialTokens) {
        this.tokenizer = tokenizer;
        this.skipSpecialTokens = skipSpecialTokens;
    }

    /** Adds one token; returns the text it completes (often "", never a broken character). */
    public String push(int tokenId) {
        if (skipSpecialTokens && tokenizer.isSpecial(tokenId)) {
            return "";
        }
        if (tokenizer.byteLevel()) {
            byte[] b = tokenizer.tokenBytes(tokenId);
            if (pendingLen + b.length > pending.length) {
                pending = Arrays.copyOf(pending, Math.max(pending.length * 2, pendingLen + b.length));
            }
            System.arraycopy(b, 0, pending, pendingLen, b.length);
            pendingLen += b.length;
            return drain(false);
        }
        if (idCount == ids.length) {
            ids = Arrays.copyOf(ids, ids.length * 2);
        }
        ids[idCount++] = tokenId;
        String prefix = tokenizer.decode(Arrays.copyOfRange(ids, prefixOffset, readOffset), skipSpecialTokens);
        String full = tokenizer.decode(Arrays.copyOfRange(ids, prefixOffset, idCount), skipSpecialTokens);
        if (full.length() > prefix.length() && !full.endsWith("\uFFFD") && full.startsWith(prefix)) {
            prefixOffset = readOffset;
            readOffset = idCount;
            return full.substring(prefix.length());
        }
        return "";
    }

    /** Ends the stream: returns whatever is held back (an incomplete character becomes U+FFFD). */
    public String flush() {
        if (tokenizer.byteLevel()) {
            return drain(true);
        }
        String prefix = tokenizer.decode(Arrays.copyOfRange(ids, prefixOffset, readOffset), skipSpecialTokens);
        String full = tokenizer.decode(Arrays.copyOfRange(ids, prefixOffset, idCount), skipSpecialTokens);
        idCount = 0;
        prefixOffset = 0;
        readOffset = 0;
        return full.startsWith(prefix) ? full.substring(prefix.length()) : full;
    }

    /** Bytes held back because they do not form a complete character yet. */
    public int pendingBytes() {
        return pendingLen;
    }

    private String drain(boolean atEnd) {
        StringBuilder out = new StringBuilder();
        int used = Utf8.decodeLossy(pending, pendingLen, atEnd, out);
        System.arraycopy(pending, used, pending, 0, pendingLen - used);
        pendingLen -= used;
        return out.toString();
    }
}
