package io.dmsserve.dms;

/** Keeps every token. A DMS model still has its decision channel zeroed by the engine. */
final class KeepAllPolicy implements EvictionPolicy {

    static final KeepAllPolicy INSTANCE = new KeepAllPolicy();

    @Override
    public String name() {
        return PolicyKind.NONE.label();
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
    public DmsRule rule() {
        return DmsRule.KEEP_ALL;
    }

    @Override
    public String toString() {
        return "none";
    }
}
