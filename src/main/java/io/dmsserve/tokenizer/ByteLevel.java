package io.dmsserve.tokenizer;

import java.nio.charset.StandardCharsets;

/** GPT-2 byte-level alphabet: every byte is written as one printable char in vocab strings. */
final class ByteLevel {

    static final byte[] EMPTY = new byte[0];

    /** CHAR_TO_BYTE[c] = byte + 1 for alphabet chars (0 = not in the alphabet). */
    private static final short[] CHAR_TO_BYTE = new short[512];

    static {
        int n = 0;
        for (int b = 0; b < 256; b++) {
            boolean printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
            int c = printable ? b : 256 + n++;
            CHAR_TO_BYTE[c] = (short) (b + 1);
        }
    }

    private ByteLevel() {
    }

    /**
     * Bytes of each token as the Rust ByteLevel decoder produces them: every char mapped back to its
     * byte when all chars are in the alphabet, else the token's UTF-8 (added tokens like
     * {@code <|im_end|>} are plain ASCII and come out the same either way).
     */
    static byte[][] tokenBytes(String[] idToToken) {
        byte[][] out = new byte[idToToken.length][];
        for (int id = 0; id < idToToken.length; id++) {
            String t = idToToken[id];
            if (t != null) {
                out[id] = decode(t);
            }
        }
        return out;
    }

    static byte[] decode(String token) {
        byte[] b = new byte[token.length()];
        for (int i = 0; i < token.length(); i++) {
            char c = token.charAt(i);
            if (c >= CHAR_TO_BYTE.length || CHAR_TO_BYTE[c] == 0) {
                return token.getBytes(StandardCharsets.UTF_8);
            }
            b[i] = (byte) (CHAR_TO_BYTE[c] - 1);
        }
        return b;
    }
}
