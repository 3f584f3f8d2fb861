package io.dmsserve.tokenizer;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** Lossy decoding must match Rust's from_utf8_lossy / Python's errors="replace" (maximal subparts). */
class Utf8Test {

    private static String lossy(int... bytes) {
        byte[] b = new byte[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            b[i] = (byte) bytes[i];
        }
        StringBuilder out = new StringBuilder();
        assertThat(Utf8.decodeLossy(b, b.length, true, out)).isEqualTo(b.length);
        return out.toString();
    }

    @Test
    void replacementFollowsMaximalSubparts() {
        // expected values from Python: bytes(...).decode("utf-8", "replace")
        assertThat(lossy(0xE4, 0xB8)).isEqualTo("\uFFFD");
        assertThat(lossy(0xE0, 0x80, 0x41)).isEqualTo("\uFFFD\uFFFDA");
        assertThat(lossy(0xED, 0xA0, 0x80)).isEqualTo("\uFFFD\uFFFD\uFFFD"); // surrogate: Java's decoder gives one
        assertThat(lossy(0xF4, 0x90, 0x80, 0x80)).isEqualTo("\uFFFD\uFFFD\uFFFD\uFFFD");
        assertThat(lossy(0xC0, 0xAF)).isEqualTo("\uFFFD\uFFFD");
        assertThat(lossy(0xF0, 0x9F, 0x41)).isEqualTo("\uFFFDA");
        assertThat(lossy(0x80, 0x80)).isEqualTo("\uFFFD\uFFFD");
        assertThat(lossy(0xF0, 0x9F, 0x98, 0x80)).isEqualTo("😀");
        assertThat(lossy(0x61, 0xC3, 0xA9)).isEqualTo("aé");
    }

    @Test
    void incompleteTailIsHeldUnlessAtEnd() {
        byte[] b = {0x61, (byte) 0xF0, (byte) 0x9F, (byte) 0x98};
        StringBuilder out = new StringBuilder();
        assertThat(Utf8.decodeLossy(b, b.length, false, out)).isEqualTo(1);
        assertThat(out.toString()).isEqualTo("a");
        // an invalid continuation is not held: it is known to be broken already
        byte[] c = {(byte) 0xE4, 0x41};
        out.setLength(0);
        assertThat(Utf8.decodeLossy(c, c.length, false, out)).isEqualTo(2);
        assertThat(out.toString()).isEqualTo("\uFFFDA");
    }
}
