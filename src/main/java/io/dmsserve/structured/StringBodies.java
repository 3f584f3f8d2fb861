package io.dmsserve.structured;

import java.util.Arrays;
import java.util.List;

/**
 * The quote-free tokens that a JSON string body accepts from one lexer state, computed once per tokenizer.
 *
 * <p>Why this is exact: a {@link Frame.StrBody} frame only pops on a closing quote, so a token without {@code "}
 * either kills a stack whose top is a string body or leaves another string body on top and the rest of the stack
 * as it was; whether it is accepted depends only on the frame's lexer state (escape, UTF-8 bytes due and their
 * range) and on how many characters the string may still take. The second part is one number per token: the
 * frame refuses a byte that starts a character once {@code length >= maxLength}, so a token is accepted iff
 * {@code need <= maxLength - length}, where {@code need} is one more than the characters the token completes
 * before the last character it starts (0 when it starts none). Tokens with a quote are left to the automaton (the
 * {@link Vocabulary#quoteTrie}), since what follows the string decides them.
 */
final class StringBodies {

    /** The lexer part of a {@link Frame.StrBody}: everything but the node and the length. */
    record Key(int escape, int utf8, int low, int high) {

        /**
         * Every lexer state a string body can be in (see {@link Frame.StrBody#consume}): plain; after a backslash;
         * 4..1 hex digits due, or 3 after a first digit D; 1..3 UTF-8 continuation bytes due, the next in the
         * ranges that keep the character well-formed.
         */
        static final List<Key> REACHABLE = List.of(
                new Key(0, 0, 0x80, 0xBF), new Key(1, 0, 0x80, 0xBF), new Key(2, 0, 0x80, 0xBF),
                new Key(3, 0, 0x80, 0xBF), new Key(4, 0, 0x80, 0xBF), new Key(5, 0, 0x80, 0xBF),
                new Key(10, 0, 0x80, 0xBF), new Key(0, 1, 0x80, 0xBF), new Key(0, 2, 0x80, 0xBF),
                new Key(0, 2, 0xA0, 0xBF), new Key(0, 2, 0x80, 0x9F), new Key(0, 3, 0x80, 0xBF),
                new Key(0, 3, 0x90, 0xBF), new Key(0, 3, 0x80, 0x8F));

        static Key of(Frame.StrBody body) {
            return new Key(body.escape(), body.utf8(), body.low(), body.high());
        }

        // Written out, like Frame's, so that the first string mask does not bind the generated ones (milliseconds).
        @Override
        public boolean equals(Object o) {
            return o instanceof Key k && k.escape == escape && k.utf8 == utf8 && k.low == low && k.high == high;
        }

        @Override
        public int hashCode() {
            return ((escape * 31 + utf8) * 31 + low) * 31 + high;
        }
    }

    /**
     * A string node whose lengths the probe frames count without capping (a bound no token reaches), so that a
     * frame's length is the number of characters completed since the probe began.
     */
    private static final Node.Str PROBE = new Node.Str(0, Integer.MAX_VALUE - 1);

    private final int words;
    /** Every quote-free token this lexer state accepts when the length does not bind. */
    private final long[] all;
    /** The accepted tokens by need, ascending; upTo[k]: how many need at most k (k = 0 .. maxNeed). */
    private final int[] byNeed;
    private final int[] upTo;
    /**
     * fits[k]: the tokens that need at most k, for k below maxNeed, when this state accepts more than
     * {@link #DENSE} tokens (on Qwen3 only the plain state: ~147k tokens of up to 128 characters, 2.4 MB), so that a
     * bounded string's mask is one OR of words rather than a loop over tens of thousands of ids; null otherwise
     * (after a backslash, ~4k tokens; in a \\u escape, ~10k at most: the loop is short and the state rare).
     */
    private final long[][] fits;
    private static final int DENSE = 16_384;

    StringBodies(Vocabulary vocabulary, Key key) {
        this.words = vocabulary.words();
        Collector c = new Collector(vocabulary.trie);
        c.walk(0, new Frame.StrBody(PROBE, 0, key.escape(), key.utf8(), key.low(), key.high()), 0);
        this.all = new long[words];
        int maxNeed = 0;
        for (int i = 0; i < c.count; i++) {
            all[c.ids[i] >>> 6] |= 1L << c.ids[i];
            maxNeed = Math.max(maxNeed, c.needs[i]);
        }
        // Counting sort by need.
        int[] start = new int[maxNeed + 2];
        for (int i = 0; i < c.count; i++) {
            start[c.needs[i] + 1]++;
        }
        for (int k = 1; k < start.length; k++) {
            start[k] += start[k - 1];
        }
        this.upTo = Arrays.copyOfRange(start, 1, start.length);
        this.byNeed = new int[c.count];
        int[] fill = Arrays.copyOf(start, start.length);
        for (int i = 0; i < c.count; i++) {
            byNeed[fill[c.needs[i]]++] = c.ids[i];
        }
        if (c.count > DENSE) {
            this.fits = new long[maxNeed][];
            long[] fit = new long[words];
            for (int k = 0; k < maxNeed; k++) {
                for (int i = k == 0 ? 0 : upTo[k - 1]; i < upTo[k]; i++) {
                    fit[byNeed[i] >>> 6] |= 1L << byNeed[i];
                }
                fits[k] = fit.clone();
            }
        } else {
            this.fits = null;
        }
    }

    /**
     * ORs into {@code mask} the quote-free tokens accepted when the string may take {@code remaining} more
     * characters ({@link Integer#MAX_VALUE}: no bound).
     */
    void orInto(long[] mask, int remaining) {
        int total = byNeed.length;
        int count = remaining >= upTo.length - 1 ? total : remaining < 0 ? upTo[0] : upTo[remaining];
        if (count == total || fits != null) {
            long[] fit = count == total ? all : fits[Math.max(remaining, 0)];
            for (int w = 0; w < words; w++) {
                mask[w] |= fit[w];
            }
        } else if (count * 2 <= total) {
            for (int i = 0; i < count; i++) {
                int id = byNeed[i];
                mask[id >>> 6] |= 1L << id;
            }
        } else {
            // Most tokens fit: all of them, less the few that need more characters than remain.
            long[] fit = all.clone();
            for (int i = count; i < total; i++) {
                int id = byNeed[i];
                fit[id >>> 6] &= ~(1L << id);
            }
            for (int w = 0; w < words; w++) {
                mask[w] |= fit[w];
            }
        }
    }

    /** Depth-first over the trie without its quote edges, running a probe frame: (token, need) of each accepted. */
    private static final class Collector {
        private final Vocabulary.Trie trie;
        int[] ids = new int[1024];
        int[] needs = new int[1024];
        int count;

        Collector(Vocabulary.Trie trie) {
            this.trie = trie;
        }

        void walk(int n, Frame.StrBody body, int need) {
            for (int i = trie.tokenStart[n]; i < trie.tokenStart[n + 1]; i++) {
                if (count == ids.length) {
                    ids = Arrays.copyOf(ids, count * 2);
                    needs = Arrays.copyOf(needs, count * 2);
                }
                ids[count] = trie.tokenIds[i];
                needs[count++] = need;
            }
            // A byte that starts a character (no escape or UTF-8 byte due) is where StrBody checks the bound.
            boolean charStart = body.escape() == 0 && body.utf8() == 0;
            int needHere = charStart ? Math.max(need, body.length() + 1) : need;
            for (int e = trie.edgeStart[n]; e < trie.edgeStart[n + 1]; e++) {
                int b = trie.edgeByte[e] & 0xff;
                if (b == '"') {
                    continue;
                }
                Frame[] next = body.consume(b);
                if (next != null) {
                    walk(trie.edgeChild[e], (Frame.StrBody) next[0], needHere);
                }
            }
        }
    }
}
