package io.dmsserve.kvcache;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * The one pool of fixed-size KV pages of a device. Hands out page ids; the bytes live with the backend
 * (Java arrays on the CPU, device memory on a GPU), so this class is the bookkeeping only.
 *
 * <p>Allocation and release happen during the engine thread's bookkeeping, which may spread a large step's layers
 * over several threads ({@link LayerParallel}): they synchronise. {@link #pagesInUse()} may be read from any thread.
 */
final class PageAllocator {

    private final int pageCount;
    private final int[] freePages; // stack of free page ids
    private final boolean[] inUse; // (page) catches a page released twice, a bookkeeping bug
    private int freeTop;
    private final AtomicInteger usedCount = new AtomicInteger();

    PageAllocator(int pageCount) {
        if (pageCount <= 0) {
            throw new IllegalArgumentException("page count must be positive, got " + pageCount);
        }
        this.pageCount = pageCount;
        this.freePages = new int[pageCount];
        this.inUse = new boolean[pageCount];
        // Low ids on top, so a fresh pool fills from page 0 upwards.
        for (int i = 0; i < pageCount; i++) {
            freePages[i] = pageCount - 1 - i;
        }
        this.freeTop = pageCount;
    }

    /** A free page id, or -1 when the pool is exhausted. */
    synchronized int allocate() {
        if (freeTop == 0) {
            return -1;
        }
        usedCount.incrementAndGet();
        int page = freePages[--freeTop];
        inUse[page] = true;
        return page;
    }

    /**
     * Up to {@code count} free page ids into {@code out[0..)}, in the order {@link #allocate()} would give them one by
     * one; returns how many (fewer when the pool runs short). One lock for a head's pages of a prompt chunk.
     */
    synchronized int allocate(int[] out, int count) {
        int got = Math.min(count, freeTop);
        for (int i = 0; i < got; i++) {
            int page = freePages[--freeTop];
            inUse[page] = true;
            out[i] = page;
        }
        usedCount.addAndGet(got);
        return got;
    }

    /** Gives back {@code pages[from..to)}, as {@link #release(int)} one by one. */
    synchronized void release(int[] pages, int from, int to) {
        for (int i = from; i < to; i++) {
            release(pages[i]);
        }
    }

    synchronized void release(int page) {
        if (page < 0 || page >= pageCount || !inUse[page]) {
            throw new IllegalStateException("release of page " + page + " that is not in use");
        }
        inUse[page] = false;
        freePages[freeTop++] = page;
        usedCount.decrementAndGet();
    }

    int pageCount() {
        return pageCount;
    }

    int freePages() {
        return pageCount - usedCount.get();
    }

    int pagesInUse() {
        return usedCount.get();
    }
}
