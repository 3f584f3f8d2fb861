package io.dmsserve.dms;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

/** Run-time settings of the learned policy: what the admin dashboard moves while sequences run. */
class EvictionSettingsTest {

    private static final DmsSettings DMS = new DmsSettings(16, 100.0, 5.0, 8);

    @Test
    void aRunningSequenceTakesTheNewThresholdAndSwitchButKeepsItsWindow() {
        EvictionPolicy shared = EvictionPolicies.create("dms", 0f, DMS);
        EvictionPolicy running = shared.forNewSequence();
        assertThat(running.rule()).isEqualTo(new DmsRule(true, 16, 0f, new float[0]));

        EvictionPolicies.apply(shared, new EvictionSettings(true, 1.5f, new float[] {0f, -1f}, 32));
        assertThat(running.rule()).as("threshold and offsets live, window kept")
                .isEqualTo(new DmsRule(true, 16, 1.5f, new float[] {0f, -1f}));
        assertThat(running.window()).isEqualTo(16);
        EvictionPolicy later = shared.forNewSequence();
        assertThat(later.window()).as("a sequence that starts now gets the new window").isEqualTo(32);
        assertThat(later.rule().window()).isEqualTo(32);
        assertThat(shared.window()).isEqualTo(32);

        EvictionPolicies.apply(shared, new EvictionSettings(false, 1.5f, new float[0], 32));
        DmsRule off = running.rule();
        assertThat(off.evicts()).isFalse();
        assertThat(off.flags(0, 1e30f)).as("off: nothing is flagged").isFalse();
        assertThat(off.window()).as("tokens flagged before still leave the mask when their window ends").isEqualTo(16);
        assertThat(EvictionPolicies.threshold(shared)).as("metrics read +Inf while off").isInfinite();
    }

    @Test
    void theRuleIsMadeOncePerChange() {
        EvictionPolicy shared = EvictionPolicies.create("dms", 0f, DMS);
        EvictionPolicy running = shared.forNewSequence();
        DmsRule first = running.rule();
        assertThat(running.rule()).isSameAs(first);
        EvictionPolicies.setThreshold(shared, 0.5f);
        assertThat(running.rule()).isNotSameAs(first).extracting(DmsRule::threshold).isEqualTo(0.5f);
    }

    @Test
    void settingsAreReadBackAndCheckedAndKeepAllHasNone() {
        EvictionPolicy shared = EvictionPolicies.create("dms", 0.25f, DMS);
        assertThat(EvictionPolicies.settings(shared)).isEqualTo(new EvictionSettings(true, 0.25f, null, 16));
        EvictionPolicy none = EvictionPolicies.create("none", 0f, DMS);
        assertThat(EvictionPolicies.settings(none)).isNull();
        assertThat(none.forNewSequence()).isSameAs(none);
        assertThatThrownBy(() -> EvictionPolicies.apply(none, new EvictionSettings(true, 0f, null, 16)))
                .hasMessageContaining("policy 'none' has no eviction settings");
        assertThatThrownBy(() -> new EvictionSettings(true, Float.NaN, null, 16)).hasMessageContaining("finite");
        assertThatThrownBy(() -> new EvictionSettings(true, 0f, new float[] {Float.NEGATIVE_INFINITY}, 16))
                .hasMessageContaining("offsets must be finite");
        assertThatThrownBy(() -> new EvictionSettings(true, 0f, null, 0)).hasMessageContaining("at least 1");
    }
}
