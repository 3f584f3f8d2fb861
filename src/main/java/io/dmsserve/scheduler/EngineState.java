package io.dmsserve.scheduler;

import java.util.Locale;

/** What the engine thread is doing. */
public enum EngineState {
    /** Not started yet, or stopped by its owner. */
    STOPPED,
    /** Running steps. */
    RUNNING,
    /** The engine thread ended without being asked to: nothing is served any more. */
    FAILED;

    /** Lower-case name for metrics tags. */
    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
