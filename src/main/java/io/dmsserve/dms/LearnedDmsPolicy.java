package io.dmsserve.dms;

/**
 * The model's learned decisions: flag when the decision logit exceeds the threshold (0 in the release).
 *
 * <p>The settings are one immutable {@link EvictionSettings} behind a volatile field, replaced whole, so a
 * step never sees half of a change. The server's default policy is shared; each sequence gets a {@link Pinned}
 * view from {@link #forNewSequence()} that keeps the window in force when it started and reads everything else
 * live, so a threshold moved by an admin reaches running sequences at their next step.
 */
final class LearnedDmsPolicy implements EvictionPolicy {

    private volatile Current current; // settings and the rule they make with their own window

    LearnedDmsPolicy(int window, float threshold) {
        settings(new EvictionSettings(true, threshold, new float[0], window));
    }

    @Override
    public String name() {
        return PolicyKind.DMS.label();
    }

    @Override
    public boolean evicts() {
        return true;
    }

    /** The window of sequences that start now. */
    @Override
    public int window() {
        return current.settings.window();
    }

    @Override
    public DmsRule rule() {
        return current.rule;
    }

    @Override
    public EvictionPolicy forNewSequence() {
        return new Pinned(this, window());
    }

    EvictionSettings settings() {
        return current.settings;
    }

    void settings(EvictionSettings settings) {
        current = new Current(settings, settings.rule(settings.window()));
    }

    void threshold(float threshold, float[] layerOffsets) {
        EvictionSettings now = current.settings;
        settings(new EvictionSettings(now.enabled(), threshold, layerOffsets, now.window()));
    }

    @Override
    public String toString() {
        return current.rule.toString();
    }

    private record Current(EvictionSettings settings, DmsRule rule) {
    }

    /** One sequence's view: its own window, the shared live threshold, offsets and switch. */
    private static final class Pinned implements EvictionPolicy {

        private final LearnedDmsPolicy shared;
        private final int window;
        private volatile Cached cached; // the rule made from the last settings seen: one allocation per change

        Pinned(LearnedDmsPolicy shared, int window) {
            this.shared = shared;
            this.window = window;
        }

        @Override
        public String name() {
            return shared.name();
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
            EvictionSettings settings = shared.settings();
            Cached c = cached;
            if (c == null || c.settings != settings) {
                c = new Cached(settings, settings.rule(window));
                cached = c;
            }
            return c.rule;
        }

        @Override
        public String toString() {
            return rule().toString();
        }

        private record Cached(EvictionSettings settings, DmsRule rule) {
        }
    }
}
