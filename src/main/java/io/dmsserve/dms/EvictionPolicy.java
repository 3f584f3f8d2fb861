package io.dmsserve.dms;

/**
 * Decides which tokens a KV head may forget. A sequence keeps the policy it was opened with, and with it
 * its window; a policy's threshold may change while it runs (admins tune it live): each engine step takes
 * a {@link #rule()} snapshot and ships it to the backend as data.
 */
public interface EvictionPolicy {

    /** Stable name used in configuration, the CLI and metrics tags ({@code dms}, {@code none}). */
    String name();

    /** Whether this policy ever evicts; when false the cache need not track the window at all. */
    boolean evicts();

    /** Delayed-eviction window w: a flagged token stays visible to the next w queries. */
    int window();

    /** The rule in force now, for one step. */
    DmsRule rule();

    /**
     * The policy a sequence starting now follows: the same live threshold, but the window in force now for its
     * whole life (its cache was laid out for that window). A policy without run-time settings returns itself.
     */
    default EvictionPolicy forNewSequence() {
        return this;
    }
}
