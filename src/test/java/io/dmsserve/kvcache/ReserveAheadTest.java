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

    /**
     * Prompt chunks reserved each behind the one in flight (the scheduler's DMS prompts where the window is longer
     * than a chunk), chunks of 1 to w − 1 tokens at random, then decode steps: every chunk takes the slots, and leaves
     * the live counts, pages and evictions, of chunks reserved each after the previous commit. 7/8 of the decisions
     * flag, so a chunk reserved ahead reuses slots and pages that evictions freed. Slots are compared as each head
     * addresses them (page-table entry and offset: the order attention reads them in), not by pool page: reserved in
     * turn, every head gives its emptied pages back at the commit before any head takes new ones, and ahead each head
     * does both in its own reservation, so the pool hands the heads the same pages in another order (as it may when
     * a step's layers are spread over threads, LayerParallel).
     */
    @Test
    void promptChunksReservedAheadTakeTheSlotsOfChunksReservedInTurn() {
        for (int window : new int[] {2, 5, 16}) {
            EvictionPolicy policy = EvictionPolicies.create("dms", 0f, new DmsSettings(window, 100, 5, 8));
            KvCacheManager inTurn = new KvCacheManager(LAYERS, KV_HEADS, PAGE_SIZE, 4096, 4, MAX_PAGES);
            KvCacheManager ahead = new KvCacheManager(LAYERS, KV_HEADS, PAGE_SIZE, 4096, 4, MAX_PAGES);
            inTurn.open(1, policy);
            ahead.open(1, policy);
            SplittableRandom random = new SplittableRandom(100 + window);
            Decisions[] decisions = new Decisions[70];
            for (int step = 0; step < decisions.length; step++) {
                int length = step < 40 ? 1 + random.nextInt(window - 1) : 1;  // a prompt in chunks, then decode
                byte[] flags = new byte[length * LAYERS * KV_HEADS];
                for (int i = 0; i < flags.length; i++) {
                    flags[i] = (byte) (random.nextInt(8) < 7 ? 1 : 0);
                }
                decisions[step] = new Decisions(length, LAYERS, KV_HEADS, flags, 0);
            }
            SlotReservation pending = ahead.reserve(1, decisions[0].length());
            int reused = 0;
            for (int step = 0; step < decisions.length; step++) {
                SlotReservation expected = inTurn.reserve(1, decisions[step].length());
                String where = "window " + window + ", step " + step;
                assertThat(pending.first()).isEqualTo(expected.first());
                int[] local = localSlots(ahead.sequence(1), pending);
                assertThat(local).as(where).containsExactly(localSlots(inTurn.sequence(1), expected));
                assertThat(localSlots(ahead.sequence(1), pending.previousSlots())).as(where)
                        .containsExactly(localSlots(inTurn.sequence(1), expected.previousSlots()));
                assertSameLayout(ahead.sequence(1), inTurn.sequence(1), where);
                assertThat(ahead.pagesInUse()).isEqualTo(inTurn.pagesInUse());
                for (int i = 0; i < local.length; i++) {
                    reused += local[i] < pending.first() ? 1 : 0;  // a slot below its position: an evicted one's
                }
                inTurn.commit(1, decisions[step]);
                SlotReservation next = null;
                if (step + 1 < decisions.length) {
                    assertThat(ahead.sequence(1).canReserveAhead()).as("%s: a %d-token step in flight", where,
                            decisions[step].length()).isTrue();
                    next = ahead.reserve(1, decisions[step + 1].length());  // before this step's decisions
                }
                ahead.commit(1, decisions[step]);
                assertThat(ahead.sequence(1).processed()).isEqualTo(inTurn.sequence(1).processed());
                pending = next;
            }
            assertSameLayout(ahead.sequence(1), inTurn.sequence(1), "window " + window + ", the end");
            assertThat(ahead.pagesInUse()).isEqualTo(inTurn.pagesInUse());
            assertThat(ahead.statistics().evictedTokens()).isDeepEqualTo(inTurn.statistics().evictedTokens());
            assertThat(ahead.statistics().evictedTokens(0)).as("the flags evicted tokens").isPositive();
            assertThat(reused).as("window %d: reservations took slots that evictions freed", window).isPositive();
        }
    }

    /** A reservation's slots (layer, kvHead, token) as their heads address them: page-table entry · pageSize + offset. */
    private static int[] localSlots(SequenceKv sequence, SlotReservation reservation) {
        int[] local = new int[reservation.slots().length];
        for (int l = 0, i = 0; l < LAYERS; l++) {
            for (int h = 0; h < KV_HEADS; h++) {
                for (int c = 0; c < reservation.length(); c++, i++) {
                    local[i] = local(sequence.head(l, h), reservation.slots()[i]);
                }
            }
        }
        return local;
    }

    /** Physical slots of (layer, kvHead) as their heads address them, −1 kept. */
    private static int[] localSlots(SequenceKv sequence, int[] perHead) {
        int[] local = new int[perHead.length];
        for (int l = 0; l < LAYERS; l++) {
            for (int h = 0; h < KV_HEADS; h++) {
                int i = l * KV_HEADS + h;
                local[i] = perHead[i] < 0 ? perHead[i] : local(sequence.head(l, h), perHead[i]);
            }
        }
        return local;
    }

    private static int local(HeadCache head, int physical) {
        for (int entry = 0; entry < head.pageTableSize(); entry++) {
            if (head.page(entry) == physical / PAGE_SIZE) {
                return entry * PAGE_SIZE + physical % PAGE_SIZE;
            }
        }
        throw new AssertionError("physical slot " + physical + " is in none of the head's pages");
    }

    /** Every head's table the same shape (holes where the other has holes), each slot the same position and flag. */
    private static void assertSameLayout(SequenceKv actual, SequenceKv expected, String where) {
        assertThat(actual.liveCounts()).as(where).isDeepEqualTo(expected.liveCounts());
        for (int l = 0; l < LAYERS; l++) {
            for (int h = 0; h < KV_HEADS; h++) {
                HeadCache a = actual.head(l, h);
                HeadCache e = expected.head(l, h);
                assertThat(a.pageTableSize()).as(where).isEqualTo(e.pageTableSize());
                for (int entry = 0; entry < e.pageTableSize(); entry++) {
                    assertThat(a.page(entry) < 0).as("%s: head (%d, %d), entry %d a hole", where, l, h, entry)
                            .isEqualTo(e.page(entry) < 0);
                }
                for (int slot = 0; slot < e.slotCapacity(); slot++) {
                    assertThat(a.position(slot)).as("%s: head (%d, %d), slot %d", where, l, h, slot)
                            .isEqualTo(e.position(slot));
                    assertThat(a.flagged(slot)).as("%s: head (%d, %d), slot %d", where, l, h, slot)
                            .isEqualTo(e.flagged(slot));
                }
            }
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
