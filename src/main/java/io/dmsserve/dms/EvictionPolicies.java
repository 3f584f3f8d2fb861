package io.dmsserve.dms;

/** Creates eviction policies and adjusts their thresholds. The entry point of this package. */
public final class EvictionPolicies {

    private EvictionPolicies() {
    }

    /**
     * @param dms the checkpoint's DMS settings, null for a model without a decision channel
     * @throws IllegalArgumentException naming the problem: {@code dms} for a model that has no decision
     *     channel (config.json without dms_window_size), or a threshold that is not a finite number
     */
    public static EvictionPolicy create(PolicyKind kind, float threshold, DmsSettings dms) {
        switch ((kind == null ? PolicyKind.AUTO : kind).resolve(dms != null)) {
            case DMS:
                if (dms == null) {
                    throw new IllegalArgumentException("eviction policy 'dms' needs a DMS checkpoint, but config.json"
                            + " has no dms_window_size; use policy 'none' for this model");
                }
                checkFinite(threshold);
                return new LearnedDmsPolicy(dms.windowSize(), threshold);
            default:
                return KeepAllPolicy.INSTANCE;
        }
    }

    /** {@link #create(PolicyKind, float, DmsSettings)} with the policy given by name. */
    public static EvictionPolicy create(String name, float threshold, DmsSettings dms) {
        return create(PolicyKind.parse(name), threshold, dms);
    }

    /**
     * Moves the threshold (and the per-layer offsets, empty for none) of a learned DMS policy; running
     * sequences see it from their next step.
     */
    public static void setThreshold(EvictionPolicy policy, float threshold, float... layerOffsets) {
        if (!(policy instanceof LearnedDmsPolicy learned)) {
            throw new IllegalArgumentException("policy '" + policy.name() + "' has no threshold");
        }
        checkFinite(threshold);
        learned.threshold(threshold, layerOffsets);
    }

    /**
     * The run-time settings of a learned DMS policy, or null for a policy that has none (keep all).
     */
    public static EvictionSettings settings(EvictionPolicy policy) {
        return policy instanceof LearnedDmsPolicy learned ? learned.settings() : null;
    }

    /**
     * Replaces the run-time settings of a learned DMS policy at once: running sequences take the switch,
     * threshold and offsets at their next step; the window applies to sequences that start from now on.
     *
     * @throws IllegalArgumentException for a policy without settings
     */
    public static void apply(EvictionPolicy policy, EvictionSettings settings) {
        if (!(policy instanceof LearnedDmsPolicy learned)) {
            throw new IllegalArgumentException("policy '" + policy.name() + "' has no eviction settings");
        }
        learned.settings(settings);
    }

    /** The current threshold of a learned DMS policy, or NaN for a policy without one. */
    public static float threshold(EvictionPolicy policy) {
        return policy.evicts() ? policy.rule().threshold() : Float.NaN;
    }

    private static void checkFinite(float threshold) {
        if (!Float.isFinite(threshold)) {
            throw new IllegalArgumentException("DMS threshold must be a finite number, got " + threshold);
        }
    }
}
