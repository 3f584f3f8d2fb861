package io.dmsserve.dms;

/**
 * Decides which tokens a KV head may forget. A sequence keeps the policy it was opened with; a policy's
 * threshold may change while it runs (admins tune it live), and takes effect at the next decision.
 */
public interface EvictionPolicy {

    /** Stable name used in configuration, the CLI and metrics tags ({@code dms}, {@code none}). */
    String name();

    /** Whether this policy ever evicts; when false the cache need not track the window at all. */
    boolean evicts();

    /** Delayed-eviction window w: a flagged token stays visible to the next w queries. */
    int window();

    /** Whether a decision with this logit flags the previous token. */
    boolean flags(float decisionLogit);

    /**
     * This policy with its current settings fixed, for one engine step: a threshold moved by an admin
     * mid-step then applies from the next step on, never to half of a step's heads.
     */
    default EvictionPolicy frozen() {
        return this;
    }
}
