package io.dmsserve.kvcache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dmsserve.dms.Decisions;
import io.dmsserve.dms.DmsSettings;
import io.dmsserve.dms.EvictionPolicies;
import io.dmsserve.dms.EvictionPolicy;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The batch calls of {@link KvCacheManager} spread a large step's layers over threads ({@link LayerParallel}); the
 * bookkeeping they leave must be what the one-sequence-at-a-time calls leave: the same tokens in the same local
 * slots of every head, the same flags, live and evicted counts, pages held, and a page-table journal that rebuilds
 * each head's table exactly. Only which pool page backs an entry may differ.
 */
class ParallelBookkeepingTest {

    private static final int LAYERS = 8;
    private static final int KV_HEADS = 4;
    private static final int PAGE_SIZE = 4;
    private static final int SEQUENCES = 60;        // 40 evicting x 32 heads: above LayerParallel.MIN_HEAD_STEPS
    private static final int MAX_PAGES = 64;
    private static final int WINDOW = 3;

    @Test
    void batchCallsOnThreadsLeaveWhatSerialCallsLeave() {
        long evicting = SEQUENCES - SEQUENCES / 3;  // every third sequence keeps everything (below)
        assertThat(evicting * LAYERS * KV_HEADS).as("the step runs on threads")
                .isGreaterThanOrEqualTo(LayerParallel.MIN_HEAD_STEPS);
        int pages = SEQUENCES * LAYERS * KV_HEADS * MAX_PAGES;
        KvCacheManager serial = new KvCacheManager(LAYERS, KV_HEADS, PAGE_SIZE, pages, SEQUENCES, MAX_PAGES);
        KvCacheManager batched = new KvCacheManager(LAYERS, KV_HEADS, PAGE_SIZE, pages, SEQUENCES, MAX_PAGES);
        int[][] tables = new int[SEQUENCES * LAYERS * KV_HEADS][MAX_PAGES];  // batched's tables, from its journal
        int[] tableLength = new int[tables.length];
        for (int[] table : tables) {
            Arrays.fill(table, -1);
        }
        long[] ids = new long[SEQUENCES];
        for (int s = 0; s < SEQUENCES; s++) {
            ids[s] = s;
            // Every third sequence keeps everything: a step mixes policies.
            EvictionPolicy policy = s % 3 == 2 ? EvictionPolicies.create("none", 0f, null)
                    : EvictionPolicies.create("dms", 0f, new DmsSettings(WINDOW, 100, 5, 8));
            serial.open(s, policy);
            batched.open(s, policy);
        }
        SplittableRandom random = new SplittableRandom(5);
        for (int step = 0; step < 40; step++) {
            int[] lengths = new int[SEQUENCES];
            for (int s = 0; s < SEQUENCES; s++) {
                lengths[s] = step == 0 ? 1 + s % 9 : step % 10 == 5 ? 1 + random.nextInt(5) : 1;  // prompt chunks too
            }
            List<SlotReservation> reserved = batched.reserve(ids, lengths);
            Decisions[] decisions = new Decisions[SEQUENCES];
            for (int s = 0; s < SEQUENCES; s++) {
                SlotReservation one = serial.reserve(s, lengths[s]);
                assertThat(reserved.get(s).first()).isEqualTo(one.first());
                assertThat(reserved.get(s).length()).isEqualTo(lengths[s]);
                byte[] flags = new byte[lengths[s] * LAYERS * KV_HEADS];
                for (int i = 0; i < flags.length; i++) {
                    flags[i] = (byte) (random.nextInt(10) < 6 ? 1 : 0);
                }
                decisions[s] = new Decisions(lengths[s], LAYERS, KV_HEADS, flags, 0);
            }
            serial.takeDelta();
            replay(batched.takeDelta(), tables, tableLength);
            assertJournal(batched, tables, tableLength, step);  // what the backend's tables hold for the step
            for (int s = 0; s < SEQUENCES; s++) {
                serial.commit(s, decisions[s]);
            }
            batched.commit(ids, decisions);
            assertSame(serial, batched, step);
        }
        assertThat(batched.statistics().liveTokens()).isDeepEqualTo(serial.statistics().liveTokens());
        assertThat(batched.statistics().evictedTokens()).isDeepEqualTo(serial.statistics().evictedTokens());
        assertThat(Arrays.stream(serial.statistics().evictedTokens()).flatMapToLong(Arrays::stream).sum())
                .as("evictions happened").isPositive();
        for (long id : ids) {
            serial.release(id);
            batched.release(id);
        }
        assertThat(batched.pagesInUse()).isZero();
        assertThat(serial.pagesInUse()).isZero();
    }

    @Test
    void aFullPoolFailsTheBatchWithTheCacheFullErrorAfterEveryRangeStopped() {
        int heads = SEQUENCES * LAYERS * KV_HEADS;
        KvCacheManager cache = new KvCacheManager(LAYERS, KV_HEADS, PAGE_SIZE, heads - 7, SEQUENCES, MAX_PAGES);
        long[] ids = new long[SEQUENCES];
        int[] lengths = new int[SEQUENCES];
        for (int s = 0; s < SEQUENCES; s++) {
            ids[s] = s;
            lengths[s] = 1;
            cache.open(s, EvictionPolicies.create("dms", 0f, new DmsSettings(WINDOW, 100, 5, 8)));  // on threads
        }
        assertThatThrownBy(() -> cache.reserve(ids, lengths)).isInstanceOf(KvCacheFullException.class)
                .hasMessageContaining("KV cache is full");
        for (long id : ids) {
            cache.release(id);
        }
        assertThat(cache.pagesInUse()).as("releasing the step's sequences returns every page").isZero();
        assertThat(cache.freePages()).isEqualTo(heads - 7);
    }

    private static void replay(PageTableDelta delta, int[][] tables, int[] tableLength) {
        int[] writes = delta.pageWrites();
        for (int i = 0; i < writes.length; i += 3) {
            tables[writes[i]][writes[i + 1]] = writes[i + 2];
        }
        int[] lengths = delta.lengthWrites();
        for (int i = 0; i < lengths.length; i += 2) {
            tableLength[lengths[i]] = lengths[i + 1];
        }
    }

    /** The tables rebuilt from the journal equal every head's own, and no two entries share a pool page. */
    private static void assertJournal(KvCacheManager batched, int[][] tables, int[] tableLength, int step) {
        Set<Integer> used = new HashSet<>();
        for (int s = 0; s < SEQUENCES; s++) {
            SequenceKv b = batched.sequence(s);
            for (int l = 0; l < LAYERS; l++) {
                for (int h = 0; h < KV_HEADS; h++) {
                    HeadCache y = b.head(l, h);
                    int table = (b.row() * LAYERS + l) * KV_HEADS + h;
                    String where = "step " + step + ", sequence " + s + ", layer " + l + ", head " + h;
                    assertThat(tableLength[table]).as(where + ": journalled length").isEqualTo(y.pageTableSize());
                    for (int p = 0; p < y.pageTableSize(); p++) {
                        assertThat(tables[table][p]).as(where + ", journalled entry " + p).isEqualTo(y.page(p));
                        if (y.page(p) >= 0) {
                            assertThat(used.add(y.page(p))).as(where + ": page " + y.page(p) + " twice").isTrue();
                        }
                    }
                }
            }
        }
    }

    private static void assertSame(KvCacheManager serial, KvCacheManager batched, int step) {
        assertThat(batched.pagesInUse()).as("pages in use after step %d", step).isEqualTo(serial.pagesInUse());
        for (int s = 0; s < SEQUENCES; s++) {
            SequenceKv a = serial.sequence(s);
            SequenceKv b = batched.sequence(s);
            assertThat(b.processed()).isEqualTo(a.processed());
            for (int l = 0; l < LAYERS; l++) {
                for (int h = 0; h < KV_HEADS; h++) {
                    HeadCache x = a.head(l, h);
                    HeadCache y = b.head(l, h);
                    String where = "step " + step + ", sequence " + s + ", layer " + l + ", head " + h;
                    assertThat(y.live()).as(where).isEqualTo(x.live());
                    assertThat(y.pages()).as(where).isEqualTo(x.pages());
                    assertThat(y.pageTableSize()).as(where).isEqualTo(x.pageTableSize());
                    for (int p = 0; p < y.pageTableSize(); p++) {
                        assertThat(y.page(p) < 0).as(where + ", entry " + p).isEqualTo(x.page(p) < 0);
                    }
                    for (int slot = 0; slot < y.slotCapacity(); slot++) {
                        assertThat(y.position(slot)).as(where + ", slot " + slot).isEqualTo(x.position(slot));
                        assertThat(y.flagged(slot)).as(where + ", slot " + slot).isEqualTo(x.flagged(slot));
                    }
                }
            }
        }
    }
}
