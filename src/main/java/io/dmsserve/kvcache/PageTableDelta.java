package io.dmsserve.kvcache;

import java.util.Arrays;

/**
 * How the page tables changed since the last step, for a backend that keeps its own copy of them (device
 * memory): small, coalesced writes instead of whole tables. A table belongs to one (row, layer, kvHead);
 * its index is {@code head = (row · layers + layer) · kvHeads + kvHead}. Every entry appears at most once,
 * so the writes may be applied in any order (in parallel on a device).
 *
 * @param pageWrites (head, pageIndex, pageId) triples; pageId −1 marks a hole (the page went back to the pool)
 * @param lengthWrites (head, length) pairs: entries [0, length) of that table are to be scanned
 * @param freshPages pages newly handed to a table: their slot metadata must read "empty" before this step
 *     writes any slot (they may hold another sequence's positions)
 * @param pageCopies (source, target) pairs of a {@linkplain KvCacheManager#fork fork}: the keys, values and slot
 *     metadata of page source go to page target, pair after pair in this order (a later pair may read what an
 *     earlier one wrote), all of them before the fresh pages are emptied and before the step writes any slot
 * @param slotMoves (source slot, target slot, count) triples of a repack ({@link KvCacheManager} compacts a head
 *     whose held pages are mostly free slots): count slots from source on go to target on, keys, values and
 *     metadata; source −1 empties the target slots instead. They come first, before the page copies: no two
 *     triples touch the same slot, and no triple reads a slot another writes, so they may run in any order
 */
public record PageTableDelta(int[] pageWrites, int[] lengthWrites, int[] freshPages, int[] pageCopies,
        int[] slotMoves) {

    public static final PageTableDelta EMPTY = new PageTableDelta(new int[0], new int[0], new int[0], new int[0],
            new int[0]);

    /** A delta without page copies or slot moves. */
    public PageTableDelta(int[] pageWrites, int[] lengthWrites, int[] freshPages) {
        this(pageWrites, lengthWrites, freshPages, new int[0], new int[0]);
    }

    /** A delta without slot moves. */
    public PageTableDelta(int[] pageWrites, int[] lengthWrites, int[] freshPages, int[] pageCopies) {
        this(pageWrites, lengthWrites, freshPages, pageCopies, new int[0]);
    }

    public boolean isEmpty() {
        return pageWrites.length == 0 && lengthWrites.length == 0 && freshPages.length == 0
                && pageCopies.length == 0 && slotMoves.length == 0;
    }

    /**
     * The copies split into rounds that may each run in parallel and must run one after another: a round ends before
     * the first pair that reads or writes a page an earlier pair of the round writes, or writes a page one of them
     * reads. Returns the index (in pairs) where each round starts, and the pair count last; one round for the copies
     * of forks made between two steps from sequences that were not themselves forked or released in between.
     *
     * @param pageCount the pool's pages (every id of a pair is below it)
     */
    public int[] copyRounds(int pageCount) {
        int pairs = pageCopies.length / 2;
        if (pairs == 0) {
            return new int[] {0};
        }
        int[] starts = new int[pairs + 1];
        int rounds = 0;
        int[] readIn = new int[pageCount];   // round + 1 in which a page was read, 0: not in this delta
        int[] writtenIn = new int[pageCount];
        int round = 1;
        starts[rounds++] = 0;
        for (int i = 0; i < pairs; i++) {
            int source = pageCopies[2 * i];
            int target = pageCopies[2 * i + 1];
            if (writtenIn[source] == round || writtenIn[target] == round || readIn[target] == round) {
                round++;
                starts[rounds++] = i;
            }
            readIn[source] = round;
            writtenIn[target] = round;
        }
        starts[rounds++] = pairs;
        return Arrays.copyOf(starts, rounds);
    }
}
