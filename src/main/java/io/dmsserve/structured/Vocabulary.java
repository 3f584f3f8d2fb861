package io.dmsserve.structured;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The tokens a constraint may choose, as the bytes each stands for, in a trie (flat arrays) that the mask
 * computation walks: a subtree whose prefix the grammar refuses is skipped whole. Built once per tokenizer.
 * Special tokens and end-of-sequence tokens are not text: they are left out of the trie, and the
 * end-of-sequence ones are allowed exactly where the grammar is complete.
 */
public final class Vocabulary {

    final int size;
    final int[] eosIds;
    final byte[][] tokens;
    /** Every text token. */
    final Trie trie;
    /**
     * The text tokens that contain a double quote: inside a string only these can close it and go on in what
     * follows, so a string-body state walks this trie (a few thousand tokens) and takes the rest from
     * {@link #stringBody}.
     */
    final Trie quoteTrie;
    /** Per string-lexer state: the quote-free tokens it accepts, by the characters they need ({@link StringBodies}). */
    private final Map<StringBodies.Key, StringBodies> stringBodies = new ConcurrentHashMap<>();

    /**
     * @param tokens bytes of each token id; null or empty for ids that are not text (special tokens, unused ids)
     * @param eosIds tokens that end the sequence, allowed where the grammar is complete
     */
    public Vocabulary(byte[][] tokens, Set<Integer> eosIds) {
        this.size = tokens.length;
        this.tokens = tokens.clone();
        this.eosIds = eosIds.stream().mapToInt(Integer::intValue).filter(id -> id >= 0 && id < size).sorted().toArray();
        List<Integer> ids = new ArrayList<>();
        for (int id = 0; id < tokens.length; id++) {
            if (tokens[id] != null && tokens[id].length > 0 && !eosIds.contains(id)) {
                ids.add(id);
            }
        }
        ids.sort(Comparator.comparing((Integer id) -> tokens[id], Arrays::compareUnsigned).thenComparing(id -> id));
        this.trie = new Trie(ids.stream().mapToInt(Integer::intValue).toArray(), tokens);
        this.quoteTrie = new Trie(ids.stream().mapToInt(Integer::intValue).filter(id -> hasQuote(tokens[id])).toArray(),
                tokens);
        // Built now rather than on first use, so that a schema's first string costs its engine step no walk of
        // the whole vocabulary; the other lexer states are cheap (most tokens fail on their first byte).
        for (StringBodies.Key key : StringBodies.Key.REACHABLE) {
            stringBodies.put(key, new StringBodies(this, key));
        }
    }

    private static boolean hasQuote(byte[] bytes) {
        for (byte b : bytes) {
            if (b == '"') {
                return true;
            }
        }
        return false;
    }

    /** The quote-free tokens that a string body in this lexer state accepts, by the characters they need. */
    StringBodies stringBody(StringBodies.Key key) {
        // computeIfAbsent is a safety net: every lexer state a StrBody frame can be in is built up front (and its
        // lambda's call site is bound only if ever reached, not on a schema's first string).
        StringBodies bodies = stringBodies.get(key);
        return bodies != null ? bodies : stringBodies.computeIfAbsent(key, k -> new StringBodies(this, k));
    }

    /** Words of a mask over this vocabulary. */
    int words() {
        return (size + 63) >>> 6;
    }

    /**
     * Token ids in a trie of their bytes (flat arrays): node n's edges are edgeStart[n] .. edgeStart[n + 1] - 1
     * (edgeByte, edgeChild) and the tokens ending at n are tokenStart[n] .. tokenStart[n + 1] - 1 in tokenIds. The
     * root is node 0.
     */
    static final class Trie {
        final int[] edgeStart;
        final byte[] edgeByte;
        final int[] edgeChild;
        final int[] tokenStart;
        final int[] tokenIds;

        /** @param sorted non-empty tokens' ids, sorted by their bytes (unsigned) */
        Trie(int[] sorted, byte[][] tokens) {
            // Build by walking the sorted list: node ids in depth-first order.
            TrieBuilder b = new TrieBuilder(sorted.length);
            b.build(sorted, tokens);
            this.edgeStart = b.edgeStartArray();
            this.edgeByte = Arrays.copyOf(b.edgeByte, b.edges);
            this.edgeChild = Arrays.copyOf(b.edgeChild, b.edges);
            this.tokenStart = b.tokenStartArray();
            this.tokenIds = Arrays.copyOf(b.tokenIds, b.tokenCount);
        }

        int nodes() {
            return edgeStart.length - 1;
        }
    }

    /** Builds the trie from token ids sorted by their bytes. */
    private static final class TrieBuilder {
        int nodes;
        int edges;
        int tokenCount;
        int[] nodeEdgeStart;
        int[] nodeTokenStart;
        byte[] edgeByte;
        int[] edgeChild;
        int[] tokenIds;

        TrieBuilder(int tokens) {
            int guess = Math.max(16, tokens * 3);
            nodeEdgeStart = new int[guess];
            nodeTokenStart = new int[guess];
            edgeByte = new byte[guess];
            edgeChild = new int[guess];
            tokenIds = new int[Math.max(1, tokens)];
        }

        void build(int[] sorted, byte[][] bytes) {
            // Depth-first preorder: a node's edges are reserved before its children are made, so node n's edges
            // run from edgeStart[n] to edgeStart[n + 1], and its tokens likewise.
            node(sorted, 0, sorted.length, 0, bytes);
        }

        /** Creates the node of ids[lo, hi) (all sharing a prefix of length depth); returns its id. */
        private int node(int[] ids, int lo, int hi, int depth, byte[][] bytes) {
            int id = nodes++;
            grow();
            nodeTokenStart[id] = tokenCount;
            int i = lo;
            while (i < hi && bytes[ids[i]].length == depth) {
                tokenIds[tokenCount++] = ids[i++];
            }
            // Children: group the rest by their byte at depth; reserve the edges first so they are contiguous.
            List<int[]> groups = new ArrayList<>();
            while (i < hi) {
                int j = i;
                byte b = bytes[ids[i]][depth];
                while (j < hi && bytes[ids[j]][depth] == b) {
                    j++;
                }
                groups.add(new int[] {i, j});
                i = j;
            }
            int first = edges;
            edges += groups.size();
            growEdges();
            nodeEdgeStart[id] = first;
            for (int g = 0; g < groups.size(); g++) {
                int[] range = groups.get(g);
                edgeByte[first + g] = bytes[ids[range[0]]][depth];
                edgeChild[first + g] = node(ids, range[0], range[1], depth + 1, bytes);
            }
            return id;
        }

        private void grow() {
            if (nodes >= nodeEdgeStart.length) {
                nodeEdgeStart = Arrays.copyOf(nodeEdgeStart, nodeEdgeStart.length * 2);
                nodeTokenStart = Arrays.copyOf(nodeTokenStart, nodeTokenStart.length * 2);
            }
        }

        private void growEdges() {
            if (edges >= edgeByte.length) {
                int n = Math.max(edges + 1, edgeByte.length * 2);
                edgeByte = Arrays.copyOf(edgeByte, n);
                edgeChild = Arrays.copyOf(edgeChild, n);
            }
        }

        int[] edgeStartArray() {
            int[] out = new int[nodes + 1];
            for (int n = 0; n < nodes; n++) {
                out[n] = nodeEdgeStart[n];
            }
            out[nodes] = edges;
            return out;
        }

        int[] tokenStartArray() {
            int[] out = new int[nodes + 1];
            System.arraycopy(nodeTokenStart, 0, out, 0, nodes);
            out[nodes] = tokenCount;
            return out;
        }
    }
}
