package io.dmsserve.scheduler;

/**
 * Counters of the scheduler, readable from any thread while it runs.
 *
 * @param refused requests refused because the queue was full (also counted in {@code rejected})
 * @param rejected (reason) requests refused at submission, by {@link Rejection} ordinal
 * @param finished (reason) sequences ended, by {@link FinishReason} ordinal
 * @param promptTokens prompt tokens of the sequences admitted (a preempted sequence counts once)
 * @param failedSteps engine steps that threw (their sequences failed)
 */
public record SchedulerStatistics(int waiting, int running, long steps, long preemptions, long completed,
        long cancelled, long failed, long refused, long generatedTokens, long[] rejected, long[] finished,
        long promptTokens, long failedSteps) {

    public long rejected(Rejection reason) {
        return rejected[reason.ordinal()];
    }

    public long finished(FinishReason reason) {
        return finished[reason.ordinal()];
    }
}
