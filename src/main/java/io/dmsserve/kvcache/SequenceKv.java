package io.dmsserve.kvcache;

import io.dmsserve.dms.Decisions;
import io.dmsserve.dms.DmsRules;
import io.dmsserve.dms.EvictionPolicy;

/**
 * The KV cache of one sequence: a {@link HeadCache} per (layer, kv-head), its page-table row, and how many
 * tokens it has seen.
 */
public final class SequenceKv {

    private final long id;
    private final int row;
    private final EvictionPolicy policy;
    private final HeadCache[][] heads; // (layer, kvHead)
    private final int kvHeads;
    private int processed;
    private int reserved;               // tokens reserved by the oldest step in flight, not yet committed
    private int reservedNext;           // tokens reserved by a second step queued behind it (0: none)
    private boolean released;

    SequenceKv(long id, int row, EvictionPolicy policy, HeadCache[][] heads) {
        this.id = id;
        this.row = row;
        this.policy = policy;
        this.heads = heads;
        this.kvHeads = heads[0].length;
    }

    public long id() {
        return id;
    }

    /** The page-table row of this sequence on the backend. */
    public int row() {
        return row;
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

    /**
     * Whether the next step may be reserved now, behind the step in flight, before that one's decisions come back:
     * the slots it frees must not depend on them. With the step in flight at positions p .. p + L − 1, the flags
     * known are those of tokens up to p − 2 (the decision at position t flags token t − 1), and the new step, from
     * p + L, evicts flagged tokens up to p + L − w − 1 (DESIGN.md §3 step 6): known when w ≥ L + 1. A sequence
     * that never evicts can always. At most two steps are in flight.
     */
    public boolean canReserveAhead() {
        return reservedNext == 0 && (reserved == 0 || !policy.evicts() || policy.window() >= reserved + 1);
    }

    /** Live slots per (layer, kvHead) of this sequence. */
    public int[][] liveCounts() {
        int[][] out = new int[heads.length][kvHeads];
        for (int l = 0; l < heads.length; l++) {
            for (int h = 0; h < kvHeads; h++) {
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

    /** Worst case (none of them evicted) of the pages storing {@code tokens} more tokens takes from the pool. */
    public int pagesToStore(int tokens) {
        int pages = 0;
        for (HeadCache[] layer : heads) {
            for (HeadCache head : layer) {
                pages += head.pagesToStore(processed, tokens);
            }
        }
        return pages;
    }

    /**
     * Before a step: in every head, evicts what none of the step's queries can see, then reserves a slot for
     * each of the next {@code length} tokens.
     */
    SlotReservation reserve(int length) {
        SlotReservation reservation = newReservation(length);
        reserveLayers(reservation, 0, heads.length);
        return reservation;
    }

    /**
     * The empty reservation of a step of {@code length} tokens, filled layer range by layer range; the step counts
     * as in flight from here (a failure while filling it leaves the sequence to be released, as the caller must).
     * A second step may be reserved behind one in flight when {@link #canReserveAhead()}; its tokens follow that
     * step's, and the two commit in order.
     */
    SlotReservation newReservation(int length) {
        if (length < 1) {
            throw new IllegalArgumentException("a step of " + length + " tokens for sequence " + id);
        }
        int first = processed + reserved;
        if (reserved == 0) {
            reserved = length;
        } else if (canReserveAhead()) {
            reservedNext = length;
        } else {
            throw new IllegalStateException("sequence " + id + " has a step of " + reserved + " tokens in flight"
                    + (reservedNext > 0 ? " and another behind it" : " and a DMS window of " + policy.window()
                    + ", too short to reserve the next step before its decisions come back"));
        }
        return new SlotReservation(row, first, length, new int[heads.length * kvHeads * length],
                new int[heads.length * kvHeads]);
    }

    /**
     * {@link #reserve}'s work for layers [from, to): touches only those layers' heads (and the pool and journal they
     * share, which synchronise), so disjoint layer ranges may run on different threads.
     */
    void reserveLayers(SlotReservation reservation, int from, int to) {
        int length = reservation.length();
        int first = reservation.first();
        int[] slots = reservation.slots();        // (layer, kvHead, length)
        int[] previous = reservation.previousSlots(); // (layer, kvHead)
        for (int l = from; l < to; l++) {
            for (int h = 0; h < kvHeads; h++) {
                HeadCache head = heads[l][h];
                int base = (l * kvHeads + h) * length;
                previous[l * kvHeads + h] = head.lastPhysicalSlot();
                head.evictBefore(first);
                try {
                    head.reserve(first, length, slots, base);
                } finally {
                    head.publishReserved(); // what it got, also when the pool ran out half-way
                }
            }
        }
    }

    /** Checks the decisions against the oldest step in flight and advances; returns the step's first position. */
    int beginCommit(Decisions decisions) {
        if (decisions.length() != reserved) {
            throw new IllegalArgumentException("decisions for " + decisions.length() + " tokens, but sequence " + id
                    + " reserved " + reserved);
        }
        int first = processed;
        processed += reserved;
        reserved = reservedNext;
        reservedNext = 0;
        return first;
    }

    /**
     * After the step, for layers [from, to) and after {@link #beginCommit}: marks what its decisions flagged and evicts
     * what left the window (DESIGN.md §3 steps 6 and 8: with T processed, token k is gone iff flag[k] and
     * k ≤ T − w − 2); touches only those layers' heads, as reserveLayers. With
     * {@code repackReleases}, a head left with two pages' worth of free slots is repacked (HeadCache#compact), its old
     * pages added there for the caller to give back.
     */
    void commitLayers(Decisions decisions, int first, int from, int to, IntList repackReleases) {
        if (!policy.evicts()) {
            return;
        }
        int lastEvictable = DmsRules.lastEvictable(processed, policy.window());
        for (int l = from; l < to; l++) {
            for (int h = 0; h < kvHeads; h++) {
                HeadCache head = heads[l][h];
                int flags = 0;
                for (int c = 0; c < decisions.length(); c++) {
                    if (first + c > 0 && decisions.flagged(c, l, h)) {
                        head.flag(first + c - 1);
                        flags++;
                    }
                }
                head.countFlags(flags);
                head.evictThrough(lastEvictable);
                if (repackReleases != null && head.compactable()) {
                    head.compact(repackReleases);
                }
            }
        }
    }

    /** Whether no step of this sequence is in flight (reserved and not yet committed). */
    public boolean idle() {
        return reserved == 0;
    }

    /** Makes this sequence, just opened, a copy of {@code source} (idle), head by head (HeadCache#copyFrom). */
    void copyFrom(SequenceKv source) {
        for (int l = 0; l < heads.length; l++) {
            for (int h = 0; h < kvHeads; h++) {
                heads[l][h].copyFrom(source.heads[l][h]);
            }
        }
        processed = source.processed;
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
