package io.dmsserve.dms;

/** Keeps every token. A DMS model still has its decision channel zeroed by the engine. */
final class KeepAllPolicy implements EvictionPolicy {

    static final KeepAllPolicy INSTANCE = new KeepAllPolicy();

    @Override
    public String name() {
        return EvictionPolicies.NONE;
    }

    @Override
    public boolean evicts() {
        return false;
    }

    @Override
    public int window() {
        return Integer.MAX_VALUE;
    }

    @Override
    public boolean flags(float decisionLogit) {
        return false;
    }

    @Override
    public String toString() {
        return "none";
    }
}
