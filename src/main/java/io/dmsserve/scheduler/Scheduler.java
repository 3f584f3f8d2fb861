package io.dmsserve.scheduler;

import io.dmsserve.dms.EvictionPolicy;
import io.dmsserve.engine.Backend;
import io.dmsserve.engine.StepRequest;
import io.dmsserve.engine.StepResult;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Continuous batching on one backend (DESIGN.md §2). One engine thread runs steps: each step carries one
 * decode token for every running sequence plus prefill chunks of newly admitted ones, up to a token budget
 * (prefill always gets at least a quarter of it, so new prompts start even when the batch is all decoding).
 * Admission and preemption work on the real free pages of the KV cache: before a step, the worst case of
 * pages it can take is checked against the pool, and the youngest sequences are preempted (recomputed
 * later) until it fits, so a step never runs out of pages half way.
 */
public final class Scheduler implements AutoCloseable {

    private static final Logger log = LoggerFactory.getLogger(Scheduler.class);

    private final Backend backend;
    private final SchedulerSettings settings;
    private final EvictionPolicy defaultPolicy;
    private final int contextLength;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition work = lock.newCondition();
    private final ArrayDeque<Sequence> waiting = new ArrayDeque<>(); // guarded by lock
    private final List<Sequence> running = new ArrayList<>();       // engine thread only, oldest first
    private final AtomicLong ids = new AtomicLong();
    private final Thread engine;
    private volatile boolean closed;
    private volatile int runningCount;
    private final AtomicLong steps = new AtomicLong();
    private final AtomicLong preemptions = new AtomicLong();
    private final AtomicLong completed = new AtomicLong();
    private final AtomicLong cancelledCount = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private final AtomicLong refused = new AtomicLong();
    private final AtomicLong generatedTokens = new AtomicLong();

    public Scheduler(Backend backend, SchedulerSettings settings, EvictionPolicy defaultPolicy) {
        this.backend = backend;
        this.settings = settings;
        this.defaultPolicy = defaultPolicy;
        this.contextLength = backend.config().maxPositionEmbeddings();
        this.engine = new Thread(this::loop, "dms-engine");
        engine.setDaemon(true);
        engine.start();
    }

    /** The model's context length: prompt plus generated tokens can never exceed it. */
    public int contextLength() {
        return contextLength;
    }

    /**
     * Queues a sequence; it joins the running batch at the next step that has room for it.
     *
     * @throws QueueFullException when {@code maxWaiting} requests are already waiting
     * @throws IllegalArgumentException when the prompt alone fills the context
     */
    public GenerationHandle submit(GenerationRequest request) {
        if (request.promptTokens().length >= contextLength) {
            throw new IllegalArgumentException("the prompt has " + request.promptTokens().length
                    + " tokens; the model's context is " + contextLength + " tokens");
        }
        long deadline = System.nanoTime() + (request.deadline() != null ? request.deadline() : settings.deadline())
                .toNanos();
        EvictionPolicy policy = request.policy() != null ? request.policy() : defaultPolicy;
        int minimal = backend.pagesToStore(-1, resident(request.promptTokens().length, policy));
        int pool = backend.cacheStatistics().pageCount();
        if (minimal > pool) {
            throw new IllegalArgumentException("the prompt of " + request.promptTokens().length + " tokens needs at"
                    + " least " + minimal + " KV pages, more than the " + pool + " pages of the cache");
        }
        Sequence sequence = new Sequence(ids.incrementAndGet(), request, policy, deadline, this::wake);
        lock.lock();
        try {
            if (closed) {
                throw new IllegalStateException("the scheduler is shut down");
            }
            // The queue holds maxWaiting beyond the free places of the running batch, so a queue of 0 still
            // admits a request while the batch has room.
            int places = settings.maxWaiting() + Math.max(0, settings.maxRunning() - runningCount);
            if (waiting.size() >= places) {
                refused.incrementAndGet();
                throw new QueueFullException(waiting.size());
            }
            waiting.addLast(sequence);
            work.signal();
        } finally {
            lock.unlock();
        }
        return sequence;
    }

    public SchedulerStatistics statistics() {
        int queued;
        lock.lock();
        try {
            queued = waiting.size();
        } finally {
            lock.unlock();
        }
        return new SchedulerStatistics(queued, runningCount, steps.get(), preemptions.get(), completed.get(),
                cancelledCount.get(), failed.get(), refused.get(), generatedTokens.get());
    }

    /** Whether the engine thread is running steps (false after close, or if it died). */
    public boolean engineAlive() {
        return engine.isAlive() && !closed;
    }

    /** Stops the engine loop; returns false if it had not stopped 30 s later (a step still running). */
    public boolean stop() {
        close();
        return !engine.isAlive();
    }

    @Override
    public void close() {
        lock.lock();
        try {
            closed = true;
            work.signal();
        } finally {
            lock.unlock();
        }
        try {
            engine.join(TimeUnit.SECONDS.toMillis(30));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void wake() {
        lock.lock();
        try {
            work.signal();
        } finally {
            lock.unlock();
        }
    }

    private void loop() {
        while (true) {
            List<Sequence> admitted;
            lock.lock();
            try {
                while (!closed && running.isEmpty() && waiting.isEmpty()) {
                    work.awaitUninterruptibly();
                }
                if (closed) {
                    break;
                }
                dropCancelledWaiting();
                admitted = admit();
            } finally {
                lock.unlock();
            }
            running.addAll(admitted);
            try {
                finishCancelledAndExpired();
                step();
            } catch (Throwable e) {
                // A bug, a backend failure or even an OutOfMemoryError must not kill the engine thread: fail
                // what ran, release its pages, go on.
                log.error("engine step failed; failing its {} sequences", running.size(), e);
                RuntimeException failure = e instanceof RuntimeException runtime ? runtime
                        : new IllegalStateException("the engine step failed: " + e, e);
                for (Sequence sequence : List.copyOf(running)) {
                    fail(sequence, failure);
                }
            }
            runningCount = running.size();
        }
        shutDown();
    }

    /** Under the lock: moves waiting sequences into the batch while the pool can hold their windows. */
    private List<Sequence> admit() {
        List<Sequence> admitted = new ArrayList<>();
        int free = backend.freePages() - decodeReserve();
        while (!waiting.isEmpty() && running.size() + admitted.size() < settings.maxRunning()) {
            Sequence next = waiting.peekFirst();
            // What the sequence holds at least while it runs: its window (w + 1 tokens per head) or, for a
            // policy that never evicts, everything it has so far.
            int needed = backend.pagesToStore(-1, resident(next.size(), next.policy));
            if (needed > free && !(running.isEmpty() && admitted.isEmpty())) {
                break;
            }
            waiting.pollFirst();
            admitted.add(next);
            free -= needed;
        }
        return admitted;
    }

    /**
     * Tokens a sequence of this length holds at least while it runs: its window (w + 1 tokens per head, plus
     * the one being stored) or, for a policy that never evicts, everything. Tokens it keeps beyond the window
     * are found out step by step; the check before each step covers them.
     */
    private static int resident(int tokens, EvictionPolicy policy) {
        return policy.evicts() ? (int) Math.min(tokens, policy.window() + 2L) : tokens;
    }

    private int decodeReserve() {
        int pages = 0;
        for (Sequence sequence : running) {
            if (sequence.open) {
                pages += backend.pagesToStore(sequence.id, 1);
            }
        }
        return pages;
    }

    private void dropCancelledWaiting() {
        for (Iterator<Sequence> it = waiting.iterator(); it.hasNext();) {
            Sequence sequence = it.next();
            if (sequence.cancelled()) {
                it.remove();
                cancelledCount.incrementAndGet();
                complete(sequence, FinishReason.CANCELLED);
            } else if (System.nanoTime() > sequence.deadlineNanos) {
                it.remove();
                complete(sequence, FinishReason.TIMEOUT);
            }
        }
    }

    private void finishCancelledAndExpired() {
        long now = System.nanoTime();
        for (Sequence sequence : List.copyOf(running)) {
            if (sequence.cancelled()) {
                cancelledCount.incrementAndGet();
                finish(sequence, FinishReason.CANCELLED);
            } else if (now > sequence.deadlineNanos) {
                finish(sequence, FinishReason.TIMEOUT);
            }
        }
    }

    /** Builds one step within the token budget and the free pages, runs it, samples, emits. */
    private void step() {
        if (running.isEmpty()) {
            return;
        }
        List<Sequence> batch = new ArrayList<>();
        List<StepRequest> requests = new ArrayList<>();
        int budget = settings.stepTokens();
        int free = backend.freePages();
        // Decoding sequences first, oldest first: they must never wait behind a long prompt.
        for (int i = 0; i < running.size(); i++) {
            Sequence sequence = running.get(i);
            if (sequence.open && sequence.unfed() == 1) {
                int pages = backend.pagesToStore(sequence.id, 1);
                while (pages > free && preemptYoungest(sequence, batch)) {
                    free = backend.freePages() - pagesOf(batch);
                }
                if (pages > free) {
                    break;
                }
                free -= pages;
                budget--;
                batch.add(sequence);
                requests.add(StepRequest.lastLogits(sequence.id, sequence.nextChunk(1)));
            }
        }
        // Then prefill chunks (new, or preempted and recomputed) with what is left of the budget, but at least
        // a quarter of it: with a full batch of decoders, admitted prompts must still make progress.
        budget = Math.max(budget, Math.max(1, settings.stepTokens() / 4));
        for (Sequence sequence : List.copyOf(running)) {
            if (budget <= 0) {
                break;
            }
            if (batch.contains(sequence) || !running.contains(sequence)) {
                continue;
            }
            int chunk = Math.min(sequence.unfed(), budget);
            long key = sequence.open ? sequence.id : -1;
            while (chunk > 0 && backend.pagesToStore(key, chunk) > free) {
                chunk /= 2;
            }
            if (chunk == 0) {
                continue;
            }
            if (!sequence.open) {
                backend.open(sequence.id, sequence.policy);
                sequence.open = true;
            }
            free -= backend.pagesToStore(sequence.id, chunk);
            budget -= chunk;
            batch.add(sequence);
            requests.add(StepRequest.lastLogits(sequence.id, sequence.nextChunk(chunk)));
        }
        if (batch.isEmpty()) {
            unblock();
            return;
        }
        List<StepResult> results = backend.step(requests);
        steps.incrementAndGet();
        for (int i = 0; i < batch.size(); i++) {
            Sequence sequence = batch.get(i);
            sequence.fed += requests.get(i).tokens().length;
            if (sequence.unfed() == 0) {
                emit(sequence, sequence.sampler.next(results.get(i).lastLogits()));
            }
        }
    }

    private int pagesOf(List<Sequence> batch) {
        int pages = 0;
        for (Sequence sequence : batch) {
            pages += backend.pagesToStore(sequence.id, 1);
        }
        return pages;
    }

    /**
     * No sequence could take a single token: the pool is held by sequences that cannot go on. A sequence
     * that does not fit even alone fails; otherwise the youngest gives its pages back and waits.
     */
    private void unblock() {
        Sequence youngest = running.get(running.size() - 1);
        if (running.size() > 1 && preemptYoungest(null, List.of())) {
            return;
        }
        if (youngest.generated > 0) {
            // It has answered already: the cache is full, as a context limit would be.
            finish(youngest, FinishReason.LENGTH);
        } else {
            fail(youngest, new KvCapacityException("the KV cache cannot hold this request: its " + youngest.size()
                    + " tokens need more than the " + backend.cacheStatistics().pageCount() + " pages of the pool"));
        }
    }

    /** Preempts the most recently admitted open sequence outside {@code keep} and the batch. */
    private boolean preemptYoungest(Sequence keep, List<Sequence> batch) {
        for (int i = running.size() - 1; i >= 0; i--) {
            Sequence victim = running.get(i);
            if (victim != keep && victim.open && !batch.contains(victim)) {
                running.remove(i);
                backend.release(victim.id);
                victim.resetForRecompute();
                preemptions.incrementAndGet();
                lock.lock();
                try {
                    waiting.addFirst(victim);
                } finally {
                    lock.unlock();
                }
                return true;
            }
        }
        return false;
    }

    private void emit(Sequence sequence, int token) {
        sequence.append(token);
        generatedTokens.incrementAndGet();
        if (sequence.request.stopTokenIds().contains(token)) {
            finish(sequence, FinishReason.STOP);
            return;
        }
        boolean goOn;
        try {
            goOn = sequence.request.listener().onToken(token);
        } catch (RuntimeException e) {
            log.warn("listener of sequence {} failed; cancelling it", sequence.id, e);
            cancelledCount.incrementAndGet();
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
        running.remove(sequence);
        backend.release(sequence.id);
        if (reason != FinishReason.CANCELLED) {
            completed.incrementAndGet();
        }
        complete(sequence, reason);
    }

    private void complete(Sequence sequence, FinishReason reason) {
        try {
            sequence.request.listener().onComplete(reason, new Usage(sequence.promptLength(), sequence.generated));
        } catch (RuntimeException e) {
            log.warn("listener of sequence {} failed on completion", sequence.id, e);
        }
    }

    private void fail(Sequence sequence, RuntimeException error) {
        running.remove(sequence);
        backend.release(sequence.id);
        notifyError(sequence, error);
    }

    private void notifyError(Sequence sequence, RuntimeException error) {
        failed.incrementAndGet();
        try {
            sequence.request.listener().onError(error);
        } catch (RuntimeException e) {
            log.warn("listener of sequence {} failed on error", sequence.id, e);
        }
    }

    private void shutDown() {
        IllegalStateException stopped = new IllegalStateException("the server is shutting down");
        for (Sequence sequence : List.copyOf(running)) {
            fail(sequence, stopped);
        }
        lock.lock();
        try {
            for (Sequence sequence : waiting) {
                notifyError(sequence, stopped);
            }
            waiting.clear();
        } finally {
            lock.unlock();
        }
    }
}
