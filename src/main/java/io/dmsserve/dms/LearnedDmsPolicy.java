package io.dmsserve.dms;

import io.dmsserve.engine.DmsSettings;

/** The model's learned decisions: flag when the decision logit exceeds the threshold (0 in the release). */
final class LearnedDmsPolicy implements EvictionPolicy {

    private final int window;
    private volatile float threshold;

    LearnedDmsPolicy(DmsSettings settings, float threshold) {
        this(settings.windowSize(), threshold);
    }

    private LearnedDmsPolicy(int window, float threshold) {
        this.window = window;
        this.threshold = threshold;
    }

    @Override
    public EvictionPolicy frozen() {
        return new LearnedDmsPolicy(window, threshold);
    }

    @Override
    public String name() {
        return EvictionPolicies.DMS;
    }

    @Override
    public boolean evicts() {
        return true;
    }

    @Override
    public int window() {
        return window;
    }

    @Override
    public boolean flags(float decisionLogit) {
        return decisionLogit > threshold;
    }

    float threshold() {
        return threshold;
    }

    void threshold(float threshold) {
        this.threshold = threshold;
    }

    @Override
    public String toString() {
        return "dms(window=" + window + ", threshold=" + threshold + ")";
    }
}
