package io.dmsserve.kvcache;

import io.dmsserve.dms.EvictionPolicy;

/** The KV cache of one sequence: a {@link HeadCache} per (layer, kv-head), and how many tokens it has seen. */
public final class SequenceKv {

    private final long id;
    private final EvictionPolicy policy;
    private final HeadCache[][] heads; // (layer, kvHead)
    private int processed;
    private boolean released;

    SequenceKv(long id, EvictionPolicy policy, HeadCache[][] heads) {
        this.id = id;
        this.policy = policy;
        this.heads = heads;
    }

    public long id() {
        return id;
    }

    public EvictionPolicy policy() {
        return policy;
    }

    public HeadCache head(int layer, int kvHead) {
        return heads[layer][kvHead];
    }

    /** Tokens processed so far (the position of the next token). */
    public int processed() {
        return processed;
    }

    public void advance(int tokens) {
        processed += tokens;
    }

    public boolean released() {
        return released;
    }

    /** Live slots per (layer, kvHead) of this sequence. */
    public int[][] liveCounts() {
        int[][] out = new int[heads.length][];
        for (int l = 0; l < heads.length; l++) {
            out[l] = new int[heads[l].length];
            for (int h = 0; h < heads[l].length; h++) {
                out[l][h] = heads[l][h].live();
            }
        }
        return out;
    }

    /** Pages this sequence holds now, over all layers and heads. */
    public int pages() {
        int pages = 0;
        for (HeadCache[] layer : heads) {
            for (HeadCache head : layer) {
                pages += head.pages();
            }
        }
        return pages;
    }

    /** Worst case (no eviction) of the pages storing {@code tokens} more tokens takes from the pool. */
    public int pagesToStore(int tokens) {
        int pages = 0;
        for (HeadCache[] layer : heads) {
            for (HeadCache head : layer) {
                pages += head.pagesToStore(tokens);
            }
        }
        return pages;
    }

    void release() {
        if (released) {
            return;
        }
        released = true;
        for (HeadCache[] layer : heads) {
            for (HeadCache head : layer) {
                head.release();
            }
        }
    }
}
