package io.dmsserve.kvcache;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Live and evicted token counts per (layer, kv-head), summed over sequences. Written by the engine thread,
 * read by metrics and the dashboard at any time without stopping the engine.
 */
final class CacheCounters {

    final int layers;
    final int kvHeads;
    private final AtomicLongArray live;    // (layer, kvHead)
    private final AtomicLongArray evicted; // (layer, kvHead), cumulative since start
    final AtomicInteger sequences = new AtomicInteger();

    CacheCounters(int layers, int kvHeads) {
        this.layers = layers;
        this.kvHeads = kvHeads;
        this.live = new AtomicLongArray(layers * kvHeads);
        this.evicted = new AtomicLongArray(layers * kvHeads);
    }

    int index(int layer, int kvHead) {
        return layer * kvHeads + kvHead;
    }

    void live(int index, int delta) {
        live.addAndGet(index, delta);
    }

    void evicted(int index, int count) {
        evicted.addAndGet(index, count);
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
