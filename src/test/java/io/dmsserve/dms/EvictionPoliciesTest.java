package io.dmsserve.dms;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class EvictionPoliciesTest {

    private static final DmsSettings DMS = new DmsSettings(16, 100.0, 5.0, 8);

    @Test
    void autoPicksTheLearnedPolicyForADmsCheckpointOnly() {
        EvictionPolicy dms = EvictionPolicies.create("auto", 0f, DMS);
        assertThat(dms.name()).isEqualTo("dms");
        assertThat(dms.evicts()).isTrue();
        assertThat(dms.window()).isEqualTo(16);
        assertThat(dms.rule()).isEqualTo(new DmsRule(true, 16, 0f, new float[0]));
        EvictionPolicy plain = EvictionPolicies.create((String) null, 0f, null);
        assertThat(plain.name()).isEqualTo("none");
        assertThat(plain.evicts()).isFalse();
        assertThat(plain.rule()).isSameAs(DmsRule.KEEP_ALL);
        assertThat(plain.rule().flags(0, 1e30f)).isFalse();
    }

    @Test
    void flagsStrictlyAboveTheThresholdWhichMovesLiveForTheNextRuleOnly() {
        EvictionPolicy policy = EvictionPolicies.create(" DMS ", 0f, DMS);
        DmsRule step = policy.rule();
        assertThat(step.flags(0, 0f)).isFalse();
        assertThat(step.flags(0, Math.ulp(0f))).isTrue();
        EvictionPolicies.setThreshold(policy, 2.5f);
        assertThat(EvictionPolicies.threshold(policy)).isEqualTo(2.5f);
        assertThat(policy.rule().flags(0, 2.5f)).isFalse();
        assertThat(policy.rule().flags(0, 2.6f)).isTrue();
        assertThat(step.flags(0, 1f)).as("a step keeps the rule it started with").isTrue();
    }

    @Test
    void layerOffsetsMoveEachLayersThreshold() {
        EvictionPolicy policy = EvictionPolicies.create("dms", 1f, DMS);
        EvictionPolicies.setThreshold(policy, 1f, 0f, -2f, 3f);
        DmsRule rule = policy.rule();
        assertThat(rule.threshold(0)).isEqualTo(1f);
        assertThat(rule.threshold(1)).isEqualTo(-1f);
        assertThat(rule.threshold(2)).isEqualTo(4f);
        assertThat(rule.threshold(7)).as("layers beyond the offsets have none").isEqualTo(1f);
        assertThat(rule.flags(1, -0.5f)).isTrue();
        assertThat(rule.flags(2, 3.5f)).isFalse();
    }

    @Test
    void mistakesAreExplained() {
        assertThatThrownBy(() -> EvictionPolicies.create("dms", 0f, null)).hasMessageContaining("needs a DMS checkpoint");
        assertThatThrownBy(() -> EvictionPolicies.create("h2o", 0f, DMS)).hasMessageContaining("unknown eviction policy 'h2o'");
        assertThatThrownBy(() -> EvictionPolicies.create("dms", Float.NaN, DMS)).hasMessageContaining("finite");
        assertThatThrownBy(() -> EvictionPolicies.setThreshold(EvictionPolicies.create("none", 0f, DMS), 1f))
                .hasMessageContaining("has no threshold");
        assertThatThrownBy(() -> EvictionPolicies.setThreshold(EvictionPolicies.create("dms", 0f, DMS), 1f,
                Float.POSITIVE_INFINITY)).hasMessageContaining("layer offsets must be finite");
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

    @Test
    void decisionsReadTheirSliceOfAStep() {
        // Two sequences of 2 and 3 tokens, 2 layers, 2 heads: the second's token 1, layer 1, head 0 flagged.
        byte[] flags = new byte[5 * 2 * 2];
        flags[((2 + 1) * 2 + 1) * 2] = 1;
        Decisions second = new Decisions(3, 2, 2, flags, 2);
        assertThat(second.flagged(1, 1, 0)).isTrue();
        assertThat(second.flagged(1, 1, 1)).isFalse();
        assertThat(second.flaggedPositions(10, 1, 0)).containsExactly(10);
        assertThat(new Decisions(2, 2, 2, flags, 0).flaggedPositions(0, 1, 0)).isEmpty();
        assertThatThrownBy(() -> new Decisions(4, 2, 2, flags, 2)).hasMessageContaining("do not fit");
    }
}
