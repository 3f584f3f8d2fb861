package io.dmsserve.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import org.junit.jupiter.api.Test;

class TextTest {

    @Test
    void loneSurrogatesBecomeReplacementCharacters() {
        String ok = "a\uD83D\uDE00b";
        assertSame(ok, Text.wellFormed(ok));
        assertEquals("\uFFFDx", Text.wellFormed("\uD800x"));
        assertEquals("x\uFFFD", Text.wellFormed("x\uDC00"));
        assertEquals("\uFFFD\uD83D\uDE00\uFFFD", Text.wellFormed("\uDC00\uD83D\uDE00\uD83D"));
    }

    @Test
    void quotedValuesAreShort() {
        assertEquals(259, Text.quote("x".repeat(1000)).length());
    }
}
