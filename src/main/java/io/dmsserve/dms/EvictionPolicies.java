package io.dmsserve.dms;

import io.dmsserve.engine.ModelConfig;
import java.util.List;
import java.util.Locale;

/** Creates eviction policies by name and adjusts their thresholds. The entry point of this package. */
public final class EvictionPolicies {

    public static final String DMS = "dms";
    public static final String NONE = "none";
    /** {@code dms} for a DMS checkpoint, {@code none} for a plain one. */
    public static final String AUTO = "auto";
    public static final List<String> NAMES = List.of(AUTO, DMS, NONE);

    private EvictionPolicies() {
    }

    /**
     * @throws IllegalArgumentException naming the problem: unknown policy, or {@code dms} for a model that
     *     has no decision channel (config.json without dms_window_size)
     */
    public static EvictionPolicy create(String name, float threshold, ModelConfig config) {
        String key = name == null ? AUTO : name.trim().toLowerCase(Locale.ROOT);
        if (key.equals(AUTO)) {
            key = config.isDms() ? DMS : NONE;
        }
        switch (key) {
            case NONE:
                return KeepAllPolicy.INSTANCE;
            case DMS:
                if (!config.isDms()) {
                    throw new IllegalArgumentException("eviction policy 'dms' needs a DMS checkpoint, but config.json"
                            + " has no dms_window_size; use policy 'none' for this model");
                }
                if (Float.isNaN(threshold) || Float.isInfinite(threshold)) {
                    throw new IllegalArgumentException("DMS threshold must be a finite number, got " + threshold);
                }
                return new LearnedDmsPolicy(config.dms(), threshold);
            default:
                throw new IllegalArgumentException("unknown eviction policy '" + name + "'; known: " + NAMES);
        }
    }

    /** Moves the threshold of a learned DMS policy; running sequences see it at their next decision. */
    public static void setThreshold(EvictionPolicy policy, float threshold) {
        if (!(policy instanceof LearnedDmsPolicy)) {
            throw new IllegalArgumentException("policy '" + policy.name() + "' has no threshold");
        }
        if (Float.isNaN(threshold) || Float.isInfinite(threshold)) {
            throw new IllegalArgumentException("DMS threshold must be a finite number, got " + threshold);
        }
        ((LearnedDmsPolicy) policy).threshold(threshold);
    }

    /** The current threshold of a learned DMS policy, or NaN for a policy without one. */
    public static float threshold(EvictionPolicy policy) {
        return policy instanceof LearnedDmsPolicy ? ((LearnedDmsPolicy) policy).threshold() : Float.NaN;
    }
}
