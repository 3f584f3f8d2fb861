package io.dmsserve.api;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class StopMatcherTest {

    @Test
    void withoutStopStringsTextPassesThrough() {
        StopMatcher m = new StopMatcher(List.of());
        assertEquals("abc", m.accept("abc"));
        assertEquals("d", m.finish("d"));
        assertFalse(m.stopped());
    }

    @Test
    void aPossiblePrefixIsHeldBackUntilDecided() {
        StopMatcher m = new StopMatcher(List.of("END"));
        assertEquals("hello ", m.accept("hello E"));
        assertEquals("", m.accept("N"));
        assertEquals("ENx", m.accept("x"));   // not the stop string after all: released
        assertEquals("a", m.accept("aE"));
        assertEquals("", m.accept("ND and more"));
        assertTrue(m.stopped());
        assertEquals("", m.accept("later"));
    }

    @Test
    void heldTextIsReleasedAtTheEnd() {
        StopMatcher m = new StopMatcher(List.of("</s>"));
        assertEquals("text", m.accept("text</"));
        assertEquals("</", m.finish(""));
        assertFalse(m.stopped());
    }

    @Test
    void theEarliestStopStringWins() {
        StopMatcher m = new StopMatcher(List.of("bcd", "c"));
        assertEquals("ab", m.accept("abcd"));
        StopMatcher n = new StopMatcher(List.of("abcd", "cd"));
        assertEquals("x", n.accept("xab"));
        assertEquals("", n.accept("cd"));      // both end here; "abcd" starts first
        assertTrue(n.stopped());
    }

    @Test
    void overlappingPrefixesUseTheFailureFunction() {
        StopMatcher m = new StopMatcher(List.of("aab"));
        assertEquals("a", m.accept("aaa"));
        assertEquals("", m.accept("b"));
        assertTrue(m.stopped());
    }

    /** Random texts split at random points: output = text up to the first stop string, never containing one. */
    @Test
    void matchesAPlainSearchOnRandomSplits() {
        Random random = new Random(7);
        for (int round = 0; round < 2000; round++) {
            String text = randomText(random, 1 + random.nextInt(40));
            List<String> stops = List.of(randomText(random, 1 + random.nextInt(4)), randomText(random, 1 + random.nextInt(3)));
            int cut = -1;
            for (int end = 1; end <= text.length() && cut < 0; end++) {
                for (String stop : stops) {
                    if (end >= stop.length() && text.startsWith(stop, end - stop.length())) {
                        int start = end - stop.length();
                        cut = cut < 0 ? start : Math.min(cut, start);
                    }
                }
            }
            StringBuilder out = new StringBuilder();
            StopMatcher m = new StopMatcher(stops);
            int at = 0;
            while (at < text.length() && !m.stopped()) {
                int next = Math.min(text.length(), at + 1 + random.nextInt(4));
                out.append(m.accept(text.substring(at, next)));
                at = next;
            }
            if (!m.stopped()) {
                out.append(m.finish(""));
            }
            String expected = cut < 0 ? text : text.substring(0, cut);
            assertEquals(expected, out.toString(), () -> text + " " + stops);
            assertEquals(cut >= 0, m.stopped());
        }
    }

    private static String randomText(Random random, int length) {
        StringBuilder s = new StringBuilder();
        for (int i = 0; i < length; i++) {
            s.append("abc".charAt(random.nextInt(3)));
        }
        return s.toString();
    }
}
