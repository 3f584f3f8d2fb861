package io.dmsserve.kvcache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dmsserve.dms.Decisions;
import io.dmsserve.dms.DmsSettings;
import io.dmsserve.dms.EvictionPolicies;
import io.dmsserve.dms.EvictionPolicy;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * A step reserved behind the one in flight, before that one's decisions are committed (the engine's overlapped
 * decode steps): the slots, live counts and evictions must be those of reserving each step after the previous
 * commit, because the flags the new step's evictions read were committed steps earlier (DESIGN.md §3, window w ≥
 * the step in flight + 1).
 */
class ReserveAheadTest {

    private static final int LAYERS = 3;
    private static final int KV_HEADS = 2;
    private static final int PAGE_SIZE = 4;
    private static final int MAX_PAGES = 64;

    @Test
    void decodeStepsReservedAheadTakeTheSlotsOfStepsReservedInTurn() {
        for (int window : new int[] {2, 3, 7}) {
            EvictionPolicy policy = EvictionPolicies.create("dms", 0f, new DmsSettings(window, 100, 5, 8));
            KvCacheManager inTurn = new KvCacheManager(LAYERS, KV_HEADS, PAGE_SIZE, 4096, 4, MAX_PAGES);
            KvCacheManager ahead = new KvCacheManager(LAYERS, KV_HEADS, PAGE_SIZE, 4096, 4, MAX_PAGES);
            inTurn.open(1, policy);
            ahead.open(1, policy);
            SplittableRandom random = new SplittableRandom(window);
            int prompt = Math.max(1, window - 1);  // the longest prompt chunk a step may be reserved behind
            Decisions[] decisions = new Decisions[80];
            for (int step = 0; step < decisions.length; step++) {
                int length = step == 0 ? prompt : 1;
                byte[] flags = new byte[length * LAYERS * KV_HEADS];
                for (int i = 0; i < flags.length; i++) {
                    flags[i] = (byte) (random.nextInt(10) < 7 ? 1 : 0);
                }
                decisions[step] = new Decisions(length, LAYERS, KV_HEADS, flags, 0);
            }
            SlotReservation pending = ahead.reserve(1, prompt);
            for (int step = 0; step < decisions.length; step++) {
                SlotReservation expected = inTurn.reserve(1, decisions[step].length());
                assertThat(pending.first()).isEqualTo(expected.first());
                assertThat(pending.slots()).as("window %d, step %d", window, step).containsExactly(expected.slots());
                assertThat(pending.previousSlots()).containsExactly(expected.previousSlots());
                // Both hold the steps before committed and this one reserved.
                SequenceKv sequence = ahead.sequence(1);
                assertThat(sequence.liveCounts()).isDeepEqualTo(inTurn.sequence(1).liveCounts());
                assertThat(sequence.processed()).isEqualTo(inTurn.sequence(1).processed());
                assertThat(ahead.pagesInUse()).isEqualTo(inTurn.pagesInUse());
                inTurn.commit(1, decisions[step]);
                assertThat(sequence.canReserveAhead()).isTrue();
                SlotReservation next = ahead.reserve(1, 1);  // before the decisions of the step in flight
                assertThat(sequence.canReserveAhead()).as("two steps in flight at most").isFalse();
                ahead.commit(1, decisions[step]);
                assertThat(sequence.processed()).isEqualTo(inTurn.sequence(1).processed());
                pending = next;
            }
            inTurn.reserve(1, 1);  // the step ahead has reserved too
            assertThat(ahead.statistics().evictedTokens()).isDeepEqualTo(inTurn.statistics().evictedTokens());
            assertThat(ahead.statistics().evictedTokens(0)).as("the flags evicted tokens").isPositive();
        }
    }

    @Test
    void aStepCannotBeReservedBehindOneWhoseDecisionsItNeeds() {
        KvCacheManager cache = new KvCacheManager(LAYERS, KV_HEADS, PAGE_SIZE, 4096, 4, MAX_PAGES);
        cache.open(1, EvictionPolicies.create("dms", 0f, new DmsSettings(1, 100, 5, 8)));
        cache.open(2, EvictionPolicies.create("dms", 0f, new DmsSettings(4, 100, 5, 8)));
        cache.open(3, EvictionPolicies.create("none", 0f, null));
        cache.reserve(1, 1);
        assertThat(cache.sequence(1).canReserveAhead()).as("window 1: the step in flight flags what the next evicts")
                .isFalse();
        assertThatThrownBy(() -> cache.reserve(1, 1)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("DMS window of 1");
        cache.reserve(2, 4);
        assertThat(cache.sequence(2).canReserveAhead()).as("a 4-token chunk in flight, window 4").isFalse();
        cache.reserve(3, 50);
        assertThat(cache.sequence(3).canReserveAhead()).as("a sequence that never evicts").isTrue();
        cache.reserve(3, 1);
        assertThatThrownBy(() -> cache.reserve(3, 1)).isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("another behind it");
    }
}
