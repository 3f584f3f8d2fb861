package io.dmsserve.kvcache;

import io.dmsserve.dms.EvictionPolicy;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The paged KV cache of one device (DESIGN.md §4): one pool of fixed-size pages, and per sequence a page
 * list and live count for each (layer, kv-head). This class is the bookkeeping; the backend stores the
 * keys and values of physical slot {@code page * pageSize + offset} wherever its memory is.
 */
public final class KvCache {

    private final PageAllocator allocator;
    private final CacheCounters counters;
    private final int pageSize;
    private final Map<Long, SequenceKv> sequences = new ConcurrentHashMap<>();

    public KvCache(int layers, int kvHeads, int pageSize, int pageCount) {
        if (pageSize <= 0) {
            throw new IllegalArgumentException("page size must be positive, got " + pageSize);
        }
        this.allocator = new PageAllocator(pageCount);
        this.counters = new CacheCounters(layers, kvHeads);
        this.pageSize = pageSize;
    }

    public int pageSize() {
        return pageSize;
    }

    public int pageCount() {
        return allocator.pageCount();
    }

    public int freePages() {
        return allocator.freePages();
    }

    /** Pages a new sequence takes to store its first {@code tokens} tokens if none were evicted. */
    public int pagesForNewSequence(int tokens) {
        return counters.layers * counters.kvHeads * ((tokens + pageSize - 1) / pageSize);
    }

    /** Opens an empty cache for a new sequence; it holds no page until its first token is stored. */
    public SequenceKv open(long sequenceId, EvictionPolicy policy) {
        HeadCache[][] heads = new HeadCache[counters.layers][counters.kvHeads];
        for (int l = 0; l < counters.layers; l++) {
            for (int h = 0; h < counters.kvHeads; h++) {
                heads[l][h] = new HeadCache(allocator, counters, counters.index(l, h), pageSize, policy.evicts());
            }
        }
        SequenceKv sequence = new SequenceKv(sequenceId, policy, heads);
        if (sequences.putIfAbsent(sequenceId, sequence) != null) {
            throw new IllegalStateException("sequence " + sequenceId + " is already open");
        }
        counters.sequences.incrementAndGet();
        return sequence;
    }

    public SequenceKv sequence(long sequenceId) {
        SequenceKv sequence = sequences.get(sequenceId);
        if (sequence == null) {
            throw new IllegalArgumentException("no open sequence " + sequenceId);
        }
        return sequence;
    }

    /** The open sequence with this id, or null. */
    public SequenceKv find(long sequenceId) {
        return sequences.get(sequenceId);
    }

    /** Returns every page of the sequence to the pool. Releasing twice is harmless. */
    public void release(long sequenceId) {
        SequenceKv sequence = sequences.remove(sequenceId);
        if (sequence != null) {
            sequence.release();
            counters.sequences.decrementAndGet();
        }
    }

    public CacheStatistics statistics() {
        return new CacheStatistics(pageSize, allocator.pageCount(), allocator.pagesInUse(),
                counters.sequences.get(), counters.liveSnapshot(), counters.evictedSnapshot());
    }
}
