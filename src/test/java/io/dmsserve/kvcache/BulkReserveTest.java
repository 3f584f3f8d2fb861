package io.dmsserve.kvcache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * {@code HeadCache.reserve(first, count, out, at)}, a run of tokens at once, against {@code reserve(position)} token by
 * token: two heads, each with its own pool and journal, live the same random history (runs of 1 to 70 tokens, DMS
 * flags and evictions a window later, repacks, pools that run short, a table that fills); after every run they hold
 * the same physical slots, the same table rows, the same free pool pages in the same order, the same counters, and
 * their journals give the same delta, write for write.
 */
class BulkReserveTest {

    private static final int PAGE = 16;
    private static final int WINDOW = 24;

    /** One head with its own pool, counters and journal. */
    private static final class Side {
        final PageAllocator pool;
        final CacheCounters counters = new CacheCounters(1, 1);
        final DeltaBuilder delta = new DeltaBuilder();
        final HeadCache head;

        Side(int poolPages, int maxPages, boolean window) {
            pool = new PageAllocator(poolPages);
            head = new HeadCache(pool, counters, counters.index(0, 0), delta, 3, maxPages, PAGE, window, WINDOW);
        }
    }

    @Test
    void aRunReservesWhatTokenByTokenReserves() {
        for (int seed = 0; seed < 40; seed++) {
            boolean window = seed % 4 != 0;  // every fourth keeps every token (no window ring)
            compare(seed, 4096, 4096, window, 0.8);
        }
    }

    @Test
    void aPoolThatRunsShortFailsAtTheSameTokenWithTheSameState() {
        for (int seed = 0; seed < 20; seed++) {
            Side one = new Side(37, 4096, true);
            Side run = new Side(37, 4096, true);
            Random random = new Random(seed);
            int position = 0;
            boolean failed = false;
            while (!failed) {
                int count = 1 + random.nextInt(70);
                int[] a = new int[count];
                int[] b = new int[count];
                RuntimeException byToken = null;
                RuntimeException byRun = null;
                try {
                    for (int c = 0; c < count; c++) {
                        a[c] = one.head.reserve(position + c);
                    }
                } catch (RuntimeException e) {
                    byToken = e;
                }
                try {
                    run.head.reserve(position, count, b, 0);
                } catch (RuntimeException e) {
                    byRun = e;
                }
                one.head.publishReserved();
                run.head.publishReserved();
                assertThat(b).as("seed %d", seed).isEqualTo(a);
                if (byToken != null) {
                    assertThat(byRun).as("seed %d: the run fails where the tokens did", seed)
                            .isInstanceOf(KvCacheFullException.class).hasMessage(byToken.getMessage());
                    assertThat(byToken).isInstanceOf(KvCacheFullException.class);
                    failed = true;
                } else {
                    assertThat(byRun).isNull();
                }
                same(one, run, "seed " + seed + " at " + position);
                commitRandomFlags(one, run, random, position, count, 0.7);
                position += count;
            }
            one.head.release();
            run.head.release();
            same(one, run, "seed " + seed + " released");
            assertThat(run.pool.freePages()).isEqualTo(37);
        }
    }

    @Test
    void aFullTableFailsAsTokenByTokenDoes() {
        Side one = new Side(100, 3, false);
        Side run = new Side(100, 3, false);
        int[] a = new int[50];
        int[] b = new int[50];
        assertThatThrownBy(() -> {
            for (int c = 0; c < 50; c++) {
                a[c] = one.head.reserve(c);
            }
        }).isInstanceOf(IllegalStateException.class).hasMessageContaining("beyond the 3 a table holds");
        assertThatThrownBy(() -> run.head.reserve(0, 50, b, 0))
                .isInstanceOf(IllegalStateException.class).hasMessageContaining("beyond the 3 a table holds");
        one.head.publishReserved();
        run.head.publishReserved();
        assertThat(b).isEqualTo(a);
        same(one, run, "full table");
        assertThat(run.pool.freePages()).as("no page kept outside the table").isEqualTo(97);
    }

    private static void compare(int seed, int poolPages, int maxPages, boolean window, double flagRate) {
        Side one = new Side(poolPages, maxPages, window);
        Side run = new Side(poolPages, maxPages, window);
        Random random = new Random(seed);
        int position = 0;
        for (int step = 0; step < 60; step++) {
            int count = 1 + random.nextInt(70);
            if (window) {
                one.head.evictBefore(position);
                run.head.evictBefore(position);
            }
            int[] a = new int[count + 3];
            int[] b = new int[count + 3];
            for (int c = 0; c < count; c++) {
                a[3 + c] = one.head.reserve(position + c);
            }
            run.head.reserve(position, count, b, 3);  // at an offset, as a head's part of a step's slots
            one.head.publishReserved();
            run.head.publishReserved();
            assertThat(b).as("seed %d step %d", seed, step).isEqualTo(a);
            same(one, run, "seed " + seed + " step " + step);
            if (window) {
                commitRandomFlags(one, run, random, position, count, flagRate);
            }
            position += count;
            if (step % 9 == 8) {
                IntList releasedOne = new IntList();
                IntList releasedRun = new IntList();
                assertThat(run.head.compact(releasedRun)).isEqualTo(one.head.compact(releasedOne));
                for (int page : releasedOne.take()) {
                    one.pool.release(page);
                }
                for (int page : releasedRun.take()) {
                    run.pool.release(page);
                }
                same(one, run, "seed " + seed + " repacked at step " + step);
            }
        }
        one.head.release();
        run.head.release();
        same(one, run, "seed " + seed + " released");
    }

    /** The same decisions into both heads: flags on the run's tokens, then what left the window goes. */
    private static void commitRandomFlags(Side one, Side run, Random random, int first, int count, double rate) {
        for (int c = 0; c < count; c++) {
            if (first + c > 0 && random.nextDouble() < rate) {
                one.head.flag(first + c - 1);
                run.head.flag(first + c - 1);
            }
        }
        int last = first + count - WINDOW - 2;
        assertThat(run.head.evictThrough(last)).isEqualTo(one.head.evictThrough(last));
    }

    private static void same(Side one, Side run, String where) {
        HeadCache a = one.head;
        HeadCache b = run.head;
        assertThat(b.pageTableSize()).as(where).isEqualTo(a.pageTableSize());
        assertThat(b.pages()).as(where).isEqualTo(a.pages());
        assertThat(b.live()).as(where).isEqualTo(a.live());
        for (int i = 0; i < a.pageTableSize(); i++) {
            assertThat(b.page(i)).as("%s: entry %d", where, i).isEqualTo(a.page(i));
        }
        for (int slot = 0; slot < a.slotCapacity(); slot++) {
            assertThat(b.position(slot)).as("%s: slot %d", where, slot).isEqualTo(a.position(slot));
            assertThat(b.flagged(slot)).as("%s: slot %d", where, slot).isEqualTo(a.flagged(slot));
        }
        assertThat(b.lastPhysicalSlot()).as(where).isEqualTo(a.lastPhysicalSlot());
        assertThat(run.pool.freePages()).as(where).isEqualTo(one.pool.freePages());
        assertThat(run.counters.pagesAt(0, 0)).as(where).isEqualTo(one.counters.pagesAt(0, 0));
        assertThat(run.counters.liveSnapshot()[0][0]).as(where).isEqualTo(one.counters.liveSnapshot()[0][0]);
        // The next pages either pool hands out: the free pages in the same order.
        int[] nextOne = new int[Math.min(8, one.pool.freePages())];
        int[] nextRun = new int[nextOne.length];
        one.pool.allocate(nextOne, nextOne.length);
        run.pool.allocate(nextRun, nextRun.length);
        assertThat(nextRun).as(where).isEqualTo(nextOne);
        for (int i = nextOne.length - 1; i >= 0; i--) {  // back on top in the order they came off
            one.pool.release(nextOne[i]);
            run.pool.release(nextRun[i]);
        }
        PageTableDelta da = one.delta.take();
        PageTableDelta db = run.delta.take();
        assertThat(db.pageWrites()).as("%s: page writes", where).isEqualTo(da.pageWrites());
        assertThat(db.lengthWrites()).as("%s: length writes", where).isEqualTo(da.lengthWrites());
        assertThat(db.freshPages()).as("%s: fresh pages", where).isEqualTo(da.freshPages());
        assertThat(db.slotMoves()).as("%s: slot moves", where).isEqualTo(da.slotMoves());
    }
}
