package io.dmsserve.scheduler;

import java.time.Duration;

/**
 * @param maxWaiting requests queued beyond the running batch; more are refused ({@link QueueFullException})
 * @param maxRunning sequences decoding together in one batch
 * @param stepTokens tokens in one engine step; long prompts are prefilled in chunks of what is left after
 *     the decode tokens, so they never stall the others for long
 * @param deadline default time a request may take from submission to its last token
 * @param overlap submit each step of an unchanged batch before the one before it is read (decode, the sampled
 *     tokens fed back on the backend; the next prompt chunk of sequences that never evict), so that the host
 *     prepares a step while the device runs the one before
 */
public record SchedulerSettings(int maxWaiting, int maxRunning, int stepTokens, Duration deadline, boolean overlap) {

    /** With overlapped decode steps. */
    public SchedulerSettings(int maxWaiting, int maxRunning, int stepTokens, Duration deadline) {
        this(maxWaiting, maxRunning, stepTokens, deadline, true);
    }

    public SchedulerSettings {
        if (maxWaiting < 0 || maxRunning < 1 || stepTokens < 1 || deadline == null || deadline.isNegative()) {
            throw new IllegalArgumentException("scheduler settings out of range: waiting " + maxWaiting
                    + ", running " + maxRunning + ", step tokens " + stepTokens + ", deadline " + deadline);
        }
    }
}
