package io.dmsserve.kvcache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/**
 * The counters metrics read ({@link HeadReadings}), against hand-counted expectations on one layer and head:
 * live, seen, evicted, flag decisions and pages, and back to zero on release, even after a reservation that
 * ran out of pages half-way.
 */
class CacheReadingsTest {

    @Test
    void countsFollowTheBookkeepingStepByStep() {
        // Window 2, pages of 4 tokens: tokens 0..3 flagged; after 8 tokens, k ≤ 8 − 2 − 2 = 4 are judged.
        KvCacheManager cache = new KvCacheManager(1, 1, 4, 8, 1, 8);
        cache.open(1, KvCacheManagerTest.window(2));
        boolean[] flag = {true, true, true, true, false, false, false, false, false};
        KvCacheManagerTest.step(cache, 1, flag, 0, 5);
        HeadReadings head = cache.readings(0, 0);
        // 5 processed: k ≤ 1 are gone (tokens 0 and 1), flags known for tokens 0..3.
        assertEquals(5, head.seenTokens());
        assertEquals(3, head.liveTokens());
        assertEquals(2, head.evictedTokens());
        assertEquals(4, head.flagDecisions());
        assertEquals(2, head.pages());
        KvCacheManagerTest.step(cache, 1, flag, 5, 3);
        // 8 processed: tokens 2, 3 gone too; before this step's reservation token 2 left, its slot reused.
        assertEquals(8, head.seenTokens());
        assertEquals(4, head.liveTokens());
        assertEquals(4, head.evictedTokens());
        assertEquals(4, head.flagDecisions());
        assertEquals(cache.statistics().liveTokens(0), head.liveTokens());
        assertEquals(cache.pagesInUse(), head.pages());
        cache.release(1);
        assertEquals(0, head.seenTokens());
        assertEquals(0, head.liveTokens());
        assertEquals(0, head.pages());
        assertEquals(4, head.evictedTokens(), "cumulative");
        assertEquals(4, head.flagDecisions(), "cumulative");
    }

    @Test
    void aReservationThatRunsOutOfPagesLeavesTheCountersConsistent() {
        KvCacheManager cache = new KvCacheManager(1, 1, 4, 2, 1, 8);
        cache.open(1, KvCacheManagerTest.window(2));
        assertThrows(KvCacheFullException.class, () -> cache.reserve(1, 9));
        HeadReadings head = cache.readings(0, 0);
        assertEquals(8, head.liveTokens(), "the 8 slots it did get");
        assertEquals(2, head.pages());
        cache.release(1);
        assertEquals(0, head.liveTokens());
        assertEquals(0, head.seenTokens());
        assertEquals(0, head.pages());
        assertEquals(0, cache.pagesInUse());
    }

    @Test
    void aHeadOutsideTheCacheIsRefused() {
        KvCacheManager cache = new KvCacheManager(2, 2, 4, 2, 1, 8);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> cache.readings(2, 0));
        assertEquals("no KV head (2, 0) in a cache of 2 layers and 2 KV heads", e.getMessage());
    }
}
