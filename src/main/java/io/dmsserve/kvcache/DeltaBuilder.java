package io.dmsserve.kvcache;

import java.util.Arrays;

/**
 * Collects page-table changes between two steps, the last write to an entry winning. Written during the engine
 * thread's bookkeeping, which may spread a step's layers over several threads ({@link LayerParallel}): the methods
 * synchronise, and each entry (a head's table) has one writer, so "last write" keeps its meaning.
 *
 * <p>Primitive tables, no boxing: a decode step of 16 sequences on a 36-layer, 8-KV-head model records hundreds of
 * writes, and the boxed maps this replaced were a third of the engine's host time per step.
 */
final class DeltaBuilder {

    private final Writes pages = new Writes();    // (head << 32 | pageIndex) -> page id or −1
    private final Writes lengths = new Writes();  // head -> length
    private final Writes fresh = new Writes();    // page -> 0 (a set), or CANCELLED
    private final IntList copies = new IntList(); // (source, target) pairs in the order made
    private final IntList moves = new IntList();  // (source slot or −1, target slot, count) triples
    private static final int CANCELLED = 1;

    synchronized void page(int head, int pageIndex, int page) {
        pages.put((long) head << 32 | pageIndex, page);
    }

    synchronized void length(int head, int length) {
        lengths.put(head, length);
    }

    synchronized void fresh(int page) {
        fresh.put(page, 0);
    }

    /**
     * A head's new pages, under one lock: entry {@code entries[i]} of its table holds {@code pages[i]}, fresh, for
     * i below count; then its length, unless {@code length} is negative. The same journal as {@link #page}, {@link
     * #fresh} and {@link #length} called page by page.
     */
    synchronized void pages(int head, int[] entries, int[] pages, int count, int length) {
        for (int i = 0; i < count; i++) {
            this.pages.put((long) head << 32 | entries[i], pages[i]);
            fresh.put(pages[i], 0);
        }
        if (length >= 0) {
            lengths.put(head, length);
        }
    }

    /** Entries of a head's table that went back to the pool (holes), as {@link #page} with −1 for each. */
    synchronized void freed(int head, int[] entries, int count) {
        for (int i = 0; i < count; i++) {
            this.pages.put((long) head << 32 | entries[i], -1);
        }
    }

    /**
     * A head's repack under one lock, as {@link #move} for each run of {@code runs} (triples, {@code runCount} ints),
     * then {@link #page} and {@link #filled} for entries 0 to count − 1 of its new table, and its {@link #length},
     * count.
     */
    synchronized void repacked(int head, int[] runs, int runCount, int[] pages, int count) {
        moves.addAll(runs, runCount);
        for (int p = 0; p < count; p++) {
            this.pages.put((long) head << 32 | p, pages[p]);
            filled(pages[p]);
        }
        lengths.put(head, count);
    }

    /**
     * A fork's copy of page source into page target. Copies run before fresh pages are emptied, so a target made
     * fresh earlier in this delta (handed out and given back since the last step) is no longer emptied.
     */
    synchronized void copy(int source, int target) {
        filled(target);
        copies.add(source);
        copies.add(target);
    }

    /**
     * A page a copy or repack fills: if it was made fresh earlier in this delta (handed out and given back since the
     * last step), it is no longer emptied, which would come after the copies and moves.
     */
    synchronized void filled(int page) {
        if (fresh.contains(page)) {
            fresh.put(page, CANCELLED);
        }
    }

    /** A repack's move of count slots (source −1: empty the targets instead). */
    synchronized void move(int source, int target, int count) {
        moves.add(source);
        moves.add(target);
        moves.add(count);
    }

    /** Whether page copies or slot moves wait for the next step (a repack then waits: see KvCacheManager#commit). */
    synchronized boolean moving() {
        return copies.size() > 0 || moves.size() > 0;
    }

    synchronized PageTableDelta take() {
        if (pages.size == 0 && lengths.size == 0 && fresh.size == 0 && !moving()) {
            return PageTableDelta.EMPTY;
        }
        int[] pageWrites = new int[pages.size * 3];
        for (int i = 0; i < pages.size; i++) {
            pageWrites[3 * i] = (int) (pages.keys[i] >>> 32);
            pageWrites[3 * i + 1] = (int) pages.keys[i];
            pageWrites[3 * i + 2] = pages.values[i];
        }
        int[] lengthWrites = new int[lengths.size * 2];
        for (int i = 0; i < lengths.size; i++) {
            lengthWrites[2 * i] = (int) lengths.keys[i];
            lengthWrites[2 * i + 1] = lengths.values[i];
        }
        int kept = 0;
        for (int i = 0; i < fresh.size; i++) {
            kept += fresh.values[i] == CANCELLED ? 0 : 1;
        }
        int[] freshPages = new int[kept];
        for (int i = 0, j = 0; i < fresh.size; i++) {
            if (fresh.values[i] != CANCELLED) {
                freshPages[j++] = (int) fresh.keys[i];
            }
        }
        int[] pageCopies = copies.take();
        int[] slotMoves = moves.take();
        pages.clear();
        lengths.clear();
        fresh.clear();
        return new PageTableDelta(pageWrites, lengthWrites, freshPages, pageCopies, slotMoves);
    }

    /**
     * Keys in first-write order with their last value; an open-addressing index (slot -> entry + 1) finds them, and
     * each entry remembers its slot, so that clearing costs the entries written, not the index (which a prefill step
     * grows to hundreds of thousands of slots).
     */
    private static final class Writes {
        long[] keys = new long[64];
        int[] values = new int[64];
        int size;
        private int[] slotOf = new int[64];
        private int[] index = new int[128];

        void put(long key, int value) {
            int mask = index.length - 1;
            for (int h = hash(key) & mask; ; h = (h + 1) & mask) {
                int entry = index[h];
                if (entry == 0) {
                    if (size == keys.length) {
                        keys = Arrays.copyOf(keys, 2 * size);
                        values = Arrays.copyOf(values, 2 * size);
                        slotOf = Arrays.copyOf(slotOf, 2 * size);
                    }
                    keys[size] = key;
                    values[size] = value;
                    slotOf[size] = h;
                    index[h] = ++size;
                    if (2 * size > index.length) {
                        rehash();
                    }
                    return;
                }
                if (keys[entry - 1] == key) {
                    values[entry - 1] = value;
                    return;
                }
            }
        }

        boolean contains(long key) {
            int mask = index.length - 1;
            for (int h = hash(key) & mask; ; h = (h + 1) & mask) {
                int entry = index[h];
                if (entry == 0) {
                    return false;
                }
                if (keys[entry - 1] == key) {
                    return true;
                }
            }
        }

        void clear() {
            for (int e = 0; e < size; e++) {
                index[slotOf[e]] = 0;
            }
            size = 0;
        }

        private void rehash() {
            index = new int[2 * index.length];
            int mask = index.length - 1;
            for (int e = 0; e < size; e++) {
                int h = hash(keys[e]) & mask;
                while (index[h] != 0) {
                    h = (h + 1) & mask;
                }
                index[h] = e + 1;
                slotOf[e] = h;
            }
        }

        private static int hash(long key) {
            long h = key * 0x9E3779B97F4A7C15L;
            return (int) (h ^ (h >>> 29));
        }
    }
}
