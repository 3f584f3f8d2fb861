package io.dmsserve.dms;

/** The model's learned decisions: flag when the decision logit exceeds the threshold (0 in the release). */
final class LearnedDmsPolicy implements EvictionPolicy {

    private final int window;
    private volatile DmsRule rule; // replaced whole, so a step never sees half of a change

    LearnedDmsPolicy(int window, float threshold) {
        this.window = window;
        this.rule = new DmsRule(true, window, threshold, new float[0]);
    }

    @Override
    public String name() {
        return PolicyKind.DMS.label();
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
    public DmsRule rule() {
        return rule;
    }

    void threshold(float threshold, float[] layerOffsets) {
        rule = new DmsRule(true, window, threshold, layerOffsets);
    }

    @Override
    public String toString() {
        return rule.toString();
    }
}
