package io.dmsserve.scheduler;

/**
 * Timings of the engine loop, for histograms (the metrics layer implements it; the scheduler knows no meter
 * library). Counts are not reported here: they live in the scheduler's own counters ({@link
 * Scheduler#statistics()}), which a reader polls. Called on the engine thread, so an implementation must be
 * cheap and must not block: every call sits on the path of a step.
 */
public interface SchedulerObserver {

    /** Observes nothing. */
    SchedulerObserver NONE = new SchedulerObserver() {
    };

    /** A step ran: its sequences, the tokens fed (prefill chunks and decode tokens), and its duration. */
    default void step(int sequences, int tokens, long nanos) {
    }

    /** A sequence joined the batch for the first time (not after a preemption), this long after submission. */
    default void queued(long nanos) {
    }

    /** A sequence's first generated token, this long after submission. */
    default void firstToken(long nanos) {
    }

    /** A later generated token, this long after the sequence's previous one. */
    default void nextToken(long nanos) {
    }

    /** A sequence ended, whatever the reason, this long after submission. */
    default void ended(long nanos) {
    }
}
