package io.dmsserve.engine;

/**
 * A step a backend has queued but whose output has not been read: the host may prepare and submit the next step
 * while the device runs this one ({@link Backend#submit}).
 */
@FunctionalInterface
public interface PendingStep {

    /** Waits for the step and reads its output; called once, in the order the steps were submitted. */
    StepOutput await();
}
