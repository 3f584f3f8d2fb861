package io.dmsserve.scheduler;

import java.util.Locale;

/** Why the scheduler refused a request at submission. */
public enum Rejection {
    /** {@code max-running + max-waiting} sequences are already held ({@link QueueFullException}). */
    QUEUE_FULL,
    /** The prompt alone fills the model's context. */
    PROMPT_TOO_LONG,
    /** Even the prompt's window can never fit in the KV pool. */
    KV_CAPACITY,
    /** The engine is not running (starting or shutting down). */
    NOT_RUNNING;

    /** Lower-case name for metrics tags. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
