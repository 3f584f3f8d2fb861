package io.dmsserve.kvcache;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Token and page counts per (layer, kv-head), summed over sequences. Written by the engine's bookkeeping, read by
 * metrics and the dashboard at any time without stopping the engine. One writer per entry at a time (a large step's
 * layer ranges run on several threads, {@link LayerParallel}, but a (layer, kv head) is in one range, and the ranges
 * of one step are joined before the next is forked, which orders one step's writes before the next's), so an
 * addition is a plain read and a release store, not a locked read-modify-write: the locked adds (two per head and step) took about a fifth of a
 * decode step's KV bookkeeping (KvBookkeepingBenchmark). Gauges (live, seen, pages) cover the open sequences and
 * return to 0 when they are released; the others are cumulative since start (a preempted sequence that is
 * recomputed counts its evictions and flags again, as the engine really redoes them).
 */
final class CacheCounters {

    final int layers;
    final int kvHeads;
    private final AtomicLongArray live;    // (layer, kvHead)
    private final AtomicLongArray evicted; // (layer, kvHead), cumulative since start
    private final AtomicLongArray flagged; // (layer, kvHead) decisions that flagged a token, cumulative
    private final AtomicLongArray seen;    // (layer, kvHead) tokens stored by open sequences, evicted or not
    private final AtomicLongArray pages;   // (layer, kvHead) pool pages held by open sequences
    final AtomicInteger sequences = new AtomicInteger();

    CacheCounters(int layers, int kvHeads) {
        this.layers = layers;
        this.kvHeads = kvHeads;
        this.live = new AtomicLongArray(layers * kvHeads);
        this.evicted = new AtomicLongArray(layers * kvHeads);
        this.flagged = new AtomicLongArray(layers * kvHeads);
        this.seen = new AtomicLongArray(layers * kvHeads);
        this.pages = new AtomicLongArray(layers * kvHeads);
    }

    int index(int layer, int kvHead) {
        return layer * kvHeads + kvHead;
    }

    void live(int index, int delta) {
        add(live, index, delta);
    }

    void evicted(int index, int count) {
        add(evicted, index, count);
    }

    void flagged(int index, int count) {
        add(flagged, index, count);
    }

    void seen(int index, int delta) {
        add(seen, index, delta);
    }

    void pages(int index, int delta) {
        add(pages, index, delta);
    }

    /** One writer per entry at a time (see the class): readers on other threads see the sum once the store lands. */
    private static void add(AtomicLongArray values, int index, long delta) {
        values.setRelease(index, values.getPlain(index) + delta);
    }

    long liveAt(int layer, int kvHead) {
        return live.get(index(layer, kvHead));
    }

    long evictedAt(int layer, int kvHead) {
        return evicted.get(index(layer, kvHead));
    }

    long flaggedAt(int layer, int kvHead) {
        return flagged.get(index(layer, kvHead));
    }

    long seenAt(int layer, int kvHead) {
        return seen.get(index(layer, kvHead));
    }

    long pagesAt(int layer, int kvHead) {
        return pages.get(index(layer, kvHead));
    }

    long[][] liveSnapshot() {
        return snapshot(live);
    }

    long[][] evictedSnapshot() {
        return snapshot(evicted);
    }

    private long[][] snapshot(AtomicLongArray values) {
        long[][] out = new long[layers][kvHeads];
        for (int l = 0; l < layers; l++) {
            for (int h = 0; h < kvHeads; h++) {
                out[l][h] = values.get(index(l, h));
            }
        }
        return out;
    }
}
