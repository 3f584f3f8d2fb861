package io.dmsserve.kvcache;

import static io.dmsserve.kvcache.KvCacheManagerTest.stored;
import static io.dmsserve.kvcache.KvCacheManagerTest.window;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dmsserve.dms.Decisions;
import java.util.HashSet;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * {@link KvCacheManager#fork}: a copy of a sequence's cache in pages of its own, with exact page ids, table writes
 * and page copies in the delta, and the two sequences going on independently.
 */
class ForkTest {

    /** A cache of one layer, one head, pages of 4, 20 pages: sequence 1 has stored {@code tokens}, none flagged. */
    private static KvCacheManager oneHead(int tokens) {
        KvCacheManager cache = new KvCacheManager(1, 1, 4, 20, 4, 16);
        cache.open(1, window(2));
        cache.reserve(1, tokens);
        cache.commit(1, new Decisions(tokens, 1, 1, new byte[tokens], 0));
        cache.takeDelta();
        return cache;
    }

    /** One layer, one head, pages of 4: sequence 1 stores 10 tokens (pages 0, 1, 2); its copy gets 3, 4, 5. */
    @Test
    void aCopyTakesPagesOfItsOwnAndTheDeltaCopiesThemInTableOrder() {
        KvCacheManager cache = oneHead(10);
        SequenceKv copy = cache.fork(1, 2);
        PageTableDelta delta = cache.takeDelta();
        assertArrayEquals(new int[] {0, 3, 1, 4, 2, 5}, delta.pageCopies());
        assertArrayEquals(new int[] {1, 0, 3, 1, 1, 4, 1, 2, 5}, delta.pageWrites(), "row 1's table: head 1");
        assertArrayEquals(new int[] {1, 3}, delta.lengthWrites());
        assertArrayEquals(new int[0], delta.freshPages(), "copied pages are filled by the copy, not emptied");
        assertArrayEquals(new int[] {0, 3}, delta.copyRounds(20), "one round");
        assertEquals(10, copy.processed());
        assertEquals(stored(cache.sequence(1).head(0, 0)), stored(copy.head(0, 0)));
        assertEquals(6, cache.pagesInUse());
        assertEquals(10, copy.head(0, 0).live());
        assertEquals(20L, cache.statistics().totalLiveTokens());
        // The next token of each goes to the same local slot, in its own page.
        SlotReservation a = cache.reserve(1, 1);
        SlotReservation b = cache.reserve(2, 1);
        assertEquals(2 * 4 + 2, a.slots()[0]);
        assertEquals(5 * 4 + 2, b.slots()[0]);
        assertEquals(2 * 4 + 1, a.previousSlots()[0]);
        assertEquals(5 * 4 + 1, b.previousSlots()[0]);
    }

    /**
     * Random flags over a long run leave holes and free slots; a copy made between steps then goes on with the same
     * flags as its source: the same positions stored step after step, the same slots within the head, never a page
     * of the other's, and the delta's copies and table writes bring the backend's tables to the copy's.
     */
    @Test
    void aCopyGoesOnAsItsSourceInPagesNeverShared() {
        Random random = new Random(5);
        int w = 3;
        KvCacheManager cache = new KvCacheManager(2, 2, 4, 400, 4, 64);
        cache.open(1, window(w));
        boolean[][] flags = new boolean[4][200];
        for (boolean[] head : flags) {
            for (int k = 0; k < head.length; k++) {
                head[k] = random.nextInt(4) != 0;
            }
        }
        int processed = 0;
        while (processed < 90) {
            int length = 1 + random.nextInt(7);
            step(cache, 1, flags, processed, length);
            processed += length;
        }
        cache.takeDelta();
        SequenceKv source = cache.sequence(1);
        int holes = 0;
        int freeSlots = 0;
        for (int l = 0; l < 2; l++) {
            for (int h = 0; h < 2; h++) {
                HeadCache head = source.head(l, h);
                for (int i = 0; i < head.pageTableSize(); i++) {
                    holes += head.page(i) < 0 ? 1 : 0;
                }
                freeSlots += head.pages() * 4 - head.live();
            }
        }
        assertTrue(holes > 0 && freeSlots > 0, "the source has holes (" + holes + ") and free slots (" + freeSlots
                + ")");
        int pagesBefore = cache.pagesInUse();
        SequenceKv copy = cache.fork(1, 2);
        assertEquals(2 * pagesBefore, cache.pagesInUse());
        PageTableDelta delta = cache.takeDelta();
        assertEquals(2 * pagesBefore, delta.pageCopies().length, "every page of the source copied once");
        for (int s = 0; s < 20; s++) {
            step(cache, 1, flags, processed, 1);
            step(cache, 2, flags, processed, 1);
            processed++;
            Set<Integer> pagesOfSource = new HashSet<>();
            for (int l = 0; l < 2; l++) {
                for (int h = 0; h < 2; h++) {
                    HeadCache a = source.head(l, h);
                    HeadCache b = copy.head(l, h);
                    assertEquals(stored(a), stored(b), "head " + l + "," + h + " after step " + s);
                    assertEquals(a.live(), b.live());
                    assertEquals(a.pageTableSize(), b.pageTableSize());
                    for (int slot = 0; slot < a.slotCapacity(); slot++) {
                        assertEquals(a.position(slot), b.position(slot));
                        assertEquals(a.flagged(slot), b.flagged(slot));
                    }
                    for (int i = 0; i < a.pageTableSize(); i++) {
                        assertEquals(a.page(i) < 0, b.page(i) < 0, "holes in the same entries");
                        pagesOfSource.add(a.page(i));
                    }
                }
            }
            for (int l = 0; l < 2; l++) {
                for (int h = 0; h < 2; h++) {
                    HeadCache b = copy.head(l, h);
                    for (int i = 0; i < b.pageTableSize(); i++) {
                        assertFalse(b.page(i) >= 0 && pagesOfSource.contains(b.page(i)), "a page shared");
                    }
                }
            }
        }
        cache.release(1);
        cache.release(2);
        assertEquals(0, cache.pagesInUse());
        assertEquals(0L, cache.statistics().totalLiveTokens());
    }

    /** The head's decisions, as the engine commits them: token k's flag comes with the decision of token k + 1. */
    private static void step(KvCacheManager cache, long id, boolean[][] flags, int first, int length) {
        cache.reserve(id, length);
        byte[] bits = new byte[length * 4];
        for (int c = 0; c < length; c++) {
            for (int head = 0; head < 4; head++) {
                bits[c * 4 + head] = (byte) (first + c > 0 && flags[head][first + c - 1] ? 1 : 0);
            }
        }
        cache.commit(id, new Decisions(length, 2, 2, bits, 0));
    }

    @Test
    void aCopyOfACopyBeforeAnyStepCopiesInTwoRounds() {
        KvCacheManager cache = oneHead(5);
        cache.fork(1, 2);
        cache.fork(2, 3);
        PageTableDelta delta = cache.takeDelta();
        assertArrayEquals(new int[] {0, 2, 1, 3, 2, 4, 3, 5}, delta.pageCopies());
        assertArrayEquals(new int[] {0, 2, 4}, delta.copyRounds(20), "3's copies read pages 2's write");
    }

    @Test
    void copyRoundsEndBeforeAPairThatDependsOnTheRound() {
        int[] none = {};
        // (3, 5) reads what (0, 3) writes; then (6, 1) writes what (1, 4) read, but in a later round: no new one.
        assertArrayEquals(new int[] {0, 2, 4},
                new PageTableDelta(none, none, none, new int[] {0, 3, 1, 4, 3, 5, 6, 1}).copyRounds(8));
        // A page written twice, a page written after it was read in the same round.
        assertArrayEquals(new int[] {0, 1, 2},
                new PageTableDelta(none, none, none, new int[] {0, 3, 1, 3}).copyRounds(8));
        assertArrayEquals(new int[] {0, 1, 2},
                new PageTableDelta(none, none, none, new int[] {2, 3, 4, 2}).copyRounds(8));
        assertArrayEquals(new int[] {0}, PageTableDelta.EMPTY.copyRounds(8));
    }

    /** A page handed out fresh and given back since the last step, then taken by a copy: the copy fills it. */
    @Test
    void aFreshPageTakenByACopyIsNotEmptiedAfterTheCopy() {
        KvCacheManager cache = oneHead(4);
        cache.open(9, window(2));
        cache.reserve(9, 2);   // page 1, fresh
        cache.release(9);      // back on top of the pool
        cache.fork(1, 2);      // takes page 1
        PageTableDelta delta = cache.takeDelta();
        assertArrayEquals(new int[] {0, 1}, delta.pageCopies());
        assertArrayEquals(new int[0], delta.freshPages());
    }

    @Test
    void aForkNeedsAnIdleSourceAFreeIdAndPagesForTheWholeCopy() {
        KvCacheManager cache = new KvCacheManager(1, 1, 4, 5, 4, 16);
        cache.open(1, window(2));
        cache.reserve(1, 12);
        assertThrows(IllegalStateException.class, () -> cache.fork(1, 2), "a step in flight");
        cache.commit(1, new Decisions(12, 1, 1, new byte[12], 0));
        cache.open(2, window(2));
        assertThrows(IllegalStateException.class, () -> cache.fork(1, 2), "2 is open");
        assertThrows(IllegalArgumentException.class, () -> cache.fork(7, 3), "no sequence 7");
        cache.takeDelta();
        KvCacheFullException full = assertThrows(KvCacheFullException.class, () -> cache.fork(1, 3));
        assertTrue(full.getMessage().contains("needs 3 pages, 2 of 5 are free"), full.getMessage());
        assertEquals(3, cache.pagesInUse());
        assertEquals(2, cache.statistics().sequences());
        assertTrue(cache.takeDelta().isEmpty(), "nothing recorded");
    }
}
