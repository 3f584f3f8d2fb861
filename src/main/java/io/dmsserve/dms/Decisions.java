package io.dmsserve.dms;

/**
 * The DMS decisions one engine step made for one sequence: for chunk token c (position first + c), layer
 * and KV head, whether its decision flagged the token before it (position first + c − 1). This is all the
 * KV bookkeeping needs back from a backend: evictions happen a window later (DESIGN.md §3 step 6).
 *
 * <p>Backed by one byte per (token, layer, kvHead), the layout a backend writes: {@code flags[offset +
 * (c · layers + layer) · kvHeads + head]}, so a batch's decisions can be sliced per sequence without a copy.
 */
public final class Decisions {

    private final int length;
    private final int layers;
    private final int kvHeads;
    private final byte[] flags;
    private final int offset;

    /**
     * @param flags (tokens, layers, kvHeads) of a whole step; this sequence's tokens start at token {@code first}
     */
    public Decisions(int length, int layers, int kvHeads, byte[] flags, int first) {
        if (length < 0 || (long) (first + length) * layers * kvHeads > flags.length) {
            throw new IllegalArgumentException("decisions of " + length + " tokens from token " + first
                    + " do not fit in " + flags.length + " flags of " + layers + " layers x " + kvHeads + " heads");
        }
        this.length = length;
        this.layers = layers;
        this.kvHeads = kvHeads;
        this.flags = flags;
        this.offset = first * layers * kvHeads;
    }

    /** No token flagged: what a model without a decision channel, or a policy that keeps all, produces. */
    public static Decisions none(int length, int layers, int kvHeads) {
        return new Decisions(length, layers, kvHeads, new byte[length * layers * kvHeads], 0);
    }

    public int length() {
        return length;
    }

    public int layers() {
        return layers;
    }

    public int kvHeads() {
        return kvHeads;
    }

    /** Whether the decision made at chunk token c in this layer and head flagged the token before it. */
    public boolean flagged(int c, int layer, int kvHead) {
        if (c < 0 || c >= length) {
            throw new IndexOutOfBoundsException("token " + c + " of a chunk of " + length);
        }
        return flags[offset + (c * layers + layer) * kvHeads + kvHead] != 0;
    }

    /** Positions flagged in this layer and head, ascending, for a chunk whose first token is at {@code first}. */
    public int[] flaggedPositions(int first, int layer, int kvHead) {
        int[] positions = new int[length];
        int count = 0;
        for (int c = 0; c < length; c++) {
            if (first + c > 0 && flagged(c, layer, kvHead)) {
                positions[count++] = first + c - 1;
            }
        }
        return java.util.Arrays.copyOf(positions, count);
    }
}
