package io.dmsserve.tokenizer;

/**
 * Lossy UTF-8 decoding with the "maximal subpart" replacement rule used by Rust's
 * String::from_utf8_lossy and Python's errors="replace" (Java's decoder differs on surrogates).
 */
final class Utf8 {

    private Utf8() {
    }

    /**
     * Decodes buf[0, len) into out and returns the number of bytes consumed. Unless atEnd, a
     * trailing sequence that is a valid but incomplete prefix of a character is left unconsumed.
     */
    static int decodeLossy(byte[] buf, int len, boolean atEnd, StringBuilder out) {
        int i = 0;
        while (i < len) {
            int b0 = buf[i] & 0xFF;
            if (b0 < 0x80) {
                out.append((char) b0);
                i++;
                continue;
            }
            int need;
            int lo = 0x80;
            int hi = 0xBF;
            if (b0 >= 0xC2 && b0 <= 0xDF) {
                need = 2;
            } else if (b0 >= 0xE0 && b0 <= 0xEF) {
                need = 3;
                if (b0 == 0xE0) {
                    lo = 0xA0;
                } else if (b0 == 0xED) {
                    hi = 0x9F;
                }
            } else if (b0 >= 0xF0 && b0 <= 0xF4) {
                need = 4;
                if (b0 == 0xF0) {
                    lo = 0x90;
                } else if (b0 == 0xF4) {
                    hi = 0x8F;
                }
            } else {
                out.append('\uFFFD');
                i++;
                continue;
            }
            int cp = b0 & (0xFF >> (need + 1));
            int k = 1;
            boolean invalid = false;
            for (; k < need; k++) {
                if (i + k >= len) {
                    break;
                }
                int b = buf[i + k] & 0xFF;
                if (b < (k == 1 ? lo : 0x80) || b > (k == 1 ? hi : 0xBF)) {
                    invalid = true;
                    break;
                }
                cp = (cp << 6) | (b & 0x3F);
            }
            if (invalid) {
                out.append('\uFFFD');
                i += k;
            } else if (k < need) {
                if (!atEnd) {
                    return i;
                }
                out.append('\uFFFD');
                i = len;
            } else {
                out.appendCodePoint(cp);
                i += need;
            }
        }
        return i;
    }
}
