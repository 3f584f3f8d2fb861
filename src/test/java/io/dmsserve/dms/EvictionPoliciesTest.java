package io.dmsserve.dms;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dmsserve.engine.DmsSettings;
import io.dmsserve.engine.ModelConfig;
import org.junit.jupiter.api.Test;

class EvictionPoliciesTest {

    private static ModelConfig config(DmsSettings dms) {
        return new ModelConfig(ModelConfig.QWEN3, 64, 160, 3, 4, 2, 32, 512, 10000, 1e-6, false, 4096, dms);
    }

    private static final ModelConfig DMS = config(new DmsSettings(16, 100.0, 5.0, 8));
    private static final ModelConfig PLAIN = config(null);

    @Test
    void autoPicksTheLearnedPolicyForADmsCheckpointOnly() {
        EvictionPolicy dms = EvictionPolicies.create("auto", 0f, DMS);
        assertThat(dms.name()).isEqualTo("dms");
        assertThat(dms.evicts()).isTrue();
        assertThat(dms.window()).isEqualTo(16);
        EvictionPolicy plain = EvictionPolicies.create(null, 0f, PLAIN);
        assertThat(plain.name()).isEqualTo("none");
        assertThat(plain.evicts()).isFalse();
        assertThat(plain.flags(1e9f)).isFalse();
    }

    @Test
    void flagsStrictlyAboveTheThresholdWhichMovesLive() {
        EvictionPolicy policy = EvictionPolicies.create(" DMS ", 0f, DMS);
        assertThat(policy.flags(0f)).isFalse();
        assertThat(policy.flags(Math.ulp(0f))).isTrue();
        EvictionPolicy frozen = policy.frozen();
        EvictionPolicies.setThreshold(policy, 2.5f);
        assertThat(EvictionPolicies.threshold(policy)).isEqualTo(2.5f);
        assertThat(policy.flags(2.5f)).isFalse();
        assertThat(policy.flags(2.6f)).isTrue();
        assertThat(frozen.flags(1f)).as("a step keeps the threshold it started with").isTrue();
    }

    @Test
    void mistakesAreExplained() {
        assertThatThrownBy(() -> EvictionPolicies.create("dms", 0f, PLAIN)).hasMessageContaining("needs a DMS checkpoint");
        assertThatThrownBy(() -> EvictionPolicies.create("h2o", 0f, DMS)).hasMessageContaining("unknown eviction policy 'h2o'");
        assertThatThrownBy(() -> EvictionPolicies.create("dms", Float.NaN, DMS)).hasMessageContaining("finite");
        assertThatThrownBy(() -> EvictionPolicies.setThreshold(EvictionPolicies.create("none", 0f, DMS), 1f))
                .hasMessageContaining("has no threshold");
    }

    @Test
    void visibilityFollowsTheDesignRules() {
        // w = 2, token 0 flagged: visible to queries 0..2, gone from 3 on (DESIGN.md §3 worked example)
        assertThat(DmsRules.visible(2, 0, true, 2)).isTrue();
        assertThat(DmsRules.visible(3, 0, true, 2)).isFalse();
        assertThat(DmsRules.visible(3, 0, false, 2)).isTrue();
        assertThat(DmsRules.visible(0, 1, false, 2)).as("no future keys").isFalse();
        assertThat(DmsRules.lastEvictable(4, 2)).isEqualTo(0);
        assertThat(DmsRules.lastEvictable(4, Integer.MAX_VALUE)).isEqualTo(-1);
        assertThat(DmsRules.decisionLogit(0.06f, 100, 5)).isCloseTo(1f, org.assertj.core.data.Offset.offset(1e-5f));
    }
}
