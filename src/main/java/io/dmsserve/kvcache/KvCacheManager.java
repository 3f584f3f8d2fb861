package io.dmsserve.kvcache;

import io.dmsserve.dms.Decisions;
import io.dmsserve.dms.EvictionPolicy;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The one owner of the KV bookkeeping of a device, for every backend (DESIGN.md §4): one pool of
 * fixed-size pages, and per sequence a page table and live count for each (layer, kv-head). The backend
 * only stores bytes: the keys and values of physical slot {@code page · pageSize + offset}, and its own copy
 * of the page tables, kept current by the {@link #takeDelta() delta} each step carries.
 *
 * <p>A step is {@link #reserve}d (slots for its tokens, worst case), run by the backend, then
 * {@link #commit}ted with the decisions it made: flags arriving after the step are enough, because a
 * flagged token leaves the cache only a window later. All calls but {@link #statistics()} come from the
 * engine thread; a large step's reservation and commit spread its layers over bookkeeping threads and return once
 * they are done ({@link LayerParallel}).
 */
public final class KvCacheManager {

    /**
     * Whether engines repack by default (StepExecutor.allocate; dms.kv-cache.repack). On: after a chunked DMS prefill
     * (at its last chunk, the one that samples: see {@link #commit(long[], Decisions[], boolean[])}) it gives back about
     * 7/8 of the last chunk's slots (on the H200, 2026-11-30, 16 x 32K DMS: 174 sequences of 32K fit in the pool instead
     * of 126 after chunks of 2048, decode about 2% faster measured and 3% steady; instead of 166 after the server's
     * chunks of 256). Its device path is checked by CudaRepackTest: the device's page tables,
     * slot positions and flags equal the host's bookkeeping through the long mixed run (H200, 2026-11-30, 4,006 slot
     * moves). In that run one DMS decision of 30,000 differs from the CPU's, 0.019 from the threshold, with repacking
     * on; the CPU alone moves that run's decision logits by up to 0.021 repacking on against off (sums in another
     * order, a bf16 key rounding the other way), and noise of 2^-17 on stored keys and values flips exactly that
     * decision either way (CudaGoldenTest's class comment).
     */
    public static final boolean REPACK_DEFAULT = true;

    private final int layers;
    private final int kvHeads;
    private final int pageSize;
    private final int maxPagesPerHead;
    private final PageAllocator allocator;
    private final CacheCounters counters;
    private final DeltaBuilder delta = new DeltaBuilder();
    private final ArrayDeque<Integer> freeRows = new ArrayDeque<>();
    private final int rows;
    private final Map<Long, SequenceKv> sequences = new ConcurrentHashMap<>();
    private final boolean repack;
    private final IntList repackReleases = new IntList();

    /**
     * Without repacking (the bookkeeping tests' exact page ids assume none; engines take {@link #REPACK_DEFAULT}
     * through StepExecutor.allocate).
     *
     * @param rows sequences open at once (the backend's page-table rows)
     * @param maxPagesPerHead entries of one page table: enough for the context length
     */
    public KvCacheManager(int layers, int kvHeads, int pageSize, int pageCount, int rows, int maxPagesPerHead) {
        this(layers, kvHeads, pageSize, pageCount, rows, maxPagesPerHead, false);
    }

    /**
     * @param repack whether a commit repacks the heads it leaves with two pages' worth of free slots (see
     *     {@link #commit(long[], Decisions[])})
     */
    public KvCacheManager(int layers, int kvHeads, int pageSize, int pageCount, int rows, int maxPagesPerHead,
            boolean repack) {
        this.repack = repack;
        if (pageSize <= 0 || rows <= 0 || maxPagesPerHead <= 0) {
            throw new IllegalArgumentException("page size, rows and pages per head must be positive, got " + pageSize
                    + ", " + rows + ", " + maxPagesPerHead);
        }
        this.layers = layers;
        this.kvHeads = kvHeads;
        this.pageSize = pageSize;
        this.maxPagesPerHead = maxPagesPerHead;
        this.allocator = new PageAllocator(pageCount);
        this.counters = new CacheCounters(layers, kvHeads);
        this.rows = rows;
        for (int row = 0; row < rows; row++) {
            freeRows.addLast(row);
        }
    }

    /** Page-table entries one (sequence, layer, kv-head) may need for a context of this many tokens. */
    public static int pagesPerHead(int contextLength, int pageSize) {
        return (contextLength + pageSize - 1) / pageSize;
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

    public int rows() {
        return rows;
    }

    public int maxPagesPerHead() {
        return maxPagesPerHead;
    }

    /** Pages a new sequence takes to store its first {@code tokens} tokens if none were evicted. */
    public int pagesForNewSequence(int tokens) {
        return layers * kvHeads * ((tokens + pageSize - 1) / pageSize);
    }

    /** Worst case of the pages an open sequence takes to store {@code tokens} more tokens. */
    public int pagesToStore(long sequenceId, int tokens) {
        return sequence(sequenceId).pagesToStore(tokens);
    }

    /** Pages an open sequence holds: what releasing it gives back. */
    public int pagesHeld(long sequenceId) {
        return sequence(sequenceId).pages();
    }

    /** Opens an empty cache for a new sequence; it holds no page until its first token is reserved. */
    public SequenceKv open(long sequenceId, EvictionPolicy policy) {
        if (sequences.containsKey(sequenceId)) {
            throw new IllegalStateException("sequence " + sequenceId + " is already open");
        }
        Integer row = freeRows.pollFirst();
        if (row == null) {
            throw new IllegalStateException("all " + rows + " page-table rows are in use");
        }
        HeadCache[][] heads = new HeadCache[layers][kvHeads];
        for (int l = 0; l < layers; l++) {
            for (int h = 0; h < kvHeads; h++) {
                int table = (row * layers + l) * kvHeads + h;
                heads[l][h] = new HeadCache(allocator, counters, counters.index(l, h), delta, table, maxPagesPerHead,
                        pageSize, policy.evicts(), policy.window());
            }
        }
        SequenceKv sequence = new SequenceKv(sequenceId, row, policy, heads);
        sequences.put(sequenceId, sequence);
        counters.sequences.incrementAndGet();
        return sequence;
    }

    /**
     * Opens sequence {@code targetId} as a copy of {@code sourceId}'s cache between two steps: every head with the
     * same tokens, positions, flags and window in pages of its own, which the next step's delta has the backend copy
     * ({@link PageTableDelta#pageCopies}) before it writes anything. The two then go on independently, and a step of
     * the copy computes what the same step of the source would. Only the KV cache is copied: what a backend keeps by
     * row besides it (penalty counts) is not, so {@code StepExecutor#fork} refuses penalties for a copy.
     *
     * @throws IllegalStateException when the source has a step in flight, or the target is open
     * @throws KvCacheFullException when the pool has fewer free pages than the source holds (nothing is opened)
     */
    public SequenceKv fork(long sourceId, long targetId) {
        SequenceKv source = sequence(sourceId);
        if (!source.idle()) {
            throw new IllegalStateException("sequence " + sourceId + " has a step in flight; fork it between steps");
        }
        if (sequences.containsKey(targetId)) {
            throw new IllegalStateException("sequence " + targetId + " is already open");
        }
        int pages = source.pages();
        if (pages > allocator.freePages()) {
            throw new KvCacheFullException("KV cache is full: a copy of sequence " + sourceId + " needs " + pages
                    + " pages, " + allocator.freePages() + " of " + allocator.pageCount() + " are free");
        }
        SequenceKv target = open(targetId, source.policy());
        try {
            target.copyFrom(source);
        } catch (RuntimeException e) {
            release(targetId);
            throw e;
        }
        return target;
    }

    public SequenceKv sequence(long sequenceId) {
        SequenceKv sequence = sequences.get(sequenceId);
        if (sequence == null) {
            throw new IllegalArgumentException("no open sequence " + sequenceId);
        }
        return sequence;
    }

    /**
     * Slots for the sequence's next {@code length} tokens in every head, before the step that writes them.
     *
     * @throws KvCacheFullException when the pool runs out of pages (the scheduler checks first)
     */
    public SlotReservation reserve(long sequenceId, int length) {
        return sequence(sequenceId).reserve(length);
    }

    /** After the step: the decisions it made flag tokens; those out of the window leave. */
    public void commit(long sequenceId, Decisions decisions) {
        commit(new long[] {sequenceId}, new Decisions[] {decisions});
    }

    /**
     * {@link #reserve(long, int)} for every sequence of a step, on several threads when the step is large
     * ({@link LayerParallel}): the reservations in the order of {@code sequenceIds}.
     *
     * @throws KvCacheFullException when the pool runs out of pages; the step's sequences must then be released
     */
    public List<SlotReservation> reserve(long[] sequenceIds, int[] lengths) {
        if (sequenceIds.length != lengths.length) {
            throw new IllegalArgumentException(sequenceIds.length + " sequences but " + lengths.length + " lengths");
        }
        SequenceKv[] step = sequences(sequenceIds);
        SlotReservation[] reservations = new SlotReservation[step.length];
        for (int i = 0; i < step.length; i++) {
            reservations[i] = step[i].newReservation(lengths[i]);
        }
        LayerParallel.run(layers, headSteps(step, lengths, false), (from, to) -> {
            for (int i = 0; i < step.length; i++) {
                step[i].reserveLayers(reservations[i], from, to);
            }
        });
        return List.of(reservations);
    }

    /**
     * {@link #commit(long, Decisions)} for every sequence of a step, as {@link #reserve(long[], int[])}. With repacking
     * on, a head that evicted its way to two pages' worth of free slots in the pages it holds is repacked into
     * ceil(live / pageSize) new pages, tokens in order (HeadCache#compact), and the old pages go back to the pool once
     * every head of the commit is done. After a chunked DMS prefill that gives back about 7/8 of the last chunk's
     * slots at once. Only for a sequence with no further step in flight (whose reserved slots would move), and only
     * when no page copy or slot move is waiting for the next step (so that one step's moves never read what another
     * copy or repack writes).
     */
    public void commit(long[] sequenceIds, Decisions[] decisions) {
        commit(sequenceIds, decisions, null);
    }

    /**
     * {@link #commit(long[], Decisions[])}, repacking only the sequences whose {@code settled} entry is set (null: every
     * sequence may be repacked). The engine sets it for a step that sampled a token (a decode step or a prompt's last
     * chunk), not for a prompt chunk that another chunk follows: that chunk refills the slots this one's evictions
     * free, so repacking before it would move every live token for nothing (a 32K prompt in chunks of 256: about ten
     * slot moves a prompt token in each head, against about 0.14 when only the last chunk's commit repacks; H200,
     * 2026-11-30, 16 x 32K DMS prefill 3,187 tokens/s repacking at every chunk against 5,155 without).
     */
    public void commit(long[] sequenceIds, Decisions[] decisions, boolean[] settled) {
        if (sequenceIds.length != decisions.length || (settled != null && settled.length != decisions.length)) {
            throw new IllegalArgumentException(sequenceIds.length + " sequences but " + decisions.length + " decisions"
                    + (settled == null ? "" : " and " + settled.length + " settled flags"));
        }
        SequenceKv[] step = sequences(sequenceIds);
        int[] first = new int[step.length];
        boolean quiet = repack && !delta.moving();
        IntList[] releases = new IntList[step.length];
        int[] committed = new int[step.length];
        for (int i = 0; i < step.length; i++) {
            committed[i] = decisions[i].length();
            first[i] = step[i].beginCommit(decisions[i]);
            releases[i] = quiet && step[i].idle() && (settled == null || settled[i]) ? repackReleases : null;
        }
        try {
            LayerParallel.run(layers, headSteps(step, committed, true), (from, to) -> {
                for (int i = 0; i < step.length; i++) {
                    step[i].commitLayers(decisions[i], first[i], from, to, releases[i]);
                }
            });
        } finally {
            for (int page : repackReleases.take()) {  // also when a commit failed half-way: the heads left them
                allocator.release(page);
            }
        }
    }

    /** The open sequences of a step, in order (any unknown id fails before any work). */
    private SequenceKv[] sequences(long[] sequenceIds) {
        SequenceKv[] step = new SequenceKv[sequenceIds.length];
        for (int i = 0; i < step.length; i++) {
            step[i] = sequence(sequenceIds[i]);
        }
        return step;
    }

    /**
     * What {@link LayerParallel} weighs, in head steps: each head of an evicting sequence counts one, and every
     * {@value #TOKENS_PER_HEAD_STEP} tokens of a sequence's step one more (a prompt chunk). A decoding sequence that
     * keeps everything has no commit work and one slot a head to reserve, too little to gain from threads (the H200
     * host, 16 x 4K without eviction: 0.88 ms of engine time a step serial, 0.93-0.97 ms on threads); a prompt chunk of
     * 2,048 tokens reserves 590,000 slots in Qwen3-8B's 288 heads whatever its policy, and with DMS commits as many
     * decisions. {@code lengths} are the step's tokens a sequence; {@code commit}: only evicting sequences have work.
     */
    private long headSteps(SequenceKv[] step, int[] lengths, boolean commit) {
        long count = 0;
        for (int i = 0; i < step.length; i++) {
            boolean evicts = step[i].policy().evicts();
            if (evicts || !commit) {
                count += (evicts ? 1 : 0) + lengths[i] / TOKENS_PER_HEAD_STEP;
            }
        }
        return count * layers * kvHeads;
    }

    /** Tokens of a sequence's step that weigh as much as one evicting head's bookkeeping ({@link #headSteps}). */
    static final int TOKENS_PER_HEAD_STEP = 64;

    /** Returns every page of the sequence to the pool and frees its row. Releasing twice is harmless. */
    public void release(long sequenceId) {
        SequenceKv sequence = sequences.remove(sequenceId);
        if (sequence != null) {
            sequence.release();
            freeRows.addLast(sequence.row());
            counters.sequences.decrementAndGet();
        }
    }

    /** The page-table changes since the last call, for the next step's plan. */
    public PageTableDelta takeDelta() {
        return delta.take();
    }

    public int layers() {
        return layers;
    }

    public int kvHeads() {
        return kvHeads;
    }

    /**
     * Readings of one (layer, kv-head), summed over sequences, for metrics: each is one atomic read, so a
     * scrape costs no snapshot of the whole cache and never stops the engine. Any thread.
     */
    public HeadReadings readings(int layer, int kvHead) {
        if (layer < 0 || layer >= layers || kvHead < 0 || kvHead >= kvHeads) {
            throw new IllegalArgumentException("no KV head (" + layer + ", " + kvHead + ") in a cache of " + layers
                    + " layers and " + kvHeads + " KV heads");
        }
        return new HeadReadings(counters, layer, kvHead);
    }

    /** Pages of the pool in use now. Any thread. */
    public int pagesInUse() {
        return allocator.pagesInUse();
    }

    /** Readable from any thread while the engine runs. */
    public CacheStatistics statistics() {
        return new CacheStatistics(pageSize, allocator.pageCount(), allocator.pagesInUse(),
                counters.sequences.get(), counters.liveSnapshot(), counters.evictedSnapshot());
    }
}
