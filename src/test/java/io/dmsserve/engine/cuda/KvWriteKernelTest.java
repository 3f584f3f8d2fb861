package io.dmsserve.engine.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import io.dmsserve.engine.HalfAccess;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * kv_write.cu, the KV contract exactly: bf16 keys and values into each token's slot (a slot < 0 is skipped), the
 * position, the flag from the next token's decision (0 for a sequence's last token of the step), the previous
 * step's last token flagged by this step's first decision; nothing else changes.
 */
class KvWriteKernelTest extends GpuTest {

    @Test
    void writesKeysValuesAndFlagsAsTheContractSays() {
        SplittableRandom random = new SplittableRandom(7);
        KvWriteKernel kernel = new KvWriteKernel(context);
        for (int d : new int[] {128, 36, 4}) {
            int heads = 4;
            int kvHeads = 2;
            int layers = 2;
            int layer = 1;
            int pageSize = 8;
            int pageCount = 20;
            int slotCount = pageSize * pageCount;
            // Sequence 0: tokens 0..4 (positions 10..14, has a previous slot); 1: token 5 (position 0); 2: 6..8.
            int n = 9;
            int sequences = 3;
            int[] seqFirst = {0, 5, 6};
            int[] seqLength = {5, 1, 3};
            int[] seqOfToken = {0, 0, 0, 0, 0, 1, 2, 2, 2};
            int[] positions = {10, 11, 12, 13, 14, 0, 30, 31, 32};
            int stride = (heads + 2 * kvHeads) * d;
            float[] qkv = randomFloats(random, n * stride, 2f);
            List<Integer> free = new ArrayList<>();
            for (int s = 0; s < slotCount; s++) {
                free.add(s);
            }
            java.util.Collections.shuffle(free, new java.util.Random(d));
            int[] slots = new int[layers * kvHeads * n];
            Arrays.fill(slots, -7); // other layers: never read
            int next = 0;
            for (int h = 0; h < kvHeads; h++) {
                for (int i = 0; i < n; i++) {
                    slots[(layer * kvHeads + h) * n + i] = (i == 2 && h == 1) ? -1 : free.get(next++);
                }
            }
            int[] prevSlots = new int[layers * kvHeads * sequences];
            Arrays.fill(prevSlots, -1);
            prevSlots[(layer * kvHeads) * sequences] = free.get(next++);          // sequence 0, head 0
            prevSlots[(layer * kvHeads + 1) * sequences] = free.get(next++);      // sequence 0, head 1
            prevSlots[(layer * kvHeads + 1) * sequences + 2] = free.get(next++);  // sequence 2, head 1
            byte[] decisions = new byte[n * layers * kvHeads];
            for (int e = 0; e < decisions.length; e++) {
                decisions[e] = (byte) random.nextInt(2);
            }
            int[] slotPos0 = new int[slotCount];
            Arrays.fill(slotPos0, -5);
            byte[] slotFlag0 = new byte[slotCount];
            Arrays.fill(slotFlag0, (byte) 7);
            DeviceBuffer all = upload(qkv);
            DeviceBuffer keyCache = poisoned(2L * slotCount * d);
            DeviceBuffer valueCache = poisoned(2L * slotCount * d);
            DeviceBuffer slotPos = upload(slotPos0);
            DeviceBuffer slotFlag = upload(slotFlag0);
            kernel.write(all.slice(4L * heads * d, all.bytes() - 4L * heads * d), stride,
                    all.slice(4L * (heads + kvHeads) * d, all.bytes() - 4L * (heads + kvHeads) * d), stride, upload(slots),
                    upload(prevSlots), upload(decisions), upload(positions), upload(seqOfToken), upload(seqFirst),
                    upload(seqLength), n, sequences, layers, layer, kvHeads, d, keyCache, valueCache, slotPos, slotFlag,
                    slotCount);

            short[] keys = keyCache.toShorts();
            short[] values = valueCache.toShorts();
            int[] wantPos = slotPos0.clone();
            byte[] wantFlag = slotFlag0.clone();
            for (int h = 0; h < kvHeads; h++) {
                for (int i = 0; i < n; i++) {
                    int slot = slots[(layer * kvHeads + h) * n + i];
                    if (slot < 0) {
                        continue;
                    }
                    int s = seqOfToken[i];
                    boolean last = i == seqFirst[s] + seqLength[s] - 1;
                    wantPos[slot] = positions[i];
                    wantFlag[slot] = last ? 0 : decisions[((i + 1) * layers + layer) * kvHeads + h];
                    for (int c = 0; c < d; c++) {
                        assertThat(keys[slot * d + c]).as("D %d key of token %d head %d channel %d", d, i, h, c)
                                .isEqualTo(HalfAccess.floatToBf16(qkv[i * stride + (heads + h) * d + c]));
                        assertThat(values[slot * d + c]).as("D %d value of token %d head %d channel %d", d, i, h, c)
                                .isEqualTo(HalfAccess.floatToBf16(qkv[i * stride + (heads + kvHeads + h) * d + c]));
                    }
                }
                for (int s = 0; s < sequences; s++) {
                    int prev = prevSlots[(layer * kvHeads + h) * sequences + s];
                    if (prev >= 0) {
                        wantFlag[prev] = decisions[(seqFirst[s] * layers + layer) * kvHeads + h];
                    }
                }
            }
            assertThat(slotPos.toInts()).as("slotPos, D %d", d).containsExactly(wantPos);
            assertThat(slotFlag.toBytes()).as("slotFlag, D %d", d).containsExactly(wantFlag);
        }
    }
}
