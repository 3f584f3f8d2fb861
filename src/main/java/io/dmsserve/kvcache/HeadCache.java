package io.dmsserve.kvcache;

import java.util.Arrays;

/**
 * The KV bookkeeping of one (sequence, layer, kv-head): its own page list, because DMS keeps different
 * tokens in different heads.
 *
 * <p>Slots are addressed locally as {@code pageIndex * pageSize + offset}; the physical slot in the pool
 * is {@code page(pageIndex) * pageSize + offset}. A step first {@linkplain #reserve reserves} a slot
 * for each of its tokens; once its decisions are back, flagged tokens are {@linkplain #flag marked} and
 * those out of the window {@linkplain #evictThrough evicted}: the slot goes back on this head's free list
 * and is overwritten in place by a later token (keys are cached after RoPE, so slot order is irrelevant
 * to attention). A page whose slots are all free goes back to the pool at once.
 *
 * <p>Eviction happens at two moments, both from flags already known: after a step, what is gone for its
 * last query (DESIGN.md §3 step 8); and before the next step's reservation, what none of that step's
 * queries can see any more (a flagged token k with first − k > w), so that token k + w + 1 can take k's
 * slot, as the design's worked example has it.
 *
 * <p>The window ring holds the local slots of the tokens that may still be evicted, positions
 * [ringStart, ringStart + ringSize); older tokens that survived the window are kept for good and are no
 * longer tracked.
 *
 * <p>Every page-table change is journalled for the backend's copy of the table. Used by one thread at a time (the
 * engine thread, or the bookkeeping thread of its layer range in a large step, {@link LayerParallel}); live and
 * eviction counts are mirrored into {@link CacheCounters}, which any thread may read.
 */
public final class HeadCache {

    private static final int FREE = -1;

    private final PageAllocator allocator;
    private final CacheCounters counters;
    private final int counterIndex;
    private final DeltaBuilder delta;
    private final int table;          // this head's table index for the backend: (row, layer, kvHead)
    private final int maxPages;
    private final int pageSize;
    private final int pageShift;      // log2(pageSize) when a power of two, else −1: slot / pageSize without a division
    private static final int FLAGGED = 1 << 30;  // in a slot's entry; positions stay below it
    private final boolean tracksWindow;
    private final int window;

    private int pageTableSize;             // page-table entries, holes included
    private int holesFrom;                 // no FREE entry below this index: the first-hole search starts here
    // Per page-table entry, one row of rowInts ints: row[offset] = the token's position, with FLAGGED set when its
    // decision flagged it, or FREE; row[pageSize] = the tokens stored in the page; row[pageSize + 1] = the entry's pool
    // page, FREE for a hole (the page went back to the pool). The rows lie in primitive blocks of BLOCK rows,
    // blocks[pageIndex >>> BLOCK_SHIFT], at (pageIndex & BLOCK_MASK) * rowInts; the first block grows from 2 rows by
    // doubling, every later one is made whole. So a growing table never copies more than a block, and no reference
    // array points at a row per page. Before: a page-id array and an array of row objects per head, both doubling; in
    // the 16 x 32K no-eviction run every head doubled both at 2,048 pages in the first decode step (4,608 heads x 2 x
    // 16 KB allocated and copied, 37,000 page faults), and the first step that stored rows into the old gen's row
    // arrays paid G1's card refinement for them (20-30 ms of CPU on the build machine): together the 75-80 ms before
    // the H200 run's first decode pass. 9.4 million row objects also made the prefill's young collections slow.
    private static final int BLOCK_SHIFT = 6;
    private static final int BLOCK = 1 << BLOCK_SHIFT;
    private static final int BLOCK_MASK = BLOCK - 1;
    private final int rowInts;                 // pageSize + 2
    private int[][] blocks = new int[1][];
    private int[] freeSlots = new int[16];     // stack of empty local slots in pages we hold
    private int freeCount;
    private int live;
    private int seen;                          // tokens reserved since the head opened, evicted or not
    private int heldPages;
    private int unpublished;                   // tokens reserved, not yet added to the shared counters
    private int lastSlot = FREE;               // local slot of the last token reserved

    private int[] returnedPages = new int[8];  // emptied by the running evictThrough: pool pages, table entries
    private int[] returnedEntries = new int[8];
    private int returnedCount;
    private int[] ring = new int[16];          // circular: local slot of position ringStart + i; a power of two long
    private int ringHead;
    private int ringSize;
    private int ringStart;

    HeadCache(PageAllocator allocator, CacheCounters counters, int counterIndex, DeltaBuilder delta, int table,
            int maxPages, int pageSize, boolean tracksWindow, int window) {
        this.allocator = allocator;
        this.counters = counters;
        this.counterIndex = counterIndex;
        this.delta = delta;
        this.table = table;
        this.maxPages = maxPages;
        this.pageSize = pageSize;
        this.pageShift = Integer.bitCount(pageSize) == 1 ? Integer.numberOfTrailingZeros(pageSize) : -1;
        this.rowInts = pageSize + 2;
        this.tracksWindow = tracksWindow;
        this.window = window;
    }

    // A decode step calls reserve once per head (16 sequences x 288 heads of Qwen3-8B): integer divisions by the
    // page size were most of its cost.
    private int pageOf(int localSlot) {
        return pageShift >= 0 ? localSlot >>> pageShift : localSlot / pageSize;
    }

    private int offsetOf(int localSlot) {
        return pageShift >= 0 ? localSlot & (pageSize - 1) : localSlot % pageSize;
    }

    /** Number of local slots (free or not) in the pages this head holds or held; iterate 0..this-1. */
    public int slotCapacity() {
        return pageTableSize * pageSize;
    }

    /** Token position stored in a local slot, or −1 when the slot is empty. */
    public int position(int localSlot) {
        int entry = entry(localSlot);
        return entry == FREE ? FREE : entry & ~FLAGGED;
    }

    public boolean flagged(int localSlot) {
        int entry = entry(localSlot);
        return entry != FREE && (entry & FLAGGED) != 0;
    }

    /** A local slot's entry: its position with the FLAGGED bit, or FREE. */
    private int entry(int localSlot) {
        int pageIndex = pageOf(localSlot);
        return pageIndex >= pageTableSize ? FREE : block(pageIndex)[rowAt(pageIndex) + offsetOf(localSlot)];
    }

    /** The block holding a page-table entry's row (an entry below pageTableSize). */
    private int[] block(int pageIndex) {
        return blocks[pageIndex >>> BLOCK_SHIFT];
    }

    /** Where a page-table entry's row starts in its block. */
    private int rowAt(int pageIndex) {
        return (pageIndex & BLOCK_MASK) * rowInts;
    }

    /** Pool page of a page-table entry, or −1 for a hole (or an entry past the table's end). */
    public int page(int pageIndex) {
        return pageIndex >= pageTableSize ? FREE : block(pageIndex)[rowAt(pageIndex) + pageSize + 1];
    }

    /** Entries of the page table (holes included). */
    public int pageTableSize() {
        return pageTableSize;
    }

    /** Slot index in the pool's storage for a local slot; only meaningful when the slot holds a token. */
    public int physicalSlot(int localSlot) {
        return page(pageOf(localSlot)) * pageSize + offsetOf(localSlot);
    }

    public int live() {
        return live;
    }

    /** Pages of the pool this head holds now. */
    public int pages() {
        return heldPages;
    }

    /**
     * Pages this head would take from the pool to store {@code tokens} more tokens from position {@code first}
     * if none of them were evicted (the slots freed just before, by {@link #evictBefore}, count as free).
     */
    public int pagesToStore(int first, int tokens) {
        int missing = tokens - freeCount - evictableBefore(first);
        return missing <= 0 ? 0 : (missing + pageSize - 1) / pageSize;
    }

    /**
     * The last position no query from {@code first} on can see if flagged, and whose flag is known before the
     * step that processes {@code first}: first − w − 1, and never past first − 2 (token first − 1 is judged by
     * that step's own first decision).
     */
    private int lastInvisibleBefore(int first) {
        return (int) Math.min(first - (long) window - 1, first - 2L);
    }

    private int evictableBefore(int first) {
        if (!tracksWindow) {
            return 0;
        }
        int last = lastInvisibleBefore(first);
        int count = 0;
        for (int i = 0; i < ringSize && ringStart + i <= last; i++) {
            if (flagged(ring[(ringHead + i) & (ring.length - 1)])) {
                count++;
            }
        }
        return count;
    }

    /** Before a step from position {@code first}: evicts the flagged tokens none of its queries can see. */
    void evictBefore(int first) {
        if (tracksWindow) {
            evictThrough(lastInvisibleBefore(first));
        }
    }

    /**
     * Reserves a slot for the token at this position and returns its physical slot, where the backend writes
     * the key and value. Positions must follow each other from call to call.
     *
     * @throws KvCacheFullException when a new page is needed and the pool has none
     */
    int reserve(int position) {
        if (position >= FLAGGED) {
            throw new IllegalStateException("position " + position + " beyond the " + FLAGGED + " a head stores");
        }
        if (freeCount == 0) {
            addPage();
        }
        int slot = freeSlots[--freeCount];
        int pageIndex = pageOf(slot);
        int offset = offsetOf(slot);
        int[] block = blocks[pageIndex >>> BLOCK_SHIFT];
        int row = (pageIndex & BLOCK_MASK) * rowInts;
        block[row + offset] = position;
        block[row + pageSize]++;
        live++;
        seen++;
        unpublished++;
        if (tracksWindow) {
            if (ringSize == 0) {
                ringStart = position;
                ringHead = 0;
            }
            pushRing(slot);
        }
        lastSlot = slot;
        return block[row + pageSize + 1] * pageSize + offset;
    }

    /**
     * {@link #reserve(int)} for the positions {@code first} to {@code first + count − 1}, their physical slots into
     * {@code out[at..at + count)}: the same slots in the same order, the same pages taken at the same table entries.
     * The free slots are used first, one by one; the rest fill new pages from their first slot, whose pool pages are
     * taken in one call and journalled in one (a prompt chunk of 2,048 tokens adds 128 pages to each of Qwen3-8B's
     * 288 heads: per page, the pool's and the journal's locks and the free-slot pushes were most of the prefill's
     * bookkeeping).
     *
     * @throws KvCacheFullException as {@link #reserve(int)}, with the tokens before the one that found no page reserved
     */
    void reserve(int first, int count, int[] out, int at) {
        if (count > 0 && first + (long) count - 1 >= FLAGGED) {
            throw new IllegalStateException("position " + (first + (long) count - 1) + " beyond the " + FLAGGED
                    + " a head stores");
        }
        int c = 0;
        for (; c < count && freeCount > 0; c++) {
            out[at + c] = reserve(first + c);
        }
        if (c == count) {
            return;
        }
        if (tracksWindow) {
            growRing(ringSize + count - c);
        }
        int wanted = (count - c + pageSize - 1) / pageSize;
        int[] pages = new int[wanted];
        int got = allocator.allocate(pages, wanted);
        int[] entries = new int[got];
        int tableBefore = pageTableSize;
        try {
            for (int i = 0; i < got; i++) {
                int pageIndex = firstHole();
                if (pageIndex >= maxPages) {
                    allocator.release(pages, i, got);  // the pages not yet in the table
                    got = i;
                    throw new IllegalStateException("a KV head needs page-table entry " + pageIndex + ", beyond the "
                            + maxPages + " a table holds");
                }
                if (pageIndex == pageTableSize) {
                    growTables();
                    pageTableSize++;
                }
                holesFrom = pageIndex + 1;
                entries[i] = pageIndex;
                int n = Math.min(pageSize, count - c);
                int[] block = block(pageIndex);
                int row = rowAt(pageIndex);
                int localBase = pageIndex * pageSize;
                int physicalBase = pages[i] * pageSize;
                for (int o = 0; o < n; o++) {
                    block[row + o] = first + c + o;
                    out[at + c + o] = physicalBase + o;
                }
                if (tracksWindow) {
                    if (ringSize == 0) {
                        ringStart = first + c;
                        ringHead = 0;
                    }
                    for (int o = 0; o < n; o++) {
                        pushRing(localBase + o);
                    }
                }
                block[row + pageSize] = n;
                block[row + pageSize + 1] = pages[i];
                heldPages++;
                live += n;
                seen += n;
                unpublished += n;
                lastSlot = localBase + n - 1;
                if (n < pageSize) {  // only the last page of the call
                    freeTail(block, row, localBase, n);
                }
                c += n;
            }
        } finally {
            if (got > 0) {
                counters.pages(counterIndex, got);
                delta.pages(table, entries, pages, got, pageTableSize != tableBefore ? pageTableSize : -1);
            }
        }
        if (c < count) {  // the pool ran short: what reserve(int) throws at the first token without a page
            int pageIndex = firstHole();
            if (pageIndex >= maxPages) {
                throw new IllegalStateException("a KV head needs page-table entry " + pageIndex + ", beyond the "
                        + maxPages + " a table holds");
            }
            throw new KvCacheFullException("KV cache is full: all " + allocator.pageCount()
                    + " pages of " + pageSize + " tokens are in use");
        }
    }

    /**
     * Adds the tokens reserved since the last call to the shared live and seen counters: once per head and step
     * rather than per token, which on a large model is hundreds of thousands of atomic additions a step.
     */
    void publishReserved() {
        if (unpublished > 0) {
            counters.live(counterIndex, unpublished);
            counters.seen(counterIndex, unpublished);
            unpublished = 0;
        }
    }

    /** Physical slot of the last token reserved, or −1 before the first. */
    int lastPhysicalSlot() {
        return lastSlot == FREE ? FREE : physicalSlot(lastSlot);
    }

    /** Counts decisions that flagged a token, whether or not the token is still in the window. */
    void countFlags(int count) {
        if (count > 0) {
            counters.flagged(counterIndex, count);
        }
    }

    /** Marks a cached token as flagged (decision made at position + 1). No effect once it left the window. */
    void flag(int position) {
        if (!tracksWindow || position < ringStart || position >= ringStart + ringSize) {
            return;
        }
        int slot = ring[(ringHead + position - ringStart) & (ring.length - 1)];
        int pageIndex = pageOf(slot);
        block(pageIndex)[rowAt(pageIndex) + offsetOf(slot)] |= FLAGGED;
    }

    /**
     * Evicts every flagged token with position ≤ {@code lastEvictable} and stops tracking the unflagged
     * ones up to there (they are kept for good). Returns the number evicted.
     */
    int evictThrough(int lastEvictable) {
        int evicted = 0;
        returnedCount = 0;
        while (ringSize > 0 && ringStart <= lastEvictable) {
            int slot = ring[ringHead];
            ringHead = (ringHead + 1) & (ring.length - 1);
            ringSize--;
            ringStart++;
            if (flagged(slot)) {
                freeSlot(slot);
                evicted++;
            }
        }
        if (returnedCount > 0) {  // the pages emptied, to the pool and the journal in one call each
            dropFreeSlotsOfReturnedPages();
            allocator.release(returnedPages, 0, returnedCount);
            delta.freed(table, returnedEntries, returnedCount);
            counters.pages(counterIndex, -returnedCount);
            returnedCount = 0;
        }
        if (evicted > 0) {
            counters.evicted(counterIndex, evicted);
            counters.live(counterIndex, -evicted);
        }
        return evicted;
    }

    /**
     * Makes this head, new and empty, a copy of {@code source} (the same head of a sequence with no step in flight):
     * the same local slots, positions, flags, free slots and window, in pages of its own that the backend fills by
     * copying the source's ({@link DeltaBuilder#copy}); holes stay holes. The backend's table gets every entry, holes
     * included (a row's earlier sequence may have left page ids there).
     *
     * @throws KvCacheFullException when the pool runs out half-way; the caller then releases this head, which gives
     *     back exactly the pages it took
     */
    void copyFrom(HeadCache source) {
        if (pageTableSize != 0 || seen != 0) {
            throw new IllegalStateException("a head copies into an empty head only");
        }
        if (source.pageSize != pageSize || source.tracksWindow != tracksWindow || source.window != window) {
            throw new IllegalArgumentException("a head of pages of " + source.pageSize + " tokens, window "
                    + source.window + ", copied into one of " + pageSize + ", window " + window);
        }
        if (source.unpublished != 0) {
            throw new IllegalStateException("the head being copied has a reservation in flight");
        }
        if (source.pageTableSize > maxPages) {
            throw new IllegalStateException("a head of " + source.pageTableSize + " page-table entries copied into a"
                    + " table of " + maxPages);
        }
        blocks = new int[source.blocks.length][];
        for (int b = 0; b < blocks.length; b++) {
            blocks[b] = source.blocks[b] == null ? null : source.blocks[b].clone();
        }
        pageTableSize = source.pageTableSize;
        holesFrom = source.holesFrom;
        freeSlots = source.freeSlots.clone();
        freeCount = source.freeCount;
        lastSlot = source.lastSlot;
        ring = source.ring.clone();
        ringHead = source.ringHead;
        ringSize = source.ringSize;
        ringStart = source.ringStart;
        // Every entry a hole first, so that a failure half-way gives back only pages this head took.
        int[] from = new int[pageTableSize];
        for (int i = 0; i < pageTableSize; i++) {
            int at = rowAt(i) + pageSize + 1;
            from[i] = block(i)[at];
            block(i)[at] = FREE;
        }
        if (pageTableSize > 0) {
            delta.length(table, pageTableSize);
        }
        for (int i = 0; i < pageTableSize; i++) {
            if (from[i] == FREE) {
                delta.page(table, i, FREE);
                continue;
            }
            int page = allocator.allocate();
            if (page < 0) {
                throw new KvCacheFullException("KV cache is full: all " + allocator.pageCount() + " pages of "
                        + pageSize + " tokens are in use");
            }
            block(i)[rowAt(i) + pageSize + 1] = page;
            heldPages++;
            counters.pages(counterIndex, 1);
            delta.page(table, i, page);
            delta.copy(from[i], page);
        }
        live = source.live;
        seen = source.seen;
        counters.live(counterIndex, live);
        counters.seen(counterIndex, seen);
    }

    /**
     * Whether repacking would give back pages: at least two pages' worth of free slots in the pages this head holds.
     * A chunked DMS prefill leaves about 7/8 of its last chunk's slots free in held pages (a page goes back only once
     * all its tokens are gone), which later tokens would refill only one a step.
     */
    boolean compactable() {
        return freeCount >= 2 * pageSize && unpublished == 0;
    }

    /**
     * Repacks the live tokens, in their order, into the first slots of ceil(live / pageSize) pages newly taken from the
     * pool, and hands the pages held before to {@code released} (the caller gives them back once every head of the
     * commit has repacked, so that no repack's new pages are another's old ones). Order is kept, table entry by entry and
     * slot by slot, so that an attention that sums slot by slot (the CPU's) sums the same tokens in the same order in the
     * next step; one that groups by pages or tiles (the GPU's splits) regroups them, and later tokens take the tail
     * rather than the holes, so sums may differ in their last bits from an unrepacked head's. The
     * delta moves every token's key, value, position and flag to its new slot ({@link DeltaBuilder#move}), empties the
     * last page's unused slots, and rewrites the table. Nothing changes when the pool lacks the pages.
     *
     * @return whether the head was repacked
     */
    boolean compact(IntList released) {
        int newPages = (live + pageSize - 1) / pageSize;
        if (newPages >= heldPages) {
            return false;
        }
        int[] pages = new int[newPages];
        for (int i = 0; i < newPages; i++) {
            pages[i] = allocator.allocate();
            if (pages[i] < 0) {
                for (int j = 0; j < i; j++) {
                    allocator.release(pages[j]);
                }
                return false;
            }
        }
        int[] newSlot = new int[slotCapacity()];
        int[][] newBlocks = new int[Math.max(1, (newPages + BLOCK - 1) >>> BLOCK_SHIFT)][];
        for (int b = 0; b < newBlocks.length; b++) {
            newBlocks[b] = new int[(b == 0 ? Math.max(2, Math.min(BLOCK, newPages)) : BLOCK) * rowInts];  // growTables
        }
        int[] moves = new int[48];  // (source, target, count) runs, journalled at the end in one call
        int moveCount = 0;
        int[] releasedPages = new int[heldPages];
        int releasedCount = 0;
        int next = 0;           // the next new local slot
        int runFrom = -1;       // a run of moves: old physical slots runFrom.., new ones runTo.., runLength of them
        int runTo = -1;
        int runLength = 0;
        for (int i = 0; i < pageTableSize; i++) {
            int[] block = block(i);
            int row = rowAt(i);
            int page = block[row + pageSize + 1];
            if (page == FREE) {
                continue;
            }
            for (int offset = 0; offset < pageSize; offset++) {
                int entry = block[row + offset];
                int local = i * pageSize + offset;
                if (entry == FREE) {
                    newSlot[local] = FREE;
                    continue;
                }
                int target = next++;
                newSlot[local] = target;
                int[] to = newBlocks[(target / pageSize) >>> BLOCK_SHIFT];
                int toRow = ((target / pageSize) & BLOCK_MASK) * rowInts;
                to[toRow + target % pageSize] = entry;
                to[toRow + pageSize]++;
                int from = page * pageSize + offset;
                int toPhysical = pages[target / pageSize] * pageSize + target % pageSize;
                // A run stays within one source page and one target page (a backend may keep pages apart).
                if (runLength > 0 && from == runFrom + runLength && toPhysical == runTo + runLength
                        && offset != 0 && target % pageSize != 0) {
                    runLength++;
                } else {
                    if (runLength > 0) {
                        moves = addRun(moves, moveCount, runFrom, runTo, runLength);
                        moveCount += 3;
                    }
                    runFrom = from;
                    runTo = toPhysical;
                    runLength = 1;
                }
            }
            releasedPages[releasedCount++] = page;
        }
        if (runLength > 0) {
            moves = addRun(moves, moveCount, runFrom, runTo, runLength);
            moveCount += 3;
        }
        for (int p = 0; p < newPages; p++) {
            int[] to = newBlocks[p >>> BLOCK_SHIFT];
            int row = (p & BLOCK_MASK) * rowInts;
            for (int offset = to[row + pageSize]; offset < pageSize; offset++) {
                to[row + offset] = FREE;
            }
            to[row + pageSize + 1] = pages[p];
        }
        if (live % pageSize != 0) {   // the last page's unused slots must read empty before a token takes them
            moves = addRun(moves, moveCount, -1, pages[newPages - 1] * pageSize + live % pageSize,
                    pageSize - live % pageSize);
            moveCount += 3;
        }
        released.addAll(releasedPages, releasedCount);
        // One journal call a head (a repack after a 32K DMS prompt moves about 4,600 runs in each of 288 heads).
        delta.repacked(table, moves, moveCount, pages, newPages);
        counters.pages(counterIndex, newPages - heldPages);
        for (int i = 0; i < ringSize; i++) {
            int at = (ringHead + i) & (ring.length - 1);
            ring[at] = newSlot[ring[at]];
        }
        if (lastSlot != FREE) {
            lastSlot = newSlot[lastSlot];
        }
        blocks = newBlocks;
        pageTableSize = newPages;
        holesFrom = newPages;
        heldPages = newPages;
        freeCount = 0;
        for (int slot = newPages * pageSize - 1; slot >= live; slot--) {
            pushFree(slot);
        }
        return true;
    }

    /** Returns every page to the pool. The head is empty afterwards. */
    void release() {
        for (int i = 0; i < pageTableSize; i++) {
            int[] block = block(i);
            int at = rowAt(i) + pageSize + 1;
            if (block[at] != FREE) {
                allocator.release(block[at]);
                block[at] = FREE;
            }
        }
        if (pageTableSize > 0) {
            delta.length(table, 0);
        }
        publishReserved();
        counters.live(counterIndex, -live);
        counters.seen(counterIndex, -seen);
        counters.pages(counterIndex, -heldPages);
        live = 0;
        seen = 0;
        heldPages = 0;
        pageTableSize = 0;
        holesFrom = 0;
        freeCount = 0;
        ringSize = 0;
        lastSlot = FREE;
        blocks = new int[1][];
    }

    private void pushRing(int slot) {
        if (ringSize == ring.length) {
            growRing(ringSize + 1);
        }
        ring[(ringHead + ringSize) & (ring.length - 1)] = slot;
        ringSize++;
    }

    /**
     * Makes the ring hold at least {@code capacity} positions, in one allocation: a prompt chunk's run of tokens
     * sizes it once instead of doubling it token by token (from 16 slots, a sequence's first 2,048-token chunk
     * doubled it seven times a head).
     */
    private void growRing(int capacity) {
        if (capacity <= ring.length) {
            return;
        }
        int[] grown = new int[Integer.highestOneBit(capacity - 1) << 1];
        for (int i = 0; i < ringSize; i++) {
            grown[i] = ring[(ringHead + i) & (ring.length - 1)];
        }
        ring = grown;
        ringHead = 0;
    }

    private void freeSlot(int slot) {
        int pageIndex = pageOf(slot);
        int[] block = block(pageIndex);
        int row = rowAt(pageIndex);
        block[row + offsetOf(slot)] = FREE;
        live--;
        if (--block[row + pageSize] == 0) {
            returnPage(pageIndex);
        } else {
            pushFree(slot);
        }
    }

    /**
     * A page with no token left goes back to the pool, so other sequences can use it: at the end of the {@link
     * #evictThrough} that emptied it, which gives back its pages in the order they emptied and takes their free slots
     * off the free list ({@link #dropFreeSlotsOfReturnedPages}).
     */
    private void returnPage(int pageIndex) {
        int[] block = block(pageIndex);
        int at = rowAt(pageIndex) + pageSize + 1;
        if (returnedCount == returnedPages.length) {
            returnedPages = Arrays.copyOf(returnedPages, 2 * returnedCount);
            returnedEntries = Arrays.copyOf(returnedEntries, 2 * returnedCount);
        }
        returnedPages[returnedCount] = block[at];
        returnedEntries[returnedCount++] = pageIndex;
        block[at] = FREE;
        holesFrom = Math.min(holesFrom, pageIndex);
        heldPages--;
    }

    /**
     * The free slots of the pages {@link #returnPage} gave back in this {@link #evictThrough} (their entries now
     * FREE), taken off the free list in one pass that keeps the others in order: not one pass a page, which made a
     * prompt chunk's commit quadratic in the free slots of a head that empties many pages at once.
     */
    private void dropFreeSlotsOfReturnedPages() {
        int kept = 0;
        for (int i = 0; i < freeCount; i++) {
            if (page(pageOf(freeSlots[i])) != FREE) {
                freeSlots[kept++] = freeSlots[i];
            }
        }
        freeCount = kept;
    }

    private void addPage() {
        int pageIndex = firstHole();
        if (pageIndex >= maxPages) {
            throw new IllegalStateException("a KV head needs page-table entry " + pageIndex + ", beyond the "
                    + maxPages + " a table holds");
        }
        int page = allocator.allocate();
        if (page < 0) {
            throw new KvCacheFullException("KV cache is full: all " + allocator.pageCount()
                    + " pages of " + pageSize + " tokens are in use");
        }
        if (pageIndex == pageTableSize) {
            growTables();
            pageTableSize++;
            delta.length(table, pageTableSize);
        }
        holesFrom = pageIndex + 1;  // firstHole found no FREE entry below pageIndex
        int[] block = block(pageIndex);
        int row = rowAt(pageIndex);
        Arrays.fill(block, row, row + pageSize, FREE);  // a new row, or a hole's (all FREE already)
        block[row + pageSize] = 0;
        block[row + pageSize + 1] = page;
        heldPages++;
        counters.pages(counterIndex, 1);
        delta.page(table, pageIndex, page);
        delta.fresh(page);
        // Highest slot pushed first so the page fills from its first slot.
        for (int offset = pageSize - 1; offset >= 0; offset--) {
            pushFree(pageIndex * pageSize + offset);
        }
    }

    /**
     * The lowest FREE entry, or the table's end. The search starts at {@link #holesFrom}, which {@link #addPage}
     * moves past the entry it fills: amortised O(1) a page rather than a scan of the whole table (2,048 entries a
     * head at 32K context, for every page of every head).
     */
    private int firstHole() {
        int i = holesFrom;
        while (i < pageTableSize && page(i) != FREE) {
            i++;
        }
        return i;
    }

    /** Room for the row of entry pageTableSize: the first block doubles up to BLOCK rows, later ones come whole. */
    private void growTables() {
        int index = pageTableSize >>> BLOCK_SHIFT;
        if (index == 0) {
            int rows = blocks[0] == null ? 0 : blocks[0].length / rowInts;
            if (pageTableSize == rows) {
                blocks[0] = rows == 0 ? new int[2 * rowInts]
                        : Arrays.copyOf(blocks[0], Math.min(2 * rows, BLOCK) * rowInts);
            }
            return;
        }
        if (index == blocks.length) {
            blocks = Arrays.copyOf(blocks, 2 * blocks.length);
        }
        if (blocks[index] == null) {
            blocks[index] = new int[BLOCK * rowInts];
        }
    }

    /** {@code runs} with the run (source, target, count) at {@code size}, grown when full. */
    private static int[] addRun(int[] runs, int size, int source, int target, int count) {
        if (size + 3 > runs.length) {
            runs = Arrays.copyOf(runs, 2 * runs.length);
        }
        runs[size] = source;
        runs[size + 1] = target;
        runs[size + 2] = count;
        return runs;
    }

    /**
     * The slots {@code n..pageSize−1} of a page {@link #reserve(int, int, int[], int)} filled only up to {@code n}:
     * marked free in its row and pushed on the free list highest first, so that the next token takes the lowest.
     * Apart from the page loop, and counting up from 0 behind the caller's {@code n < pageSize}: on the GPU host the
     * page loop's own count-down tail (taken only by a call's last page when it is partial: never while a chunk of
     * 2,048 tokens fills whole pages, then whenever evictions have freed slots for the chunk's first tokens) made
     * C2 trap and recompile {@code reserve} ({@code loop_limit_check}) two to four times in a fresh JVM, each
     * recompilation 100–190 ms, and a chunk that came before the recompiled code ran about 80 ms slower
     * (docs/benchmarks.md, twenty-ninth pass).
     */
    private void freeTail(int[] block, int row, int localBase, int n) {
        int spare = pageSize - n;
        for (int k = 0; k < spare; k++) {
            block[row + n + k] = FREE;
        }
        for (int k = 0; k < spare; k++) {
            pushFree(localBase + pageSize - 1 - k);
        }
    }

    private void pushFree(int slot) {
        if (freeCount == freeSlots.length) {
            freeSlots = Arrays.copyOf(freeSlots, freeSlots.length * 2);
        }
        freeSlots[freeCount++] = slot;
    }
}
