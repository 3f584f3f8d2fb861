package io.dmsserve.kvcache;

import static io.dmsserve.kvcache.KvCacheManagerTest.window;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dmsserve.dms.Decisions;
import io.dmsserve.dms.DmsRules;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * A backend's view of the cache under repacking, slot by slot: slot positions and flags written as a device writes
 * them (a token's position into its slot, its flag into its slot when the next token's decision comes), every delta
 * applied as a backend applies it (moves, fresh pages, tables). After every step, in every head, the tokens the next
 * query can see through the backend's table are exactly the host's live tokens, none twice, flags included. 30 seeds
 * of CudaGoldenTest's long mixed workload shape (pages of 16, window 16, chunks of 1 to 96).
 */
class RepackMirrorTest {

    private static final int PAGE = 16;
    private static final int LAYERS = 3;
    private static final int KV = 2;
    private static final int HEADS = LAYERS * KV;
    private static final int ROWS = 4;
    private static final int MAX_PAGES = 256;
    private static final int POOL = 3000;
    private static final int WINDOW = 16;

    /** The backend's copy: slot metadata and page tables. */
    private static final class Mirror {
        final int[] position = new int[POOL * PAGE];
        final boolean[] flag = new boolean[POOL * PAGE];
        final int[][] table = new int[ROWS * HEADS][MAX_PAGES];
        final int[] length = new int[ROWS * HEADS];

        Mirror() {
            Arrays.fill(position, -1);
        }

        void apply(PageTableDelta d) {
            int[] m = d.slotMoves();
            for (int i = 0; i < m.length; i += 3) {
                if (m[i] < 0) {
                    Arrays.fill(position, m[i + 1], m[i + 1] + m[i + 2], -1);
                    Arrays.fill(flag, m[i + 1], m[i + 1] + m[i + 2], false);
                } else {
                    System.arraycopy(position, m[i], position, m[i + 1], m[i + 2]);
                    System.arraycopy(flag, m[i], flag, m[i + 1], m[i + 2]);
                }
            }
            for (int p : d.freshPages()) {
                Arrays.fill(position, p * PAGE, (p + 1) * PAGE, -1);
                Arrays.fill(flag, p * PAGE, (p + 1) * PAGE, false);
            }
            int[] w = d.pageWrites();
            for (int i = 0; i < w.length; i += 3) {
                table[w[i]][w[i + 1]] = w[i + 2];
            }
            int[] l = d.lengthWrites();
            for (int i = 0; i < l.length; i += 2) {
                length[l[i]] = l[i + 1];
            }
        }
    }

    @Test
    void theBackendsViewIsTheHostsAfterEveryStep() {
        int repacks = 0;
        for (int seed = 0; seed < 30; seed++) {
            Random random = new Random(seed);
            KvCacheManager cache = new KvCacheManager(LAYERS, KV, PAGE, POOL, ROWS, MAX_PAGES, true);
            Mirror device = new Mirror();
            int[] total = {1800, 1500, 1700};
            int[] prompts = {1500, 1200, 1400};
            int[] fed = new int[3];
            for (int s = 0; s < 3; s++) {
                cache.open(s, window(WINDOW));
            }
            boolean more = true;
            while (more) {
                List<Integer> ids = new ArrayList<>();
                List<Integer> lengths = new ArrayList<>();
                for (int s = 0; s < 3; s++) {
                    if (fed[s] < total[s]) {
                        ids.add(s);
                        lengths.add(fed[s] < prompts[s] ? Math.min(prompts[s] - fed[s], 1 + random.nextInt(96)) : 1);
                    }
                }
                long[] step = ids.stream().mapToLong(Integer::longValue).toArray();
                int[] length = lengths.stream().mapToInt(Integer::intValue).toArray();
                List<SlotReservation> reserved = cache.reserve(step, length);
                device.apply(cache.takeDelta());
                Decisions[] decisions = new Decisions[step.length];
                for (int i = 0; i < step.length; i++) {
                    decisions[i] = write(device, reserved.get(i), length[i], random);
                }
                cache.commit(step, decisions);
                for (int i = 0; i < step.length; i++) {
                    fed[(int) step[i]] += length[i];
                }
                PageTableDelta next = cache.takeDelta();   // what the next step would carry, applied now
                repacks += next.slotMoves().length > 0 ? 1 : 0;
                device.apply(next);
                for (int s = 0; s < 3; s++) {
                    assertMirrors(cache.sequence(s), device, fed[s], "seed " + seed + ", sequence " + s + " at " + fed[s]);
                }
                more = fed[0] < total[0] || fed[1] < total[1] || fed[2] < total[2];
            }
        }
        assertTrue(repacks > 100, repacks + " steps repacked");
    }

    /** The step's writes as a device makes them, with random decisions (7 in 8 flag). */
    private static Decisions write(Mirror device, SlotReservation r, int length, Random random) {
        byte[] bits = new byte[length * HEADS];
        for (int c = 0; c < length; c++) {
            for (int h = 0; h < HEADS; h++) {
                bits[c * HEADS + h] = (byte) (r.first() + c > 0 && random.nextInt(8) != 0 ? 1 : 0);
            }
        }
        for (int lh = 0; lh < HEADS; lh++) {
            for (int c = 0; c < length; c++) {
                int slot = r.slots()[lh * length + c];
                device.position[slot] = r.first() + c;
                device.flag[slot] = false;
                int previous = c == 0 ? r.previousSlots()[lh] : r.slots()[lh * length + c - 1];
                if (bits[c * HEADS + lh] == 1 && previous >= 0) {
                    device.flag[previous] = true;
                }
            }
        }
        return new Decisions(length, LAYERS, KV, bits, 0);
    }

    private static void assertMirrors(SequenceKv sequence, Mirror device, int processed, String what) {
        int invisible = DmsRules.lastEvictable(processed, WINDOW);
        for (int l = 0; l < LAYERS; l++) {
            for (int h = 0; h < KV; h++) {
                HeadCache head = sequence.head(l, h);
                int t = (sequence.row() * LAYERS + l) * KV + h;
                assertEquals(head.pageTableSize(), device.length[t], what + ": table length");
                TreeMap<Integer, Boolean> host = new TreeMap<>();
                for (int slot = 0; slot < head.slotCapacity(); slot++) {
                    if (head.position(slot) >= 0) {
                        host.put(head.position(slot), head.flagged(slot));
                    }
                }
                TreeMap<Integer, Boolean> seen = new TreeMap<>();
                for (int e = 0; e < device.length[t]; e++) {
                    int page = device.table[t][e];
                    for (int o = 0; page >= 0 && o < PAGE; o++) {
                        int position = device.position[page * PAGE + o];
                        boolean flagged = device.flag[page * PAGE + o];
                        // Evicted slots keep their bytes until reused; the DMS rule hides them (flagged and old).
                        if (position >= 0 && !(flagged && position <= invisible)) {
                            assertNull(seen.put(position, flagged), what + ": position " + position + " twice");
                        }
                    }
                }
                assertEquals(host, seen, what + ", head " + l + "," + h);
            }
        }
    }
}
