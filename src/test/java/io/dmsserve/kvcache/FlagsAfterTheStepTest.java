package io.dmsserve.kvcache;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.dmsserve.dms.Decisions;
import io.dmsserve.dms.DmsRules;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * The split of DESIGN.md §4 holds: the host bookkeeping learns a step's DMS decisions only after the step,
 * and a device that knows nothing but the plan (page-table deltas, reserved slots) and its own decisions
 * still sees exactly the visible set of §3 at every query. Eviction happens a window later, so slots freed
 * from flags that arrive after a step are reused only once no query can see their token.
 *
 * <p>The device here is a model of the CUDA kernels' contract (native/README.md): per-slot position and flag,
 * written by kv_write from the step's own decisions, and page tables kept from deltas only. Several
 * sequences with different windows share a small pool, so pages move between sequences and rows are reused.
 */
class FlagsAfterTheStepTest {

    private static final int HEADS = 2;
    private static final int PAGE = 3;
    private static final int POOL = 40;

    /** What a device keeps: slot metadata and page tables, from deltas and its own decisions only. */
    static final class Device {
        final int[] position = new int[POOL * PAGE];
        final boolean[] flagged = new boolean[POOL * PAGE];
        final Map<Integer, int[]> tables = new HashMap<>();
        final Map<Integer, Integer> lengths = new HashMap<>();

        Device() {
            Arrays.fill(position, 12345); // garbage until a fresh-page reset or a write says otherwise
        }

        void apply(PageTableDelta delta) {
            for (int page : delta.freshPages()) {
                Arrays.fill(position, page * PAGE, (page + 1) * PAGE, -1);
                Arrays.fill(flagged, page * PAGE, (page + 1) * PAGE, false);
            }
            for (int i = 0; i < delta.pageWrites().length; i += 3) {
                int[] table = tables.computeIfAbsent(delta.pageWrites()[i], t -> new int[64]);
                table[delta.pageWrites()[i + 1]] = delta.pageWrites()[i + 2];
            }
            for (int i = 0; i < delta.lengthWrites().length; i += 2) {
                lengths.put(delta.lengthWrites()[i], delta.lengthWrites()[i + 1]);
            }
        }

        /** kv_write of one head: positions of the chunk, flags from the step's decisions (flag[k] by token k + 1). */
        void write(SlotReservation r, int head, boolean[] flag) {
            for (int c = 0; c < r.length(); c++) {
                int slot = r.slot(0, head, HEADS, c);
                position[slot] = r.first() + c;
                flagged[slot] = c + 1 < r.length() && flag[r.first() + c];
            }
            int previous = r.previousSlots()[head];
            if (previous >= 0) {
                flagged[previous] = flag[r.first() - 1];
            }
        }

        /** Positions a query at {@code q} sees by scanning its head's table, as the attention kernels do. */
        TreeSet<Integer> visible(int row, int head, int q, int window) {
            int table = row * HEADS + head;
            TreeSet<Integer> seen = new TreeSet<>();
            for (int e = 0; e < lengths.getOrDefault(table, 0); e++) {
                int page = tables.get(table)[e];
                if (page < 0) {
                    continue;
                }
                for (int slot = page * PAGE; slot < (page + 1) * PAGE; slot++) {
                    int p = position[slot];
                    if (p >= 0 && DmsRules.visible(q, p, flagged[slot], window)) {
                        if (!seen.add(p)) {
                            throw new AssertionError("position " + p + " visible twice (a stale slot)");
                        }
                    }
                }
            }
            return seen;
        }
    }

    /** A sequence of the simulation: its true flags per head, decided ahead, revealed one step at a time. */
    static final class Seq {
        final long id;
        final int window;
        final boolean[][] flag; // (head, position)
        int processed;

        Seq(long id, int window, int length, Random random) {
            this.id = id;
            this.window = window;
            this.flag = new boolean[HEADS][length];
            double rate = random.nextDouble();
            for (boolean[] head : flag) {
                for (int k = 0; k < length; k++) {
                    head[k] = random.nextDouble() < rate;
                }
            }
        }
    }

    @Test
    void aDeviceThatLearnsNothingButThePlanSeesExactlyTheVisibleSet() {
        Random random = new Random(11);
        for (int trial = 0; trial < 40; trial++) {
            KvCacheManager cache = new KvCacheManager(1, HEADS, PAGE, POOL, 3, 64);
            Device device = new Device();
            List<Seq> running = new ArrayList<>();
            long nextId = 0;
            int checkedQueries = 0;
            for (int round = 0; round < 120; round++) {
                if (running.size() < 3 && random.nextInt(4) == 0) {
                    Seq s = new Seq(nextId++, 1 + random.nextInt(5), 20 + random.nextInt(40), random);
                    cache.open(s.id, KvCacheManagerTest.window(s.window));
                    running.add(s);
                }
                if (running.isEmpty()) {
                    continue;
                }
                Seq s = running.get(random.nextInt(running.size()));
                int left = s.flag[0].length - s.processed;
                int length = Math.min(left, 1 + random.nextInt(random.nextBoolean() ? 1 : 9));
                if (cache.pagesToStore(s.id, length) > cache.freePages()) {
                    finish(cache, device, running, s); // the pool is full: this one gives way
                    continue;
                }
                SlotReservation r = cache.reserve(s.id, length);
                device.apply(cache.takeDelta());
                int row = cache.sequence(s.id).row();
                for (int h = 0; h < HEADS; h++) {
                    device.write(r, h, s.flag[h]);
                }
                for (int c = 0; c < length; c++) {
                    int q = s.processed + c;
                    for (int h = 0; h < HEADS; h++) {
                        assertEquals(expected(s.flag[h], q, s.window), device.visible(row, h, q, s.window),
                                "trial " + trial + ", sequence " + s.id + ", head " + h + ", query " + q);
                        checkedQueries++;
                    }
                }
                // Only now does the host learn what the step decided.
                byte[] bits = new byte[length * HEADS];
                for (int c = 0; c < length; c++) {
                    for (int h = 0; h < HEADS; h++) {
                        int k = s.processed + c - 1;
                        bits[c * HEADS + h] = (byte) (k >= 0 && s.flag[h][k] ? 1 : 0);
                    }
                }
                cache.commit(s.id, new Decisions(length, 1, HEADS, bits, 0));
                s.processed += length;
                if (s.processed == s.flag[0].length || random.nextInt(30) == 0) {
                    finish(cache, device, running, s);
                }
            }
            for (Seq s : List.copyOf(running)) {
                finish(cache, device, running, s);
            }
            assertEquals(0, cache.statistics().pagesInUse());
            assertEquals(true, checkedQueries > 500, "trial " + trial + " checked " + checkedQueries);
        }
    }

    private static void finish(KvCacheManager cache, Device device, List<Seq> running, Seq s) {
        cache.release(s.id);
        device.apply(cache.takeDelta());
        running.remove(s);
    }

    /** DESIGN.md §3: query q sees k ≤ q unless k is flagged and q − k > w. */
    private static TreeSet<Integer> expected(boolean[] flag, int q, int w) {
        TreeSet<Integer> visible = new TreeSet<>();
        for (int k = 0; k <= q; k++) {
            if (!(flag[k] && q - k > w)) {
                visible.add(k);
            }
        }
        return visible;
    }
}
