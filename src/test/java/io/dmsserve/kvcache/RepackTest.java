package io.dmsserve.kvcache;

import static io.dmsserve.kvcache.KvCacheManagerTest.stored;
import static io.dmsserve.kvcache.KvCacheManagerTest.window;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dmsserve.dms.Decisions;
import java.util.List;
import java.util.Random;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * Repacking (KvCacheManager's commit with repack on): a head left with two pages' worth of free slots moves its live
 * tokens, in order, into ceil(live / pageSize) new pages; exact page ids, slot moves and table writes.
 */
class RepackTest {

    /** Flags for tokens 0..16 but 3, 9, 14 (token k's flag comes with token k + 1's decision). */
    private static byte[] flags(int length) {
        byte[] bits = new byte[length];
        for (int c = 1; c < length; c++) {
            int k = c - 1;
            bits[c] = (byte) (k <= 16 && k != 3 && k != 9 && k != 14 ? 1 : 0);
        }
        return bits;
    }

    /** Pages of 4, window 2, repacking on: sequence 1's 20 tokens reserved in pages 0..4, the delta taken. */
    private static KvCacheManager twentyTokensReserved() {
        KvCacheManager cache = new KvCacheManager(1, 1, 4, 20, 2, 16, true);
        cache.open(1, window(2));
        cache.reserve(1, 20);
        cache.takeDelta();
        return cache;
    }

    /**
     * Pages of 4, window 2: 20 tokens in pages 0..4; the commit evicts 0..16 but 3, 9, 14. Page 1 empties and goes
     * back; pages 0, 2, 3, 4 keep 1, 1, 1, 3 tokens (10 free slots): repacked into pages 1 (back on top of the pool)
     * and 5, the moves in runs that stay within a page, the last page's two unused slots emptied.
     */
    @Test
    void aSparseHeadMovesItsTokensInOrderIntoNewPages() {
        KvCacheManager cache = twentyTokensReserved();
        cache.commit(1, new Decisions(20, 1, 1, flags(20), 0));
        PageTableDelta delta = cache.takeDelta();
        assertArrayEquals(new int[] {3, 4, 1, 9, 5, 1, 14, 6, 1, 17, 7, 1, 18, 20, 2, -1, 22, 2}, delta.slotMoves());
        assertArrayEquals(new int[] {0, 1, 5, 0, 0, 1}, delta.pageWrites(), "entry 1 emptied, then refilled");
        assertArrayEquals(new int[] {0, 2}, delta.lengthWrites());
        assertArrayEquals(new int[0], delta.freshPages());
        HeadCache head = cache.sequence(1).head(0, 0);
        assertEquals(new TreeSet<>(List.of(3, 9, 14, 17, 18, 19)), stored(head));
        assertEquals(2, head.pageTableSize());
        assertEquals(2, head.pages());
        assertEquals(1, head.page(0));
        assertEquals(5, head.page(1));
        for (int slot = 0; slot < 6; slot++) {
            assertEquals(List.of(3, 9, 14, 17, 18, 19).get(slot), head.position(slot), "local slot " + slot);
        }
        assertEquals(2, cache.pagesInUse(), "the four old pages went back");
        assertEquals(6L, cache.statistics().totalLiveTokens());
        SlotReservation next = cache.reserve(1, 1);
        assertEquals(5 * 4 + 2, next.slots()[0], "the next token takes the first unused slot");
        assertEquals(5 * 4 + 1, next.previousSlots()[0], "after token 19's new slot");
    }

    /** No repack while page copies wait for the next step (a fork's), nor with repacking off. */
    @Test
    void noRepackWhileCopiesWaitOrWhenOff() {
        for (boolean on : new boolean[] {true, false}) {
            KvCacheManager cache = new KvCacheManager(1, 1, 4, 40, 4, 16, on);
            cache.open(1, window(2));
            cache.reserve(1, 20);
            if (on) {
                cache.open(2, window(2));
                cache.reserve(2, 4);
                cache.commit(2, new Decisions(4, 1, 1, new byte[4], 0));
                cache.fork(2, 3);     // its page copies wait for the next step
            }
            cache.commit(1, new Decisions(20, 1, 1, flags(20), 0));
            assertEquals(4, cache.sequence(1).head(0, 0).pages(), "repack " + on + ": not repacked");
            assertEquals(0, cache.takeDelta().slotMoves().length);
        }
    }

    /**
     * A commit whose sequence is not settled (a prompt chunk that another follows: StepExecutor sets it from whether
     * the step sampled) leaves the head as it is; the next settled commit repacks it.
     */
    @Test
    void anUnsettledCommitLeavesTheHeadForTheNextSettledOne() {
        KvCacheManager cache = twentyTokensReserved();
        cache.commit(new long[] {1}, new Decisions[] {new Decisions(20, 1, 1, flags(20), 0)}, new boolean[] {false});
        assertEquals(4, cache.sequence(1).head(0, 0).pages(), "not repacked: page 1 emptied and went back");
        assertEquals(0, cache.takeDelta().slotMoves().length);
        cache.reserve(1, 1);
        cache.takeDelta();
        cache.commit(new long[] {1}, new Decisions[] {new Decisions(1, 1, 1, new byte[1], 0)}, new boolean[] {true});
        assertEquals(2, cache.sequence(1).head(0, 0).pages(), "repacked: 7 tokens in 2 pages");
        assertTrue(cache.takeDelta().slotMoves().length > 0);
        assertEquals(new TreeSet<>(List.of(3, 9, 14, 17, 18, 19, 20)), stored(cache.sequence(1).head(0, 0)));
    }

    /**
     * Random flags, random chunks, several heads, repack on against off: the same positions stored in every head
     * after every step, never more pages held, and the backend's tables (DeviceTables) mirror the heads.
     */
    @Test
    void repackedHeadsHoldWhatUnrepackedOnesHoldInFewerPages() {
        Random random = new Random(23);
        boolean[][] flags = new boolean[4][600];
        for (boolean[] head : flags) {
            for (int k = 0; k < head.length; k++) {
                head[k] = random.nextInt(8) != 0;
            }
        }
        KvCacheManager on = new KvCacheManager(2, 2, 4, 2000, 2, 256, true);
        KvCacheManager off = new KvCacheManager(2, 2, 4, 2000, 2, 256, false);
        KvCacheManagerTest.DeviceTables device = new KvCacheManagerTest.DeviceTables(4, 256);
        on.open(1, window(5));
        off.open(1, window(5));
        int processed = 0;
        int repacked = 0;
        while (processed < 560) {
            int length = processed < 400 ? 1 + random.nextInt(60) : 1;
            for (KvCacheManager cache : List.of(on, off)) {
                cache.reserve(1, length);
                byte[] bits = new byte[length * 4];
                for (int c = 0; c < length; c++) {
                    for (int h = 0; h < 4; h++) {
                        bits[c * 4 + h] = (byte) (processed + c > 0 && flags[h][processed + c - 1] ? 1 : 0);
                    }
                }
                cache.commit(1, new Decisions(length, 2, 2, bits, 0));
            }
            PageTableDelta delta = on.takeDelta();
            repacked += delta.slotMoves().length > 0 ? 1 : 0;
            device.apply(delta);
            off.takeDelta();
            processed += length;
            for (int l = 0; l < 2; l++) {
                for (int h = 0; h < 2; h++) {
                    HeadCache a = on.sequence(1).head(l, h);
                    HeadCache b = off.sequence(1).head(l, h);
                    assertEquals(stored(b), stored(a), "head " + l + "," + h + " at " + processed);
                    assertTrue(a.pages() <= b.pages());
                    device.assertMirrors(a, l * 2 + h);
                }
            }
        }
        assertTrue(repacked > 5, "repacked in " + repacked + " steps");
        assertTrue(on.pagesInUse() < off.pagesInUse(), on.pagesInUse() + " against " + off.pagesInUse());
    }
}
