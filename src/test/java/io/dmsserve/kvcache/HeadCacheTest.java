package io.dmsserve.kvcache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dmsserve.dms.EvictionPolicy;
import java.util.Arrays;
import java.util.Random;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

class HeadCacheTest {

    /** A policy whose decisions the test supplies itself; only window and evicts() matter to the cache. */
    private static EvictionPolicy window(int w) {
        return new EvictionPolicy() {
            public String name() {
                return "test";
            }

            public boolean evicts() {
                return true;
            }

            public int window() {
                return w;
            }

            public boolean flags(float logit) {
                return false;
            }
        };
    }

    /** Feeds flag[] to one head in chunks, as a backend does: flag the predecessor, then commit. */
    private static int[] run(HeadCache head, boolean[] flag, int first, int length, int w) {
        if (first > 0 && flag[first - 1]) {
            head.flag(first - 1); // decision made at `first` flags first - 1
        }
        boolean[] chunkFlags = new boolean[length];
        for (int c = 0; c + 1 < length; c++) {
            chunkFlags[c] = flag[first + c];
        }
        return head.commit(first, chunkFlags, w);
    }

    private static TreeSet<Integer> stored(HeadCache head) {
        TreeSet<Integer> positions = new TreeSet<>();
        for (int slot = 0; slot < head.slotCapacity(); slot++) {
            if (head.position(slot) >= 0) {
                assertTrue(positions.add(head.position(slot)), "position stored twice");
            }
        }
        return positions;
    }

    /** DESIGN.md §3 step 8: with T processed, token k is gone iff flag[k] and k ≤ T − w − 2. */
    private static TreeSet<Integer> expected(boolean[] flag, int processed, int w) {
        TreeSet<Integer> positions = new TreeSet<>();
        for (int k = 0; k < processed; k++) {
            // flag[k] is only known once token k + 1 has been processed
            boolean known = k + 1 < processed && flag[k];
            if (!(known && k <= processed - w - 2)) {
                positions.add(k);
            }
        }
        return positions;
    }

    @Test
    void workedExampleOfDesignWindowTwo() {
        // w = 2, d1 = 1: token 0 visible to queries 0..2, gone from query 3 on; token 3 takes its slot.
        KvCache cache = new KvCache(1, 1, 4, 8);
        HeadCache head = cache.open(1, window(2)).head(0, 0);
        boolean[] flag = {true, false, false, false, false, false};
        int[] slotOfToken = new int[6];
        for (int t = 0; t < 3; t++) {
            slotOfToken[t] = run(head, flag, t, 1, 2)[0];
        }
        assertEquals(Set(0, 1, 2), stored(head));
        slotOfToken[3] = run(head, flag, 3, 1, 2)[0];
        assertEquals(Set(1, 2, 3), stored(head));
        assertEquals(slotOfToken[0], slotOfToken[3], "token 3 reuses token 0's slot in place");
        assertEquals(3, head.live());
        assertEquals(1, cache.statistics().evictedTokens(0));
    }

    @Test
    void tokenZeroIsEvictableLikeAnyOther() {
        KvCache cache = new KvCache(1, 1, 16, 4);
        HeadCache head = cache.open(1, window(0)).head(0, 0);
        boolean[] flag = {true, true, false};
        run(head, flag, 0, 1, 0);
        run(head, flag, 1, 1, 0);
        // w = 0: token 0 flagged at 1 disappears for query 1 already
        assertEquals(Set(1), stored(head));
        run(head, flag, 2, 1, 0);
        assertEquals(Set(2), stored(head));
    }

    @Test
    void randomFlagsAnyChunkingKeepExactlyTheVisibleSet() {
        Random random = new Random(7);
        for (int trial = 0; trial < 300; trial++) {
            int w = random.nextInt(6);
            int tokens = 1 + random.nextInt(60);
            boolean[] flag = new boolean[tokens];
            for (int k = 0; k < tokens; k++) {
                flag[k] = random.nextDouble() < 0.6;
            }
            KvCache cache = new KvCache(1, 1, 1 + random.nextInt(5), 1000);
            HeadCache head = cache.open(trial, window(w)).head(0, 0);
            int processed = 0;
            while (processed < tokens) {
                int length = Math.min(tokens - processed, 1 + random.nextInt(random.nextBoolean() ? 1 : 12));
                run(head, flag, processed, length, w);
                processed += length;
                assertEquals(expected(flag, processed, w), stored(head), "trial " + trial + " after " + processed);
                assertEquals(stored(head).size(), head.live());
                long evicted = cache.statistics().evictedTokens(0);
                assertEquals(processed - head.live(), evicted, "every missing token was counted as evicted");
                int minPages = (head.live() + cache.pageSize() - 1) / cache.pageSize();
                assertTrue(head.pages() >= minPages);
                assertEquals(head.pages(), cache.statistics().pagesInUse());
            }
            cache.release(trial);
            assertEquals(0, cache.statistics().pagesInUse(), "release returns every page");
            assertEquals(0, cache.statistics().totalLiveTokens());
        }
    }

    @Test
    void decodeAtSteadyStateNeedsNoNewPages() {
        // Every token flagged, w = 4: the head holds at most w + 2 tokens, in place, forever.
        KvCache cache = new KvCache(1, 1, 4, 64);
        HeadCache head = cache.open(1, window(4)).head(0, 0);
        boolean[] flag = new boolean[500];
        Arrays.fill(flag, true);
        for (int t = 0; t < 500; t++) {
            run(head, flag, t, 1, 4);
            assertTrue(head.live() <= 6, "live " + head.live() + " at " + t);
        }
        assertEquals(2, head.pages());
    }

    @Test
    void emptiedPageGoesBackToThePoolAtOnce() {
        KvCache cache = new KvCache(1, 1, 2, 16);
        HeadCache head = cache.open(1, window(8)).head(0, 0);
        boolean[] flag = {true, true, false, false, false};
        run(head, flag, 0, 5, 8); // 0, 1 flagged but inside the window: pages [0 1] [2 3] [4 -]
        assertEquals(3, cache.statistics().pagesInUse());
        head.evictThrough(1);     // the window passes tokens 0 and 1
        assertEquals(Set(2, 3, 4), stored(head));
        assertEquals(2, cache.statistics().pagesInUse(), "the page of tokens 0 and 1 is free for others");
        assertEquals(2, head.pages());
    }

    @Test
    void prefillNeverStoresTokensAlreadyOutOfTheWindow() {
        KvCache cache = new KvCache(1, 1, 2, 16);
        HeadCache head = cache.open(1, window(1)).head(0, 0);
        boolean[] all = new boolean[9];
        Arrays.fill(all, true);
        int[] slots = run(head, all, 0, 4, 1); // T = 4: 0 and 1 are gone already, 2 and 3 are stored
        assertEquals(-1, slots[0]);
        assertEquals(-1, slots[1]);
        assertEquals(Set(2, 3), stored(head));
        assertEquals(2, cache.statistics().evictedTokens(0));
        assertEquals(1, cache.statistics().pagesInUse());
        run(head, all, 4, 1, 1);
        run(head, all, 5, 1, 1);
        assertEquals(Set(4, 5), stored(head));
        assertEquals(1, cache.statistics().pagesInUse(), "decode reuses evicted slots in place");
    }

    @Test
    void fullPoolIsReportedNotCorrupted() {
        KvCache cache = new KvCache(1, 1, 2, 2);
        HeadCache head = cache.open(1, window(100)).head(0, 0);
        boolean[] flag = new boolean[8];
        run(head, flag, 0, 4, 100);
        KvCacheExhaustedException error = assertThrows(KvCacheExhaustedException.class,
                () -> run(head, flag, 4, 1, 100));
        assertTrue(error.getMessage().contains("2 pages"), error.getMessage());
        cache.release(1);
        assertEquals(2, cache.freePages());
    }

    @Test
    void statisticsAreReadableWhileTheEngineWrites() throws Exception {
        KvCache cache = new KvCache(2, 2, 4, 4096);
        Thread engine = new Thread(() -> {
            Random random = new Random(1);
            for (int s = 0; s < 200; s++) {
                SequenceKv sequence = cache.open(s, window(3));
                boolean[] flag = new boolean[40];
                for (int k = 0; k < flag.length; k++) {
                    flag[k] = random.nextBoolean();
                }
                for (int t = 0; t < flag.length; t++) {
                    for (int l = 0; l < 2; l++) {
                        for (int h = 0; h < 2; h++) {
                            run(sequence.head(l, h), flag, t, 1, 3);
                        }
                    }
                }
                cache.release(s);
            }
        });
        engine.start();
        while (engine.isAlive()) {
            CacheStatistics statistics = cache.statistics();
            assertTrue(statistics.pagesInUse() >= 0 && statistics.pagesInUse() <= statistics.pageCount());
            for (long[] layer : statistics.liveTokens()) {
                for (long live : layer) {
                    assertTrue(live >= 0 && live <= 40, "live " + live);
                }
            }
        }
        engine.join();
        assertEquals(0, cache.statistics().totalLiveTokens());
        assertEquals(0, cache.statistics().pagesInUse());
        assertEquals(0, cache.statistics().sequences());
    }

    private static TreeSet<Integer> Set(Integer... positions) {
        return new TreeSet<>(Arrays.asList(positions));
    }
}
