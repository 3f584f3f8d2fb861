package io.dmsserve.kvcache;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Which physical slot each token gets, over a long random DMS history of one head (runs of 1 to 40 tokens, flags at
 * 80%, evictions a window later, pages emptied and given back, bulk and token-by-token reservations mixed), pinned by
 * a fingerprint of every slot handed out. The free list is a stack whose order decides the next token's slot: when an
 * eviction gives back a page, its free slots leave the list and the others keep their order. Both backends follow this
 * plan, so a change of it changes every sum's order on the GPU and the CPU alike and no oracle notices; this test
 * does (a swap-remove of the given-back slots fails it). The constant is the plan of {@code ea9597b}'s HeadCache.
 */
class FreeListOrderTest {

    private static final int PAGE = 16;
    private static final int WINDOW = 24;
    private static final long PLAN = 7323100575536104284L;

    @Test
    void theSlotsHandedOutAreThePinnedPlan() {
        assertThat(fingerprint()).isEqualTo(PLAN);
    }

    static long fingerprint() {
        CacheCounters counters = new CacheCounters(1, 1);
        HeadCache head = new HeadCache(new PageAllocator(4096), counters, counters.index(0, 0), new DeltaBuilder(), 3,
                4096, PAGE, true, WINDOW);
        Random random = new Random(7);
        long hash = 1125899906842597L;
        int position = 0;
        for (int step = 0; step < 400; step++) {
            int count = 1 + random.nextInt(40);
            head.evictBefore(position);
            int[] slots = new int[count];
            if (random.nextBoolean()) {
                head.reserve(position, count, slots, 0);
            } else {
                for (int c = 0; c < count; c++) {
                    slots[c] = head.reserve(position + c);
                }
            }
            head.publishReserved();
            for (int slot : slots) {
                hash = 31 * hash + slot;
            }
            for (int c = 0; c < count; c++) {
                if (position + c > 0 && random.nextDouble() < 0.8) {
                    head.flag(position + c - 1);
                }
            }
            head.evictThrough(position + count - WINDOW - 2);
            position += count;
        }
        return hash;
    }
}
