package io.dmsserve.kvcache;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dmsserve.dms.Decisions;
import io.dmsserve.dms.DmsRule;
import io.dmsserve.dms.EvictionPolicy;
import java.util.Arrays;
import java.util.Random;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/** The KV bookkeeping against the rules of DESIGN.md §3–4, with exact slots, pages and page-table deltas. */
class KvCacheManagerTest {

    /** A policy that evicts with window w (0 too, which no checkpoint has); the tests supply the decisions. */
    static EvictionPolicy window(int w) {
        DmsRule rule = new DmsRule(true, w, 0f, new float[0]);
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

            public DmsRule rule() {
                return rule;
            }
        };
    }

    /**
     * One step of a one-layer, one-head sequence, as the engine runs it: reserve, (the backend runs), commit
     * with the decisions: the decision at token first + c flags token first + c − 1 when flag[] says so.
     */
    static SlotReservation step(KvCacheManager cache, long id, boolean[] flag, int first, int length) {
        SlotReservation reservation = cache.reserve(id, length);
        byte[] bits = new byte[length];
        for (int c = 0; c < length; c++) {
            bits[c] = (byte) (first + c > 0 && flag[first + c - 1] ? 1 : 0);
        }
        cache.commit(id, new Decisions(length, 1, 1, bits, 0));
        return reservation;
    }

    static TreeSet<Integer> stored(HeadCache head) {
        TreeSet<Integer> positions = new TreeSet<>();
        for (int slot = 0; slot < head.slotCapacity(); slot++) {
            if (head.position(slot) >= 0) {
                assertTrue(positions.add(head.position(slot)), "position stored twice");
            }
        }
        return positions;
    }

    /** DESIGN.md §3 step 8: with T processed, token k is gone iff flag[k] and k ≤ T − w − 2. */
    /**
     * Commits the step of tokens [processed, processed + length) of the one-head sequence {@code id}: token k's
     * decision flags token k - 1 as {@code flag} says; then the device tables take the delta and must mirror the head.
     */
    static void commitFlags(KvCacheManager cache, long id, boolean[] flag, int processed, int length,
            DeviceTables device, HeadCache head) {
        byte[] bits = new byte[length];
        for (int c = 0; c < length; c++) {
            bits[c] = (byte) (processed + c > 0 && flag[processed + c - 1] ? 1 : 0);
        }
        cache.commit(id, new Decisions(length, 1, 1, bits, 0));
        device.apply(cache.takeDelta());
        device.assertMirrors(head, 0);
    }

    static TreeSet<Integer> expected(boolean[] flag, int processed, int w) {
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
        KvCacheManager cache = new KvCacheManager(1, 1, 4, 8, 1, 8);
        HeadCache head = cache.open(1, window(2)).head(0, 0);
        boolean[] flag = {true, false, false, false, false, false};
        int[] slotOfToken = new int[6];
        for (int t = 0; t < 3; t++) {
            slotOfToken[t] = step(cache, 1, flag, t, 1).slots()[0];
        }
        assertArrayEquals(new int[] {0, 1, 2}, Arrays.copyOf(slotOfToken, 3), "page 0 fills from its first slot");
        assertEquals(Set(0, 1, 2), stored(head));
        slotOfToken[3] = step(cache, 1, flag, 3, 1).slots()[0];
        assertEquals(Set(1, 2, 3), stored(head));
        assertEquals(slotOfToken[0], slotOfToken[3], "token 3 reuses token 0's slot in place");
        assertEquals(3, head.live());
        assertEquals(1, cache.statistics().evictedTokens(0));
    }

    @Test
    void reservationsCarryThePreviousSlotAndTheDeltaNamesEveryTableChange() {
        // 2 layers x 1 head, pages of 2 tokens, row 0: table of (layer 0) is 0, of (layer 1) is 1.
        KvCacheManager cache = new KvCacheManager(2, 1, 2, 8, 2, 4);
        cache.open(7, window(1));
        SlotReservation first = cache.reserve(7, 3);
        assertEquals(0, first.row());
        assertArrayEquals(new int[] {0, 1, 2, 4, 5, 6}, first.slots(), "(layer, token): pages 0,1 then 2,3");
        assertArrayEquals(new int[] {-1, -1}, first.previousSlots());
        PageTableDelta delta = cache.takeDelta();
        assertArrayEquals(new int[] {0, 0, 0, 0, 1, 1, 1, 0, 2, 1, 1, 3}, delta.pageWrites());
        assertArrayEquals(new int[] {0, 2, 1, 2}, delta.lengthWrites());
        assertArrayEquals(new int[] {0, 1, 2, 3}, delta.freshPages());
        // Every token flagged: after T = 3, w = 1, token 0 is gone (0 <= 3 - 1 - 2).
        byte[] all = new byte[3 * 2];
        Arrays.fill(all, (byte) 1);
        cache.commit(7, new Decisions(3, 2, 1, all, 0));
        assertEquals(PageTableDelta.EMPTY, cache.takeDelta(), "slot 0 freed, its page still holds token 1");
        // Next step from 3: token 1 (flagged, 3 - 1 > w) goes first: page 0 empties, back to the pool; token 3
        // takes token 2's page's free slot.
        SlotReservation second = cache.reserve(7, 1);
        assertArrayEquals(new int[] {2, 6}, second.previousSlots(), "token 2's slots");
        assertArrayEquals(new int[] {3, 7}, second.slots());
        delta = cache.takeDelta();
        assertArrayEquals(new int[] {0, 0, -1, 1, 0, -1}, delta.pageWrites(), "holes where pages 0 and 2 were");
        assertEquals(0, delta.lengthWrites().length);
        cache.release(7);
        assertArrayEquals(new int[] {0, 0, 1, 0}, cache.takeDelta().lengthWrites(), "release empties both tables");
        assertEquals(8, cache.freePages());
    }

    @Test
    void tokenZeroIsEvictableLikeAnyOther() {
        KvCacheManager cache = new KvCacheManager(1, 1, 16, 4, 1, 4);
        HeadCache head = cache.open(1, window(0)).head(0, 0);
        boolean[] flag = {true, true, false};
        step(cache, 1, flag, 0, 1);
        step(cache, 1, flag, 1, 1);
        // w = 0: token 0 flagged at 1 disappears for query 1 already
        assertEquals(Set(1), stored(head));
        step(cache, 1, flag, 2, 1);
        assertEquals(Set(2), stored(head));
    }

    @Test
    void aReturnedPagesEntryIsTheNextFilledAndTheTableDoesNotGrow() {
        // Pages of one token, window 0: a flagged token k is gone once k <= T - 2.
        KvCacheManager cache = new KvCacheManager(1, 1, 1, 16, 1, 8);
        HeadCache head = cache.open(3, window(0)).head(0, 0);
        for (int t = 0; t < 5; t++) {
            cache.reserve(3, 1);
            // Tokens 0, 1 and 3 are flagged (by the steps of tokens 1, 2 and 4).
            boolean flagPrevious = t == 1 || t == 2 || t == 4;
            cache.commit(3, new Decisions(1, 1, 1, new byte[] {(byte) (flagPrevious ? 1 : 0)}, 0));
            if (t == 1) {
                assertEquals(-1, head.page(0), "token 0 gone: entry 0 is a hole");
            }
            if (t == 2) {
                assertEquals(-1, head.page(1), "token 1 gone: entry 1 is a hole");
                assertTrue(head.page(0) >= 0, "token 2 filled the lowest hole, entry 0");
            }
        }
        // Token 3 took entry 1 (the hole token 1 left), token 4 entry 2; token 3 is gone again after the last step.
        assertEquals(3, head.pageTableSize(), "5 tokens, 2 of them evicted before their entries were needed");
        assertEquals(-1, head.page(1), "token 3 gone after the step of token 4 (3 <= 5 - 2)");
        assertTrue(head.page(0) >= 0 && head.page(2) >= 0);
        cache.release(3);
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
            int pageSize = 1 + random.nextInt(5);
            KvCacheManager cache = new KvCacheManager(1, 1, pageSize, 1000, 1, 64);
            HeadCache head = cache.open(trial, window(w)).head(0, 0);
            DeviceTables device = new DeviceTables(1, 64);
            int processed = 0;
            while (processed < tokens) {
                int length = Math.min(tokens - processed, 1 + random.nextInt(random.nextBoolean() ? 1 : 12));
                int pagesBefore = cache.statistics().pagesInUse();
                int worstCase = cache.pagesToStore(trial, length);
                cache.reserve(trial, length);
                assertTrue(cache.statistics().pagesInUse() <= pagesBefore + worstCase, "the worst case bounds the"
                        + " pages a step takes");
                commitFlags(cache, trial, flag, processed, length, device, head);
                processed += length;
                assertEquals(expected(flag, processed, w), stored(head), "trial " + trial + " after " + processed);
                assertEquals(stored(head).size(), head.live());
                long evicted = cache.statistics().evictedTokens(0);
                assertEquals(processed - head.live(), evicted, "every missing token was counted as evicted");
                int minPages = (head.live() + pageSize - 1) / pageSize;
                assertTrue(head.pages() >= minPages);
                assertEquals(head.pages(), cache.statistics().pagesInUse());
            }
            cache.release(trial);
            device.apply(cache.takeDelta());
            assertEquals(0, device.length(0), "a released row's table is empty");
            assertEquals(0, cache.statistics().pagesInUse(), "release returns every page");
            assertEquals(0, cache.statistics().totalLiveTokens());
        }
    }

    @Test
    void longTablesWithHolesSpanSeveralBlocks() {
        // Hundreds of page-table entries (the rows lie in blocks of 64), with holes from eviction, then a long dense
        // run: the journal, the live set and the pool agree at every step, whatever the page size.
        Random random = new Random(11);
        for (int trial = 0; trial < 12; trial++) {
            int pageSize = 1 + random.nextInt(5);
            int w = 1 + random.nextInt(40);
            int tokens = 150 * pageSize + random.nextInt(300);
            boolean[] flag = new boolean[tokens];
            for (int k = 0; k < tokens; k++) {
                flag[k] = k < tokens / 2 && random.nextDouble() < 0.7;
            }
            KvCacheManager cache = new KvCacheManager(1, 1, pageSize, 1000, 1, 1000);
            HeadCache head = cache.open(trial, window(w)).head(0, 0);
            DeviceTables device = new DeviceTables(1, 1000);
            int processed = 0;
            while (processed < tokens) {
                int length = Math.min(tokens - processed, 1 + random.nextInt(random.nextBoolean() ? 1 : 80));
                cache.reserve(trial, length);
                commitFlags(cache, trial, flag, processed, length, device, head);
                processed += length;
                assertEquals(expected(flag, processed, w), stored(head), "trial " + trial + " after " + processed);
                assertEquals(head.pages(), cache.statistics().pagesInUse());
            }
            assertTrue(head.pageTableSize() > 64, "more than one block: " + head.pageTableSize());
            cache.release(trial);
            device.apply(cache.takeDelta());
            assertEquals(0, device.length(0));
            assertEquals(0, cache.statistics().pagesInUse(), "release returns every page");
        }
    }

    @Test
    void decodeAtSteadyStateNeedsNoNewPages() {
        // Every token flagged, w = 4: the head holds at most w + 2 tokens (w + 1 after each step), in place.
        KvCacheManager cache = new KvCacheManager(1, 1, 4, 64, 1, 200);
        HeadCache head = cache.open(1, window(4)).head(0, 0);
        boolean[] flag = new boolean[500];
        Arrays.fill(flag, true);
        for (int t = 0; t < 500; t++) {
            step(cache, 1, flag, t, 1);
            assertTrue(head.live() <= 5, "live " + head.live() + " at " + t);
        }
        assertEquals(2, head.pages());
        assertEquals(2, head.pageTableSize(), "the table never grew past two entries");
    }

    @Test
    void emptiedPageGoesBackToThePoolAtOnce() {
        KvCacheManager cache = new KvCacheManager(1, 1, 2, 16, 1, 8);
        HeadCache head = cache.open(1, window(8)).head(0, 0);
        boolean[] flag = {true, true, false, false, false};
        step(cache, 1, flag, 0, 5); // 0, 1 flagged but inside the window: pages [0 1] [2 3] [4 -]
        assertEquals(3, cache.statistics().pagesInUse());
        head.evictThrough(1);     // the window passes tokens 0 and 1
        assertEquals(Set(2, 3, 4), stored(head));
        assertEquals(2, cache.statistics().pagesInUse(), "the page of tokens 0 and 1 is free for others");
        assertEquals(2, head.pages());
    }

    @Test
    void aSparsePrefillKeepsOnlyWhatItsLastQuerySees() {
        KvCacheManager cache = new KvCacheManager(1, 1, 2, 16, 1, 8);
        HeadCache head = cache.open(1, window(1)).head(0, 0);
        boolean[] all = new boolean[9];
        Arrays.fill(all, true);
        step(cache, 1, all, 0, 4); // T = 4: 0 and 1 are gone already, 2 and 3 are kept
        assertEquals(Set(2, 3), stored(head));
        assertEquals(2, cache.statistics().evictedTokens(0));
        assertEquals(1, cache.statistics().pagesInUse());
        step(cache, 1, all, 4, 1);
        step(cache, 1, all, 5, 1);
        assertEquals(Set(4, 5), stored(head));
        assertEquals(1, cache.statistics().pagesInUse(), "decode reuses evicted slots in place");
    }

    @Test
    void fullPoolIsReportedNotCorrupted() {
        KvCacheManager cache = new KvCacheManager(1, 1, 2, 2, 1, 8);
        cache.open(1, window(100));
        boolean[] flag = new boolean[8];
        step(cache, 1, flag, 0, 4);
        KvCacheFullException error = assertThrows(KvCacheFullException.class, () -> cache.reserve(1, 1));
        assertTrue(error.getMessage().contains("2 pages"), error.getMessage());
        cache.release(1);
        assertEquals(2, cache.freePages());
        assertEquals(0, cache.statistics().totalLiveTokens());
    }

    @Test
    void rowsAreHandedOutAndTakenBack() {
        KvCacheManager cache = new KvCacheManager(1, 1, 2, 8, 2, 8);
        assertEquals(0, cache.open(1, window(1)).row());
        assertEquals(1, cache.open(2, window(1)).row());
        assertThrows(IllegalStateException.class, () -> cache.open(3, window(1)), "two rows only");
        assertThrows(IllegalStateException.class, () -> cache.open(2, window(1)), "open twice");
        cache.release(1);
        assertEquals(0, cache.open(3, window(1)).row());
    }

    @Test
    void statisticsAreReadableWhileTheEngineWrites() throws Exception {
        KvCacheManager cache = new KvCacheManager(2, 2, 4, 4096, 1, 16);
        Thread engine = new Thread(() -> {
            Random random = new Random(1);
            for (int s = 0; s < 200; s++) {
                cache.open(s, window(3));
                boolean[] flag = new boolean[40];
                for (int k = 0; k < flag.length; k++) {
                    flag[k] = random.nextBoolean();
                }
                for (int t = 0; t < flag.length; t++) {
                    SlotReservation reservation = cache.reserve(s, 1);
                    byte[] bits = new byte[4];
                    Arrays.fill(bits, (byte) (t > 0 && flag[t - 1] ? 1 : 0));
                    cache.commit(s, new Decisions(1, 2, 2, bits, 0));
                    assertEquals(4, reservation.slots().length);
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

    /** A backend's copy of the page tables, kept only from deltas, as a device keeps it. */
    static final class DeviceTables {
        private final int[][] tables;
        private final int[] lengths;

        DeviceTables(int heads, int maxPages) {
            tables = new int[heads][maxPages];
            lengths = new int[heads];
            for (int[] table : tables) {
                Arrays.fill(table, -7); // never written: must never be read
            }
        }

        void apply(PageTableDelta delta) {
            for (int i = 0; i < delta.pageWrites().length; i += 3) {
                tables[delta.pageWrites()[i]][delta.pageWrites()[i + 1]] = delta.pageWrites()[i + 2];
            }
            for (int i = 0; i < delta.lengthWrites().length; i += 2) {
                lengths[delta.lengthWrites()[i]] = delta.lengthWrites()[i + 1];
            }
        }

        int length(int table) {
            return lengths[table];
        }

        void assertMirrors(HeadCache head, int table) {
            assertEquals(head.pageTableSize(), lengths[table], "table length");
            for (int i = 0; i < lengths[table]; i++) {
                assertEquals(head.page(i), tables[table][i], "entry " + i);
            }
        }
    }
}
