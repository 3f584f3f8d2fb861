package io.dmsserve.kvcache;

import io.dmsserve.dms.DmsRules;
import java.util.Arrays;

/**
 * The KV bookkeeping of one (sequence, layer, kv-head): its own page list, because DMS keeps different
 * tokens in different heads.
 *
 * <p>Slots are addressed locally as {@code pageIndex * pageSize + offset}; the physical slot in the pool
 * is {@code pageTable[pageIndex] * pageSize + offset}. An evicted slot goes back on this head's free list
 * and is overwritten in place by the next token stored (keys are cached after RoPE, so slot order is
 * irrelevant to attention). A page whose slots are all free goes back to the pool at once.
 *
 * <p>The window ring holds the local slots of the tokens that may still be evicted: positions
 * [ringStart, ringStart + ringSize), −1 for a token that was never stored. Older tokens that survived
 * the window are kept for good and are no longer tracked.
 *
 * <p>Used by the engine thread only; live and eviction counts are mirrored into {@link CacheCounters},
 * which any thread may read.
 */
public final class HeadCache {

    private static final int FREE = -1;

    private final PageAllocator allocator;
    private final CacheCounters counters;
    private final int counterIndex;
    private final int pageSize;
    private final boolean tracksWindow;

    private int[] pageTable = new int[2];  // (pageIndex) -> pool page id, FREE for a returned page
    private int pageTableSize;
    private int[] pageOccupancy = new int[2]; // (pageIndex) -> stored tokens in that page
    private int[] slotPosition = new int[0];  // (localSlot) -> token position, FREE when empty
    private boolean[] slotFlagged = new boolean[0];
    private int[] freeSlots = new int[16];     // stack of empty local slots in pages we hold
    private int freeCount;
    private int live;

    private int[] ring = new int[16];          // circular: local slot of position ringStart + i
    private int ringHead;
    private int ringSize;
    private int ringStart;

    HeadCache(PageAllocator allocator, CacheCounters counters, int counterIndex, int pageSize,
            boolean tracksWindow) {
        this.allocator = allocator;
        this.counters = counters;
        this.counterIndex = counterIndex;
        this.pageSize = pageSize;
        this.tracksWindow = tracksWindow;
    }

    /** Number of local slots (free or not) in the pages this head holds or held; iterate 0..this-1. */
    public int slotCapacity() {
        return pageTableSize * pageSize;
    }

    /** Token position stored in a local slot, or −1 when the slot is empty. */
    public int position(int localSlot) {
        return slotPosition[localSlot];
    }

    public boolean flagged(int localSlot) {
        return slotFlagged[localSlot];
    }

    /** Slot index in the pool's storage for a local slot; only meaningful when the slot holds a token. */
    public int physicalSlot(int localSlot) {
        return pageTable[localSlot / pageSize] * pageSize + localSlot % pageSize;
    }

    public int live() {
        return live;
    }

    /** Pages of the pool this head holds now. */
    public int pages() {
        int held = 0;
        for (int i = 0; i < pageTableSize; i++) {
            if (pageTable[i] != FREE) {
                held++;
            }
        }
        return held;
    }

    /** Pages this head would take from the pool to store {@code tokens} more tokens if none were evicted. */
    public int pagesToStore(int tokens) {
        int missing = tokens - freeCount;
        return missing <= 0 ? 0 : (missing + pageSize - 1) / pageSize;
    }

    /** Marks a cached token as flagged (decision made at position + 1). No effect if it was never stored. */
    public void flag(int position) {
        if (!tracksWindow || position < ringStart || position >= ringStart + ringSize) {
            return;
        }
        int slot = ring[(ringHead + position - ringStart) % ring.length];
        if (slot != FREE) {
            slotFlagged[slot] = true;
        }
    }

    /**
     * Evicts every flagged token with position ≤ {@code lastEvictable} and stops tracking the unflagged
     * ones up to there (they are kept for good). Returns the number evicted.
     */
    int evictThrough(int lastEvictable) {
        int evicted = 0;
        while (ringSize > 0 && ringStart <= lastEvictable) {
            int slot = ring[ringHead];
            ringHead = (ringHead + 1) % ring.length;
            ringSize--;
            ringStart++;
            if (slot != FREE && slotFlagged[slot]) {
                freeSlot(slot);
                evicted++;
            }
        }
        if (evicted > 0) {
            counters.evicted(counterIndex, evicted);
        }
        return evicted;
    }

    /**
     * Stores a token that survives its step and returns its physical slot, where the caller writes the
     * key and value. Positions must increase from call to call.
     *
     * @param mayBeEvicted whether the token is still within reach of a later eviction (it must then be
     *     tracked by the window ring)
     * @throws KvCacheExhaustedException when a new page is needed and the pool has none
     */
    int store(int position, boolean flagged, boolean mayBeEvicted) {
        if (freeCount == 0) {
            addPage();
        }
        int slot = freeSlots[--freeCount];
        slotPosition[slot] = position;
        slotFlagged[slot] = flagged;
        pageOccupancy[slot / pageSize]++;
        live++;
        counters.live(counterIndex, 1);
        if (tracksWindow && mayBeEvicted) {
            track(position, slot);
        }
        return physicalSlot(slot);
    }

    /**
     * The cache update after a chunk's attention (DESIGN.md §3 steps 6 and 8): evicts the cached tokens that
     * fell out of the window, then stores the chunk's tokens, except flagged ones already out of the window
     * (a sparse prefill never stores them). Slots freed by the eviction are reused first.
     *
     * @param first position of the chunk's first token
     * @param chunkFlags whether chunk token c is flagged (decided by chunk token c + 1; false for the last)
     * @param window the policy's window w, or {@link Integer#MAX_VALUE} when it never evicts
     * @return (chunk length) physical slot where each chunk token's key and value go, or −1 when dropped
     */
    public int[] commit(int first, boolean[] chunkFlags, int window) {
        int length = chunkFlags.length;
        int lastEvictable = tracksWindow ? DmsRules.lastEvictable(first + length, window) : -1;
        if (tracksWindow) {
            evictThrough(lastEvictable);
        }
        int[] slots = new int[length];
        int dropped = 0;
        for (int c = 0; c < length; c++) {
            int position = first + c;
            if (chunkFlags[c] && position <= lastEvictable) {
                slots[c] = -1;
                dropped++;
            } else {
                slots[c] = store(position, chunkFlags[c], position > lastEvictable);
            }
        }
        if (dropped > 0) {
            counters.evicted(counterIndex, dropped);
        }
        return slots;
    }

    /** Returns every page to the pool. The head is empty afterwards. */
    void release() {
        for (int i = 0; i < pageTableSize; i++) {
            if (pageTable[i] != FREE) {
                allocator.release(pageTable[i]);
                pageTable[i] = FREE;
            }
        }
        counters.live(counterIndex, -live);
        live = 0;
        pageTableSize = 0;
        freeCount = 0;
        ringSize = 0;
        Arrays.fill(slotPosition, FREE);
    }

    private void track(int position, int slot) {
        if (ringSize == 0) {
            ringStart = position;
            ringHead = 0;
        }
        // Tokens that were dropped within their chunk leave gaps; keep positions contiguous.
        while (ringStart + ringSize < position) {
            pushRing(FREE);
        }
        pushRing(slot);
    }

    private void pushRing(int slot) {
        if (ringSize == ring.length) {
            int[] grown = new int[ring.length * 2];
            for (int i = 0; i < ringSize; i++) {
                grown[i] = ring[(ringHead + i) % ring.length];
            }
            ring = grown;
            ringHead = 0;
        }
        ring[(ringHead + ringSize) % ring.length] = slot;
        ringSize++;
    }

    private void freeSlot(int slot) {
        slotPosition[slot] = FREE;
        slotFlagged[slot] = false;
        live--;
        counters.live(counterIndex, -1);
        int pageIndex = slot / pageSize;
        if (--pageOccupancy[pageIndex] == 0) {
            returnPage(pageIndex);
        } else {
            pushFree(slot);
        }
    }

    /** A page with no token left goes back to the pool, so other sequences can use it. */
    private void returnPage(int pageIndex) {
        allocator.release(pageTable[pageIndex]);
        pageTable[pageIndex] = FREE;
        int kept = 0;
        for (int i = 0; i < freeCount; i++) {
            if (freeSlots[i] / pageSize != pageIndex) {
                freeSlots[kept++] = freeSlots[i];
            }
        }
        freeCount = kept;
    }

    private void addPage() {
        int page = allocator.allocate();
        if (page < 0) {
            throw new KvCacheExhaustedException("KV cache is full: all " + allocator.pageCount()
                    + " pages of " + pageSize + " tokens are in use");
        }
        int pageIndex = firstHole();
        if (pageIndex == pageTableSize) {
            growTables();
            pageTableSize++;
        }
        pageTable[pageIndex] = page;
        pageOccupancy[pageIndex] = 0;
        // Highest slot pushed first so the page fills from its first slot.
        for (int offset = pageSize - 1; offset >= 0; offset--) {
            pushFree(pageIndex * pageSize + offset);
        }
    }

    private int firstHole() {
        for (int i = 0; i < pageTableSize; i++) {
            if (pageTable[i] == FREE) {
                return i;
            }
        }
        return pageTableSize;
    }

    private void growTables() {
        if (pageTableSize == pageTable.length) {
            pageTable = Arrays.copyOf(pageTable, pageTable.length * 2);
            pageOccupancy = Arrays.copyOf(pageOccupancy, pageOccupancy.length * 2);
        }
        int slots = (pageTableSize + 1) * pageSize;
        if (slots > slotPosition.length) {
            int oldLength = slotPosition.length;
            int newLength = Math.max(slots, oldLength * 2);
            slotPosition = Arrays.copyOf(slotPosition, newLength);
            Arrays.fill(slotPosition, oldLength, newLength, FREE);
            slotFlagged = Arrays.copyOf(slotFlagged, newLength);
        }
    }

    private void pushFree(int slot) {
        if (freeCount == freeSlots.length) {
            freeSlots = Arrays.copyOf(freeSlots, freeSlots.length * 2);
        }
        freeSlots[freeCount++] = slot;
    }
}
