package io.dmsserve.scheduler;

/** Counters of the scheduler, readable from any thread while it runs. */
public record SchedulerStatistics(int waiting, int running, long steps, long preemptions, long completed,
        long cancelled, long failed, long refused, long generatedTokens) {
}
