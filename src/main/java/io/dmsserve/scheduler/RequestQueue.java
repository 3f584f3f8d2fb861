package io.dmsserve.scheduler;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The waiting sequences and the bound on how many the scheduler holds: at most {@code maxRunning +
 * maxWaiting} sequences are admitted and not yet done, counted under the lock when they are submitted,
 * so a request's n choices are taken all or none whatever the engine is doing.
 */
final class RequestQueue {

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition work = lock.newCondition();
    private final ArrayDeque<Sequence> waiting = new ArrayDeque<>(); // guarded by lock
    private int capacity;     // maxRunning + maxWaiting; guarded by lock (an admin may change it)
    private final ArrayDeque<EngineTask<?>> tasks = new ArrayDeque<>(); // for the engine thread; guarded by lock
    private int admitted;     // submitted and not done; guarded by lock
    private long refused;     // guarded by lock
    private boolean closed = true; // until the engine starts; guarded by lock

    RequestQueue(int maxRunning, int maxWaiting) {
        this.capacity = maxRunning + maxWaiting;
    }

    /**
     * New limits for submissions from now on. Sequences already admitted stay: a lower bound only refuses more
     * until enough of them are done.
     */
    void capacity(int maxRunning, int maxWaiting) {
        lock.lock();
        try {
            capacity = maxRunning + maxWaiting;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Work for the engine thread between two steps (it owns the executor).
     *
     * @throws IllegalStateException when the engine is not running
     */
    void task(EngineTask<?> task) {
        lock.lock();
        try {
            if (closed) {
                throw new IllegalStateException("the engine is not running");
            }
            tasks.addLast(task);
            work.signal();
        } finally {
            lock.unlock();
        }
    }

    /** Engine thread: the tasks queued so far, removed. */
    List<EngineTask<?>> takeTasks() {
        lock.lock();
        try {
            if (tasks.isEmpty()) {
                return List.of();
            }
            List<EngineTask<?>> out = new ArrayList<>(tasks);
            tasks.clear();
            return out;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Queues every sequence or none.
     *
     * @throws QueueFullException when they do not all fit
     * @throws IllegalStateException after {@link #close()}
     */
    void offer(List<Sequence> sequences) {
        lock.lock();
        try {
            if (closed) {
                throw new IllegalStateException("the engine is not running");
            }
            if (admitted + sequences.size() > capacity) {
                refused++;
                throw new QueueFullException(waiting.size());
            }
            waiting.addAll(sequences);
            admitted += sequences.size();
            work.signal();
        } finally {
            lock.unlock();
        }
    }

    /** A sequence is done (completed, cancelled or failed): its place is free. */
    void done() {
        lock.lock();
        try {
            admitted--;
        } finally {
            lock.unlock();
        }
    }

    void wake() {
        lock.lock();
        try {
            work.signal();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Engine thread: whether the next step needs no planning from the queue's side: it is open, no task waits, and
     * no sequence waits, or none could join ({@code batchFull}) and none of them was cancelled or expired (those end
     * in the next plan).
     */
    boolean quiet(boolean batchFull, long now) {
        lock.lock();
        try {
            if (closed || !tasks.isEmpty()) {
                return false;
            }
            if (waiting.isEmpty()) {
                return true;
            }
            if (!batchFull) {
                return false;
            }
            for (Sequence sequence : waiting) {
                if (sequence.over(now)) {
                    return false;
                }
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** Engine thread: blocks until there is something to do; false once closed. */
    boolean awaitWork(boolean running) {
        lock.lock();
        try {
            while (!closed && !running && waiting.isEmpty() && tasks.isEmpty()) {
                work.awaitUninterruptibly();
            }
            return !closed;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Engine thread: removes cancelled and expired waiting sequences into {@code ended}, and returns the
     * others in queue order. Only the engine thread removes from the head, so they stay in front until then.
     */
    List<Sequence> snapshot(long now, List<Sequence> ended) {
        lock.lock();
        try {
            for (Iterator<Sequence> it = waiting.iterator(); it.hasNext();) {
                Sequence sequence = it.next();
                if (sequence.over(now)) {
                    it.remove();
                    ended.add(sequence);
                }
            }
            return new ArrayList<>(waiting);
        } finally {
            lock.unlock();
        }
    }

    /** Engine thread: the first {@code count} waiting sequences joined the batch. */
    void removeFirst(int count) {
        lock.lock();
        try {
            for (int i = 0; i < count; i++) {
                waiting.removeFirst();
            }
        } finally {
            lock.unlock();
        }
    }

    /** Engine thread: a preempted sequence waits again, ahead of everyone. */
    void pushFront(Sequence sequence) {
        lock.lock();
        try {
            waiting.addFirst(sequence);
        } finally {
            lock.unlock();
        }
    }

    int waiting() {
        lock.lock();
        try {
            return waiting.size();
        } finally {
            lock.unlock();
        }
    }

    /** The waiting sequences in queue order, a copy. */
    List<Sequence> waitingSequences() {
        lock.lock();
        try {
            return new ArrayList<>(waiting);
        } finally {
            lock.unlock();
        }
    }

    long refused() {
        lock.lock();
        try {
            return refused;
        } finally {
            lock.unlock();
        }
    }

    /** Takes sequences from now on (the engine thread is starting). */
    void open() {
        lock.lock();
        try {
            closed = false;
        } finally {
            lock.unlock();
        }
    }

    /** Refuses new sequences from now on and wakes the engine thread so it can stop. */
    void close() {
        lock.lock();
        try {
            closed = true;
            work.signal();
        } finally {
            lock.unlock();
        }
    }

    /** Removes and returns every waiting sequence. */
    List<Sequence> drain() {
        lock.lock();
        try {
            List<Sequence> left = new ArrayList<>(waiting);
            waiting.clear();
            return left;
        } finally {
            lock.unlock();
        }
    }
}
