package io.dmsserve.scheduler;

import io.dmsserve.dms.EvictionPolicy;
import io.dmsserve.kvcache.CacheStatistics;
import io.dmsserve.kvcache.KvCacheFullException;
import io.dmsserve.sampling.Draws;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Continuous batching on one backend (DESIGN.md §2): the facade the API talks to. Requests are checked
 * and queued here ({@link RequestQueue}); one engine thread ({@link EngineLoop}) runs the steps the
 * {@link StepPlanner} plans, through a {@link StepExecutor}. Started and stopped by its owner (a Spring
 * {@code SmartLifecycle} in the service).
 */
public final class Scheduler implements AutoCloseable {

    private final StepExecutor executor;
    private final SchedulerSettings settings;
    private final EvictionPolicy defaultPolicy;
    private final int contextLength;
    private final RequestQueue queue;
    private final EngineLoop loop;
    private final StepPlanner planner;
    private volatile int maxRunning;
    private volatile int maxWaiting;
    private final AtomicLong ids = new AtomicLong();
    private final AtomicLong seeds = new AtomicLong(System.nanoTime());
    private final AtomicLongArray rejected = new AtomicLongArray(Rejection.values().length); // (reason)

    public Scheduler(StepExecutor executor, SchedulerSettings settings, EvictionPolicy defaultPolicy) {
        if (settings.maxRunning() > executor.cache().rows()) {
            throw new IllegalArgumentException("the scheduler runs " + settings.maxRunning()
                    + " sequences at once but the KV cache has page tables for " + executor.cache().rows());
        }
        this.executor = executor;
        this.settings = settings;
        this.defaultPolicy = defaultPolicy;
        this.contextLength = executor.backend().config().maxPositionEmbeddings();
        this.queue = new RequestQueue(settings.maxRunning(), settings.maxWaiting());
        this.planner = new StepPlanner(settings.maxRunning(), settings.stepTokens());
        this.loop = new EngineLoop(executor, queue, planner, contextLength, settings.overlap());
        this.maxRunning = settings.maxRunning();
        this.maxWaiting = settings.maxWaiting();
    }

    /** Starts the engine thread. */
    public Scheduler start() {
        loop.start();
        return this;
    }

    /** The model's context length: prompt plus generated tokens can never exceed it. */
    public int contextLength() {
        return contextLength;
    }

    /**
     * Queues a sequence; it joins the running batch at the next step that has room for it.
     *
     * @throws QueueFullException when the scheduler already holds {@code maxRunning + maxWaiting} sequences
     * @throws IllegalArgumentException when the prompt alone fills the context
     * @throws KvCacheFullException when even the prompt's window can never fit in the pool
     */
    public GenerationHandle submit(GenerationRequest request) {
        return submitAll(List.of(request)).get(0);
    }

    /** Queues every request or none (the n choices of one API request). */
    public List<GenerationHandle> submitAll(List<GenerationRequest> requests) {
        long deadlineBase = System.nanoTime();
        List<Sequence> sequences = new ArrayList<>(requests.size());
        try {
            for (GenerationRequest request : requests) {
                sequences.add(check(request, deadlineBase));
            }
            queue.offer(sequences);
        } catch (QueueFullException e) {
            throw reject(Rejection.QUEUE_FULL, e);
        } catch (KvCacheFullException e) {
            throw reject(Rejection.KV_CAPACITY, e);
        } catch (IllegalArgumentException e) {
            throw reject(Rejection.PROMPT_TOO_LONG, e);
        } catch (IllegalStateException e) {
            throw reject(Rejection.NOT_RUNNING, e);
        }
        return List.copyOf(sequences);
    }

    /** Counts a refused request (once, whatever its n) and passes the exception on. */
    private RuntimeException reject(Rejection reason, RuntimeException e) {
        rejected.incrementAndGet(reason.ordinal());
        return e;
    }

    private Sequence check(GenerationRequest request, long now) {
        if (request.promptTokens().length >= contextLength) {
            throw new IllegalArgumentException("the prompt has " + request.promptTokens().length
                    + " tokens; the model's context is " + contextLength + " tokens");
        }
        // Pinned now: the window in force at submission is the sequence's for its whole life.
        EvictionPolicy policy = (request.policy() != null ? request.policy() : defaultPolicy).forNewSequence();
        long deadline = now + (request.deadline() != null ? request.deadline() : settings.deadline()).toNanos();
        long seed = request.sampling().seed() != null ? request.sampling().seed() : Draws.mix(seeds.incrementAndGet());
        Sequence sequence = new Sequence(ids.incrementAndGet(), request, policy, seed, now, deadline, queue::wake);
        int minimal = executor.cache().pagesForNewSequence(sequence.residentTokens());
        int pool = executor.cache().pageCount();
        if (minimal > pool) {
            throw new KvCacheFullException("the prompt of " + request.promptTokens().length + " tokens needs at least "
                    + minimal + " KV pages, more than the " + pool + " pages of the cache");
        }
        return sequence;
    }

    public SchedulerStatistics statistics() {
        long[] rejections = new long[rejected.length()];
        for (int i = 0; i < rejections.length; i++) {
            rejections[i] = rejected.get(i);
        }
        long[] finished = new long[loop.finished.length()];
        for (int i = 0; i < finished.length; i++) {
            finished[i] = loop.finished.get(i);
        }
        return new SchedulerStatistics(queue.waiting(), loop.runningCount, loop.steps.get(), loop.preemptions.get(),
                loop.completed.get(), loop.cancelled.get(), loop.failed.get(), queue.refused(),
                loop.generatedTokens.get(), rejections, finished, loop.promptTokens.get(), loop.failedSteps.get());
    }

    /** Where the engine loop reports its timings; {@link SchedulerObserver#NONE} to observe nothing. */
    public void observe(SchedulerObserver observer) {
        loop.observer = observer == null ? SchedulerObserver.NONE : observer;
    }

    public EngineState engineState() {
        return loop.state();
    }

    /** Sequences decoding together at most, now. */
    public int maxRunning() {
        return maxRunning;
    }

    /** Sequences queued beyond the batch at most, now. */
    public int maxWaiting() {
        return maxWaiting;
    }

    /** The most sequences the batch can ever hold: the page-table rows the KV cache was built with. */
    public int maxRunningCeiling() {
        return executor.cache().rows();
    }

    /**
     * New batch and queue limits, from the next step (batch) and the next submission (queue). Lowering them
     * preempts and refuses nothing already admitted: the batch and the queue shrink as sequences end.
     *
     * @throws IllegalArgumentException when {@code maxRunning} is not within 1 and {@link #maxRunningCeiling()},
     *     or {@code maxWaiting} is negative
     */
    public synchronized void limits(int maxRunning, int maxWaiting) {
        if (maxRunning < 1 || maxRunning > maxRunningCeiling()) {
            throw new IllegalArgumentException("running sequences must be between 1 and " + maxRunningCeiling()
                    + " (the KV cache's page-table rows, set by dms.scheduler.max-running at start), got " + maxRunning);
        }
        if (maxWaiting < 0) {
            throw new IllegalArgumentException("queued sequences must not be negative, got " + maxWaiting);
        }
        queue.capacity(maxRunning, maxWaiting);
        planner.maxRunning(maxRunning);
        this.maxRunning = maxRunning;
        this.maxWaiting = maxWaiting;
    }

    /**
     * Running and waiting sequences and the last ones that ended, with their own KV figures. Asking keeps the
     * engine publishing them (a few times a second) for the next 10 s; nobody asking costs the engine nothing.
     *
     * @param withPrompts include the prompts' token ids (the dashboard shows text only when an admin opted in)
     */
    public RequestsView requests(boolean withPrompts) {
        return loop.requests(withPrompts);
    }

    /**
     * Runs a prompt on the engine thread between two steps, outside the batch, and reports which tokens each
     * KV head kept or forgot and every decision logit (the admin's retention view). It holds a page-table row
     * and pages while it runs, and the batch waits for it: keep it short.
     *
     * @return completes with the trace, or exceptionally (KV cache full, no free row, engine stopped)
     */
    public CompletableFuture<RetentionTrace> retention(int[] prompt, int maxNewTokens) {
        EvictionPolicy policy = defaultPolicy.forNewSequence();
        EngineTask<RetentionTrace> task = new EngineTask<>(
                executor -> RetentionTrace.run(executor, policy, prompt, maxNewTokens), executor);
        try {
            queue.task(task);
        } catch (IllegalStateException e) {
            task.abandon(e);
        }
        return task.future;
    }

    /** The default eviction policy of requests that name none. */
    public EvictionPolicy defaultPolicy() {
        return defaultPolicy;
    }

    /** The KV cache's bookkeeping, readable from any thread. */
    public CacheStatistics cacheStatistics() {
        return executor.statistics();
    }

    /** Whether the engine thread is running steps (false before start, after stop, or if it died). */
    public boolean engineAlive() {
        return loop.alive();
    }

    /** Stops the engine loop; returns false if it had not stopped 30 s later (a step still running). */
    public boolean stop() {
        return loop.stop(30, TimeUnit.SECONDS);
    }

    @Override
    public void close() {
        stop();
    }
}
