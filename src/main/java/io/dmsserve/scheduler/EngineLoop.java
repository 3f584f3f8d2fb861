package io.dmsserve.scheduler;

import io.dmsserve.engine.LogitsRequest;
import io.dmsserve.engine.SequenceOutput;
import io.dmsserve.engine.SequenceStep;
import io.dmsserve.engine.StepOutput;
import io.dmsserve.kvcache.KvCacheFullException;
import io.dmsserve.kvcache.KvCacheManager;
import io.dmsserve.sampling.Logprobs;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The engine thread: takes work from the queue, asks the {@link StepPlanner} what the next step holds,
 * applies its admissions and preemptions, runs the step through the {@link StepExecutor}, and hands each
 * sampled token to its sequence's listener. Owns the running sequences; nothing else touches them.
 */
final class EngineLoop {

    private static final Logger log = LoggerFactory.getLogger(EngineLoop.class);

    private final StepExecutor executor;
    private final RequestQueue queue;
    private final StepPlanner planner;
    private final int contextLength;
    private final boolean overlap;
    private final StepPlanner.Pages pages;
    private final List<Sequence> running = new ArrayList<>(); // engine thread only, oldest first
    private volatile Thread thread;    // a new one at each start: a paused application context restarts it
    private volatile boolean stopping = true;
    volatile int runningCount;
    final AtomicLong steps = new AtomicLong();
    final AtomicLong preemptions = new AtomicLong();
    final AtomicLong completed = new AtomicLong();
    final AtomicLong cancelled = new AtomicLong();
    final AtomicLong failed = new AtomicLong();
    final AtomicLong generatedTokens = new AtomicLong();
    final AtomicLong promptTokens = new AtomicLong();
    final AtomicLong failedSteps = new AtomicLong();
    final AtomicLongArray finished = new AtomicLongArray(FinishReason.values().length); // (reason)
    volatile SchedulerObserver observer = SchedulerObserver.NONE;

    // The admin dashboard's view of the sequences, published by the engine thread between steps while someone
    // watches (at most every PUBLISH_NANOS, and whenever the batch empties), so nobody else reads engine state.
    static final int RECENT = 32;
    private static final long PUBLISH_NANOS = 250_000_000L;
    volatile long watchedUntilNanos;
    private volatile List<SequenceView> active = List.of();
    private volatile long activeAsOfMillis = System.currentTimeMillis();
    private final ArrayDeque<SequenceView> recent = new ArrayDeque<>(); // guarded by itself, newest first
    private long lastPublished;
    EngineLoop(StepExecutor executor, RequestQueue queue, StepPlanner planner, int contextLength, boolean overlap) {
        this.executor = executor;
        this.queue = queue;
        this.planner = planner;
        this.contextLength = contextLength;
        this.overlap = overlap;
        KvCacheManager cache = executor.cache();
        this.pages = new StepPlanner.Pages() {
            @Override
            public int toStore(long id, int tokens) {
                return cache.pagesToStore(id, tokens);
            }

            @Override
            public int forNew(int tokens) {
                return cache.pagesForNewSequence(tokens);
            }

            @Override
            public int held(long id) {
                return cache.pagesHeld(id);
            }
        };
    }

    synchronized void start() {
        if (thread != null && thread.isAlive()) {
            return;
        }
        queue.open();
        stopping = false;
        thread = new Thread(this::loop, "dms-engine");
        thread.setDaemon(true);
        thread.start();
    }

    boolean alive() {
        Thread t = thread;
        return t != null && t.isAlive() && !stopping;
    }

    EngineState state() {
        Thread t = thread;
        if (t == null || stopping) {
            return EngineState.STOPPED;
        }
        return t.isAlive() ? EngineState.RUNNING : EngineState.FAILED;
    }

    /**
     * Stops taking work, lets the step in flight finish, fails what is left. Returns false if the thread had
     * not ended within the timeout (a step still running on the backend).
     */
    synchronized boolean stop(long timeout, TimeUnit unit) {
        stopping = true;
        queue.close();
        if (thread == null || !thread.isAlive()) {
            failWaiting();
            return true;
        }
        try {
            thread.join(unit.toMillis(timeout));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        return !thread.isAlive();
    }

    private void loop() {
        while (queue.awaitWork(!running.isEmpty())) {
            for (EngineTask<?> task : queue.takeTasks()) {
                task.run();
            }
            List<Sequence> ended = new ArrayList<>();
            List<Sequence> waiting = queue.snapshot(System.nanoTime(), ended);
            for (Sequence sequence : ended) {
                if (sequence.cancelled()) {
                    cancelled.incrementAndGet();
                }
                FinishReason reason = sequence.cancelled() ? FinishReason.CANCELLED : FinishReason.TIMEOUT;
                remember(sequence, reason.name());
                complete(sequence, reason);
            }
            try {
                finishCancelledAndExpired();
                step(waiting);
            } catch (Throwable e) {
                // A bug, a backend failure or even an OutOfMemoryError must not kill the engine thread: fail
                // what ran, release its pages, go on.
                log.error("engine step failed; failing its {} sequences", running.size(), e);
                failedSteps.incrementAndGet();
                executor.abandon();
                RuntimeException failure = e instanceof RuntimeException runtime ? runtime
                        : new IllegalStateException("the engine step failed: " + e, e);
                for (Sequence sequence : List.copyOf(running)) {
                    fail(sequence, failure);
                }
            }
            runningCount = running.size();
            publish();
        }
        for (EngineTask<?> task : queue.takeTasks()) {
            task.abandon(new IllegalStateException("the server is shutting down"));
        }
        IllegalStateException stopped = new IllegalStateException("the server is shutting down");
        for (Sequence sequence : List.copyOf(running)) {
            fail(sequence, stopped);
        }
        runningCount = 0;
        failWaiting();
        active = List.of();
    }

    private void failWaiting() {
        IllegalStateException stopped = new IllegalStateException("the server is shutting down");
        for (Sequence sequence : queue.drain()) {
            remember(sequence, "error");
            notifyError(sequence, stopped);
        }
    }

    private void finishCancelledAndExpired() {
        long now = System.nanoTime();
        for (Sequence sequence : List.copyOf(running)) {
            if (sequence.cancelled()) {
                cancelled.incrementAndGet();
                finish(sequence, FinishReason.CANCELLED);
            } else if (now > sequence.deadlineNanos) {
                finish(sequence, FinishReason.TIMEOUT);
            }
        }
    }

    private void step(List<Sequence> waiting) {
        StepPlanner.Plan plan = planner.plan(running, waiting, executor.cache().freePages(), pages);
        SchedulerObserver observer = this.observer;
        if (!plan.admitted().isEmpty()) {
            queue.removeFirst(plan.admitted().size());
            long now = System.nanoTime();
            for (StepPlanner.Candidate admitted : plan.admitted()) {
                Sequence sequence = (Sequence) admitted;
                running.add(sequence);
                if (!sequence.admittedOnce) {
                    sequence.admittedOnce = true;
                    promptTokens.addAndGet(sequence.promptLength());
                    observer.queued(now - sequence.submittedNanos);
                }
            }
        }
        for (StepPlanner.Candidate candidate : plan.preempted()) {
            Sequence victim = (Sequence) candidate;
            running.remove(victim);
            executor.release(victim.id);
            victim.resetForRecompute();
            preemptions.incrementAndGet();
            queue.pushFront(victim);
        }
        if (plan.stuck() != null) {
            giveUp((Sequence) plan.stuck());
            return;
        }
        if (plan.chunks().isEmpty()) {
            return;
        }
        List<Sequence> batch = new ArrayList<>(plan.chunks().size());
        List<StepExecutor.Work> work = new ArrayList<>(plan.chunks().size());
        for (StepPlanner.Chunk chunk : plan.chunks()) {
            Sequence sequence = (Sequence) chunk.sequence();
            if (!sequence.open) {
                executor.open(sequence.id, sequence.policy);
                sequence.open = true;
            }
            boolean samples = chunk.length() == sequence.unfed();
            long[] allowed = samples && sequence.request.constraint() != null
                    ? sequence.request.constraint().allowed() : null;
            batch.add(sequence);
            work.add(new StepExecutor.Work(sequence.id, sequence.nextChunk(chunk.length()), sequence.promptLength(),
                    sequence.request.sampling(), sequence.seed, samples ? sequence.generated : -1, allowed,
                    LogitsRequest.NONE));
        }
        runSteps(batch, work, observer);
    }

    /**
     * Runs the planned step. While the batch can do nothing but go on (decode again, or feed the next chunk of a
     * prompt whose chunk in flight cannot change what the next one frees), the next step is submitted before this one
     * is read ({@link #continuation}), a decode token fed back by the backend ({@link SequenceStep#FED_BACK}), so that
     * the host's work for step n + 1 (bookkeeping, inputs, launch) overlaps the device's step n. When that stops (a
     * sequence ends, work or a task arrives, a limit is near) the step in flight is read too, and the next step is
     * planned.
     */
    private void runSteps(List<Sequence> batch, List<StepExecutor.Work> work, SchedulerObserver observer) {
        long started = System.nanoTime();
        StepExecutor.Submitted current = executor.submit(work);
        while (true) {
            List<StepExecutor.Work> nextWork = overlap ? continuation(batch, work) : null;
            StepExecutor.Submitted next = nextWork == null ? null : executor.submit(nextWork);
            StepOutput output = executor.await(current);
            long ended = System.nanoTime();
            boolean all = take(batch, work, output, ended - started, observer);
            if (next == null) {
                return;
            }
            current = next;
            work = nextWork;
            started = ended;
            if (!all) {
                output = executor.await(current);
                take(batch, work, output, System.nanoTime() - started, observer);
                return;
            }
            runningCount = running.size();
            publish();
        }
    }

    /**
     * The step after {@code work} (just submitted), to submit before that one is read, or null when it may not be:
     * <ul>
     *   <li>nothing waits to be planned: no task, no request that could join the batch or was cancelled, and every
     *       running sequence is in the step (one admitted but still waiting for its prefill would otherwise wait
     *       until a sequence of the step ends);</li>
     *   <li>every sequence may reserve ahead (DMS window, {@code SequenceKv#canReserveAhead}), asks for no penalties
     *       or grammar (which need its tokens on the host) and is not over its deadline;</li>
     *   <li>a sequence with tokens still unfed after the step (a prompt, or a recompute) feeds its next chunk, as
     *       long as the planner would make it (a token for each decode, the rest of the step's budget to the prompts
     *       in order; where one would get none, the planner plans). For a sequence that evicts, the check above
     *       ({@code canReserveAhead}: a window of at least the chunk in flight + 1 tokens, as a DMS window of 512
     *       has for the default 256 tokens a step) means the chunk reserved ahead frees exactly the slots it would
     *       free after the chunk in flight's commit: every token it may evict is judged by a decision already
     *       committed, and that commit then evicts nothing new (DESIGN.md §3: it evicts through T − w − 2, the
     *       reservation ahead already through T − w − 1). So its slots, and the sums over them, are those of one
     *       chunk at a time. A sequence that evicts is not overlapped after a step that sampled its prompt's last
     *       token, however short: its commit then finds it with no step in flight and may repack the slots the
     *       chunks' evictions freed (KvCacheManager#commit; once overlapped decode runs, a sequence is repacked only
     *       when the batch changes). So decode overlaps from a DMS request's second token;</li>
     *   <li>a sequence whose step samples decodes the token it samples next (fed back), far from its limits;</li>
     *   <li>the step has no more tokens than the one in flight (which it may when that one's chunk was halved for
     *       the pool): a backend then needs no larger buffers while a step is pending (the CUDA backend refuses to
     *       grow its scratch under one; its sampled rows are kept at least as many as a step's sequences);</li>
     *   <li>the pool holds the worst case: for a prompt chunk its pages as the planner counts them, for a decode
     *       token a new page in every head. That bound costs nothing to compute; the exact one scans each head's
     *       window (288 heads of up to 513 entries a sequence on Qwen3-8B), which slowed 64 streams by milliseconds
     *       a step.</li>
     * </ul>
     * Both kinds keep what a step at a time gives: the planner would give each sequence the same chunk (nothing
     * waits, every running sequence is in the step, the pool holds them all; the step keeps the batch's order,
     * where the planner would put a sequence that just finished its prompt among the decodes), and a token fed
     * back is the one sampled.
     */
    private List<StepExecutor.Work> continuation(List<Sequence> batch, List<StepExecutor.Work> work) {
        long now = System.nanoTime();
        if (stopping || batch.size() != running.size() || !queue.quiet(planner.full(running.size()), now)) {
            return null;
        }
        KvCacheManager cache = executor.cache();
        int decodes = 0;
        for (int i = 0; i < batch.size(); i++) {
            Sequence sequence = batch.get(i);
            StepExecutor.Work step = work.get(i);
            GenerationRequest request = sequence.request;
            if (sequence.over(now) || request.sampling().penalized() || request.constraint() != null
                    || !cache.sequence(sequence.id).canReserveAhead()) {
                return null;
            }
            boolean evicts = sequence.policy.evicts();
            int unfedAfter = sequence.size() - sequence.fed - step.tokens().length;  // fed counts the step once read
            if (unfedAfter > 0) {
                decodes += unfedAfter == 1 ? 1 : 0;  // the planner's decode pass takes a last single token
            } else if (step.drawIndex() < 0 || (evicts && sequence.fed < sequence.promptLength())
                    || sequence.generated + 1 >= request.maxTokens() || sequence.size() + 1 >= contextLength) {
                return null;
            } else {
                decodes++;
            }
        }
        // The planner's budget: a token for each decode (and each prompt with one token left), then the prompts'
        // chunks in batch order (its order).
        int budget = Math.max(planner.stepTokens() - decodes, Math.max(1, planner.stepTokens() / 4));
        long pagesNeeded = 0;
        List<StepExecutor.Work> next = new ArrayList<>(batch.size());
        for (int i = 0; i < batch.size(); i++) {
            Sequence sequence = batch.get(i);
            GenerationRequest request = sequence.request;
            int fedAfter = sequence.fed + work.get(i).tokens().length;
            if (fedAfter < sequence.size()) {
                int unfed = sequence.size() - fedAfter;
                int length = unfed == 1 ? 1 : Math.min(unfed, budget);
                if (length == 0) {
                    return null;  // the planner would leave it out of the step
                }
                budget -= unfed == 1 ? 0 : length;
                boolean samples = fedAfter + length == sequence.size();
                // (counted from the committed tokens: right for a sequence that never evicts, whose reservation in
                // flight has taken its pages already and which frees none; for one that evicts, an upper bound: the
                // reservation in flight evicted what could go before it, and the one ahead will evict more)
                pagesNeeded += cache.pagesToStore(sequence.id, length);
                next.add(new StepExecutor.Work(sequence.id, sequence.chunkAt(fedAfter, length),
                        sequence.promptLength(), request.sampling(), sequence.seed, samples ? sequence.generated : -1,
                        null, LogitsRequest.NONE));
            } else {
                pagesNeeded += (long) cache.layers() * cache.kvHeads();
                next.add(new StepExecutor.Work(sequence.id, new int[] {SequenceStep.FED_BACK},
                        sequence.promptLength(), request.sampling(), sequence.seed, sequence.generated + 1, null,
                        LogitsRequest.NONE));
            }
        }
        int tokens = 0;
        int tokensBefore = 0;
        for (int i = 0; i < next.size(); i++) {
            tokens += next.get(i).tokens().length;
            tokensBefore += work.get(i).tokens().length;
        }
        return pagesNeeded > cache.freePages() || tokens > tokensBefore ? null : next;
    }

    /**
     * A step's output into its sequences, skipping those that ended or were cancelled while it was in flight;
     * whether every sequence of the batch still runs afterwards.
     */
    private boolean take(List<Sequence> batch, List<StepExecutor.Work> work, StepOutput output, long nanos,
            SchedulerObserver observer) {
        long ended = System.nanoTime();
        steps.incrementAndGet();
        int tokens = 0;
        for (StepExecutor.Work w : work) {
            tokens += w.tokens().length;
        }
        observer.step(batch.size(), tokens, nanos);
        boolean all = true;
        for (int i = 0; i < batch.size(); i++) {
            Sequence sequence = batch.get(i);
            if (sequence.done || sequence.cancelled()) {
                all = false;  // a cancelled sequence takes no more tokens; the loop ends it before the next plan
                continue;
            }
            sequence.fed += work.get(i).tokens().length;
            SequenceOutput out = output.get(i);
            if (out.token() >= 0) {
                emit(sequence, out.token(), out.logprobs(), ended, observer);
            }
            all &= !sequence.done && !sequence.cancelled();
        }
        return all;
    }

    /**
     * The only running sequence cannot take a single token: the pool is too small for it. Once it has
     * answered, a full cache ends it as a context limit would; before that it fails.
     */
    private void giveUp(Sequence sequence) {
        if (sequence.generated > 0) {
            finish(sequence, FinishReason.LENGTH);
        } else {
            fail(sequence, new KvCacheFullException("the KV cache cannot hold this request: its " + sequence.size()
                    + " tokens need more than the " + executor.cache().pageCount() + " pages of the pool"));
        }
    }

    /** @param now when the step that sampled the token ended: every token of a step arrives then */
    private void emit(Sequence sequence, int token, Logprobs logprobs, long now, SchedulerObserver observer) {
        sequence.append(token);
        if (sequence.request.constraint() != null) {
            sequence.request.constraint().accept(token);
        }
        generatedTokens.incrementAndGet();
        if (sequence.generated == 1) {
            observer.firstToken(now - sequence.submittedNanos);
        } else {
            // After a preemption the recomputed tokens are not emitted again, so this gap spans the recompute.
            observer.nextToken(now - sequence.lastTokenNanos);
        }
        sequence.lastTokenNanos = now;
        if (sequence.request.stopTokenIds().contains(token)) {
            finish(sequence, FinishReason.STOP);
            return;
        }
        boolean goOn;
        try {
            goOn = sequence.request.listener().onToken(token, logprobs);
        } catch (RuntimeException e) {
            log.warn("listener of {} failed; cancelling it", sequence.label(), e);
            cancelled.incrementAndGet();
            finish(sequence, FinishReason.CANCELLED);
            return;
        }
        if (!goOn) {
            finish(sequence, FinishReason.STOP);
        } else if (sequence.generated >= sequence.request.maxTokens() || sequence.size() >= contextLength) {
            finish(sequence, FinishReason.LENGTH);
        }
    }

    private void finish(Sequence sequence, FinishReason reason) {
        sequence.done = true;
        remember(sequence, reason.name());
        running.remove(sequence);
        executor.release(sequence.id);
        if (reason != FinishReason.CANCELLED) {
            completed.incrementAndGet();
        }
        complete(sequence, reason);
    }

    private void complete(Sequence sequence, FinishReason reason) {
        queue.done();
        finished.incrementAndGet(reason.ordinal());
        observer.ended(System.nanoTime() - sequence.submittedNanos);
        try {
            sequence.request.listener().onComplete(reason, new Usage(sequence.promptLength(), sequence.generated));
        } catch (RuntimeException e) {
            log.warn("listener of {} failed on completion", sequence.label(), e);
        }
    }

    private void fail(Sequence sequence, RuntimeException error) {
        sequence.done = true;
        remember(sequence, "error");
        running.remove(sequence);
        executor.release(sequence.id);
        notifyError(sequence, error);
    }

    private void notifyError(Sequence sequence, RuntimeException error) {
        queue.done();
        failed.incrementAndGet();
        observer.ended(System.nanoTime() - sequence.submittedNanos);
        try {
            sequence.request.listener().onError(error);
        } catch (RuntimeException e) {
            log.warn("listener of {} failed on error", sequence.label(), e);
        }
    }

    /** Any thread: the sequences as last published; asking keeps them published for the next 10 s. */
    RequestsView requests(boolean withPrompts) {
        watchedUntilNanos = System.nanoTime() + 10_000_000_000L;
        List<SequenceView> recentCopy;
        synchronized (recent) {
            recentCopy = List.copyOf(recent);
        }
        if (!withPrompts) {
            recentCopy = recentCopy.stream().map(SequenceView::withoutPrompt).toList();
        }
        List<SequenceView> activeCopy = withPrompts ? active : active.stream().map(SequenceView::withoutPrompt).toList();
        return new RequestsView(activeCopy, recentCopy, activeAsOfMillis);
    }

    /** Engine thread, between steps. */
    private void publish() {
        long now = System.nanoTime();
        boolean idle = running.isEmpty();
        if (!(idle && !active.isEmpty()) && (now > watchedUntilNanos || now - lastPublished < PUBLISH_NANOS)) {
            return;
        }
        lastPublished = now;
        List<SequenceView> views = new ArrayList<>();
        for (Sequence sequence : running) {
            views.add(view(sequence, sequence.unfed() > 1 || sequence.generated == 0 ? "prefill" : "decoding"));
        }
        for (Sequence sequence : queue.waitingSequences()) {
            views.add(view(sequence, sequence.admittedOnce ? "preempted" : "waiting"));
        }
        active = List.copyOf(views);
        activeAsOfMillis = System.currentTimeMillis();
    }

    /** Keeps an ended sequence's last figures (call before its pages are released). */
    private void remember(Sequence sequence, String state) {
        SequenceView view = view(sequence, state.toLowerCase(Locale.ROOT));
        synchronized (recent) {
            recent.addFirst(view);
            while (recent.size() > RECENT) {
                recent.removeLast();
            }
        }
    }

    private SequenceView view(Sequence sequence, String state) {
        long live = 0;
        int pagesHeld = 0;
        int processed = 0;
        KvCacheManager cache = executor.cache();
        if (sequence.open) {
            var kv = cache.sequence(sequence.id);
            for (int[] layer : kv.liveCounts()) {
                for (int count : layer) {
                    live += count;
                }
            }
            pagesHeld = kv.pages();
            processed = kv.processed();
        }
        long stored = (long) processed * cache.layers() * cache.kvHeads();
        return new SequenceView(sequence.id, sequence.request.requestId(), state, sequence.promptLength(),
                sequence.generated, processed, live, stored, pagesHeld, sequence.submittedAtMillis,
                sequence.request.promptTokens()); // a reference, no copy: stripped unless a reader asks for it
    }
}
