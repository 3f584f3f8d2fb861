package io.dmsserve.scheduler;

import io.dmsserve.dms.Decisions;
import io.dmsserve.dms.EvictionPolicy;
import io.dmsserve.engine.Backend;
import io.dmsserve.engine.KvGeometry;
import io.dmsserve.engine.LogitsRequest;
import io.dmsserve.engine.PendingStep;
import io.dmsserve.engine.SequenceOutput;
import io.dmsserve.engine.SequenceStep;
import io.dmsserve.engine.StepOutput;
import io.dmsserve.engine.StepPlan;
import io.dmsserve.kvcache.CacheStatistics;
import io.dmsserve.kvcache.KvCacheManager;
import io.dmsserve.kvcache.SequenceKv;
import io.dmsserve.kvcache.SlotReservation;
import io.dmsserve.sampling.SamplingParams;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * A backend and the KV bookkeeping that feeds it: one step is reserved in the cache manager, sent down as
 * one {@link StepPlan}, and committed with the decisions that come back (DESIGN.md §2, docs/architecture.md).
 * Engine thread only, but for {@link #statistics()}.
 */
public final class StepExecutor implements AutoCloseable {

    /** One sequence's work in a step, before the cache gives it slots and the policy its rule. */
    public record Work(long sequenceId, int[] tokens, int promptLength, SamplingParams sampling, long seed,
            long drawIndex, long[] allowedTokens, LogitsRequest logits) {

        /** A prompt chunk or decode token whose output is sampled greedily when {@code sample} is set. */
        public static Work greedy(long sequenceId, int[] tokens, boolean sample, LogitsRequest logits) {
            return new Work(sequenceId, tokens, Integer.MAX_VALUE, SamplingParams.GREEDY, 0, sample ? 0 : -1, null,
                    logits);
        }
    }

    private final Backend backend;
    private final KvCacheManager cache;
    private final ArrayDeque<Submitted> inFlight = new ArrayDeque<>(2); // submitted, oldest first
    private final Set<Long> copies = new HashSet<>();                   // sequences opened by fork

    public StepExecutor(Backend backend, KvCacheManager cache) {
        this.backend = backend;
        this.cache = cache;
    }

    /**
     * Sizes the page pool for the backend ({@code kvBytes} / its bytes per page), allocates its KV store, and
     * builds the bookkeeping for {@code rows} sequences at once.
     *
     * @throws IllegalArgumentException when the memory holds no page, or more than the backend can take
     */
    public static StepExecutor allocate(Backend backend, int pageSize, long kvBytes, int rows) {
        return allocate(backend, pageSize, kvBytes, rows, KvCacheManager.REPACK_DEFAULT);
    }

    /** {@link #allocate(Backend, int, long, int)}, repacking heads or not ({@link KvCacheManager#commit}). */
    public static StepExecutor allocate(Backend backend, int pageSize, long kvBytes, int rows, boolean repack) {
        long bytesPerPage = backend.kvBytesPerPage(pageSize);
        long pageCount = kvBytes / bytesPerPage;
        if (pageCount < 1 || pageCount > Integer.MAX_VALUE / pageSize) {
            throw new IllegalArgumentException("a KV cache of " + kvBytes + " bytes holds " + pageCount + " pages of "
                    + pageSize + " tokens (" + bytesPerPage + " bytes each); choose between one page and "
                    + Integer.MAX_VALUE / pageSize + " pages");
        }
        int perHead = Math.min((int) pageCount,
                KvCacheManager.pagesPerHead(backend.config().maxPositionEmbeddings(), pageSize));
        KvGeometry geometry = new KvGeometry(pageSize, (int) pageCount, rows, perHead);
        backend.allocateKv(geometry);
        var config = backend.config();
        return new StepExecutor(backend, new KvCacheManager(config.numLayers(), config.numKvHeads(), pageSize,
                (int) pageCount, rows, perHead, repack));
    }

    public Backend backend() {
        return backend;
    }

    public KvCacheManager cache() {
        return cache;
    }

    public CacheStatistics statistics() {
        return cache.statistics();
    }

    public void open(long sequenceId, EvictionPolicy policy) {
        cache.open(sequenceId, policy);
    }

    /**
     * Opens {@code targetId} as a copy of {@code sourceId}'s KV cache ({@link KvCacheManager#fork}); the next step
     * copies the pages on the backend before it runs. The source must have no step in flight. A copy's steps may
     * not ask for penalties: their counts are kept by the backend from the tokens each row was fed, and the fork
     * does not copy them.
     */
    public void fork(long sourceId, long targetId) {
        cache.fork(sourceId, targetId);
        copies.add(targetId);
    }

    /**
     * Frees the sequence's pages now, also while a step of it is in flight: the device runs steps in order, so a
     * page given to another sequence is written only by a later step; that step's decisions are then not committed.
     */
    public void release(long sequenceId) {
        for (Submitted submitted : inFlight) {
            for (int i = 0; i < submitted.ids.length; i++) {
                submitted.released[i] |= submitted.ids[i] == sequenceId;
            }
        }
        cache.release(sequenceId);
        copies.remove(sequenceId);
    }

    /**
     * One engine step: slots for every sequence's tokens, the plan to the backend, the decisions back into
     * the bookkeeping. On a failure the sequences of the step must be released.
     */
    public StepOutput run(List<Work> work) {
        return await(submit(work));
    }

    /** A step reserved and queued on the backend, its decisions not yet committed ({@link #await}). */
    public static final class Submitted {
        private final long[] ids;
        private final boolean[] settled;  // the step samples it: its commit may repack (KvCacheManager#commit)
        private final boolean[] released;
        private final PendingStep pending;

        private Submitted(long[] ids, boolean[] settled, PendingStep pending) {
            this.ids = ids;
            this.settled = settled;
            this.released = new boolean[ids.length];
            this.pending = pending;
        }
    }

    /**
     * The first half of {@link #run}: reserves the step's slots and queues it on the backend. Up to two steps may be
     * in flight; a sequence's second needs {@link SequenceKv#canReserveAhead()} and may feed back its token
     * ({@link SequenceStep#FED_BACK}). Steps are awaited in the order submitted.
     */
    public Submitted submit(List<Work> work) {
        long[] ids = new long[work.size()];
        int[] lengths = new int[work.size()];
        boolean[] settled = new boolean[work.size()];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = work.get(i).sequenceId();
            lengths[i] = work.get(i).tokens().length;
            settled[i] = work.get(i).drawIndex() >= 0;
            if (work.get(i).sampling().penalized() && copies.contains(ids[i])) {
                throw new IllegalArgumentException("sequence " + ids[i] + " is a fork's copy, whose penalty counts"
                        + " were not copied: it cannot sample with penalties");
            }
        }
        List<SlotReservation> reservations = cache.reserve(ids, lengths);
        List<SequenceStep> steps = new ArrayList<>(work.size());
        for (int i = 0; i < ids.length; i++) {
            Work w = work.get(i);
            steps.add(new SequenceStep(w.sequenceId(), w.tokens(), reservations.get(i),
                    cache.sequence(w.sequenceId()).policy().rule(), w.promptLength(), w.sampling(), w.seed(),
                    w.drawIndex(), w.allowedTokens(), w.logits()));
        }
        Submitted submitted = new Submitted(ids, settled, backend.submit(new StepPlan(steps, cache.takeDelta())));
        inFlight.addLast(submitted);
        return submitted;
    }

    /**
     * The second half of {@link #run}: the step's output, its decisions committed for the sequences not released
     * since it was submitted.
     */
    public StepOutput await(Submitted submitted) {
        if (inFlight.peekFirst() != submitted) {
            throw new IllegalStateException("steps are awaited in the order they were submitted");
        }
        inFlight.removeFirst();
        StepOutput output = submitted.pending.await();
        if (output.sequences().size() != submitted.ids.length) {
            throw new IllegalStateException("backend " + backend.name() + " answered " + output.sequences().size()
                    + " sequences of a step of " + submitted.ids.length);
        }
        int kept = 0;
        for (boolean r : submitted.released) {
            kept += r ? 0 : 1;
        }
        long[] answered = new long[kept];
        Decisions[] decisions = new Decisions[kept];
        boolean[] settled = new boolean[kept];  // repacked only after a step that sampled (KvCacheManager#commit)
        for (int i = 0, j = 0; i < submitted.ids.length; i++) {
            if (!submitted.released[i]) {
                SequenceOutput out = output.sequences().get(i);
                answered[j] = out.sequenceId();
                settled[j] = submitted.settled[i];
                decisions[j++] = out.decisions();
            }
        }
        cache.commit(answered, decisions, settled);
        return output;
    }

    /**
     * After a failure: waits for the steps still in flight and drops their outputs and decisions (their sequences
     * are being released), so that the next step starts with nothing queued.
     */
    public void abandon() {
        while (!inFlight.isEmpty()) {
            Submitted submitted = inFlight.removeFirst();
            try {
                submitted.pending.await();
            } catch (Throwable e) {
                // The failure being handled (even an OutOfMemoryError), or a step lost with it: nothing to read.
            }
        }
    }

    /** Steps submitted and not yet awaited. */
    public int inFlight() {
        return inFlight.size();
    }

    @Override
    public void close() {
        backend.close();
    }
}
