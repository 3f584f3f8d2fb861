package io.dmsserve.engine.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import io.dmsserve.dms.DmsRules;
import io.dmsserve.engine.cpu.CpuReference;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * qknorm_rope.cu against the CPU backend's sequence: Ops.rmsNorm per head with q_norm/k_norm, the decision of
 * DmsRules.decisionLogit compared with each sequence's threshold, the channel zeroed, Rope.rotate, zeroed again.
 * Values: 2e-6 relative (the sum of squares in another order). Decisions: exact, except where the CPU's
 * logit lies within 1e-3 of the threshold (a last-bit difference of the normed value, times alpha_scale 100,
 * may move it across). The v part of the fused rows is never written.
 */
class QkNormRopeKernelTest extends GpuTest {

    record Case(int heads, int kvHeads, int headDim, int n, boolean dms) {
    }

    @Test
    void matchesTheCpuForDmsAndPlainModels() {
        SplittableRandom random = new SplittableRandom(3);
        QkNormRopeKernel kernel = new QkNormRopeKernel(context);
        double theta = 1e6;
        int ropePositions = 40960;
        for (Case c : new Case[] {new Case(4, 2, 32, 17, true), new Case(32, 8, 128, 3, true),
            new Case(6, 3, 36, 5, false), new Case(4, 4, 4, 1, true), new Case(2, 1, 200, 2, true),
            new Case(16, 8, 128, 17, false)}) {
            int layers = 3;
            int layer = 1;
            float eps = 1e-6f;
            int d = c.headDim();
            int stride = (c.heads() + 2 * c.kvHeads()) * d; // fused q|k|v rows
            float[] qkv0 = randomFloats(random, c.n() * stride, 3f);
            short[] qNormBits = randomBf16(random, d, 1.5f);
            short[] kNormBits = randomBf16(random, d, 1.5f);
            int[] positions = new int[c.n()];
            int[] seqOfToken = new int[c.n()];
            for (int i = 0; i < c.n(); i++) {
                seqOfToken[i] = i < c.n() / 2 ? 0 : 1;
                positions[i] = random.nextInt(ropePositions);
            }
            float[] thresholds = {0.05f, 0f, 0.5f, 0.1f, Float.POSITIVE_INFINITY, 1e30f}; // (S = 2, layers)
            DeviceBuffer qkv = upload(qkv0);
            DeviceBuffer k = qkv.slice(4L * c.heads() * d, qkv.bytes() - 4L * c.heads() * d);
            DeviceBuffer decisions = poisoned((long) c.n() * layers * c.kvHeads());
            DeviceBuffer rope = upload(QkNormRopeKernel.ropeTable(d, theta, ropePositions));
            double alphaScale = 100;
            double alphaOffset = 5;
            kernel.apply(qkv, stride, k, stride, upload(qNormBits), upload(kNormBits), rope, ropePositions,
                    upload(positions), c.n(), c.heads(), c.kvHeads(), d, eps, c.dms(), alphaScale, alphaOffset,
                    upload(seqOfToken), upload(thresholds), 2, layers, layer, decisions);

            float[] want = qkv0.clone();
            float[] qw = widen(qNormBits);
            float[] kw = widen(kNormBits);
            int group = c.heads() / c.kvHeads();
            byte[] got = decisions.toBytes();
            for (int i = 0; i < c.n(); i++) {
                int row = i * stride;
                for (int h = 0; h < c.heads(); h++) {
                    CpuReference.rmsNorm(want, row + h * d, want, row + h * d, qw, d, eps);
                }
                for (int h = 0; h < c.kvHeads(); h++) {
                    CpuReference.rmsNorm(want, row + (c.heads() + h) * d, want, row + (c.heads() + h) * d, kw, d, eps);
                }
                if (c.dms()) {
                    for (int h = 0; h < c.kvHeads(); h++) {
                        int channel = row + h * group * d + d - 1;
                        float logit = DmsRules.decisionLogit(want[channel], alphaScale, alphaOffset);
                        float threshold = thresholds[seqOfToken[i] * layers + layer];
                        if (Math.abs(logit - threshold) > 1e-3) {
                            assertThat(got[(i * layers + layer) * c.kvHeads() + h]).as("decision of token %d head %d", i, h)
                                    .isEqualTo((byte) (logit > threshold ? 1 : 0));
                        }
                        want[channel] = 0f;
                    }
                }
                for (int h = 0; h < c.heads() + c.kvHeads(); h++) {
                    CpuReference.rotate(d, theta, want, row + h * d, positions[i]);
                }
                if (c.dms()) {
                    for (int h = 0; h < c.kvHeads(); h++) {
                        want[row + h * group * d + d - 1] = 0f;
                    }
                }
            }
            assertClose("q|k|v after qknorm_rope " + c, qkv.toFloats(), want, 2e-6, 2e-6);
            if (c.dms()) {
                for (int i = 0; i < c.n(); i++) {
                    for (int l = 0; l < layers; l++) {
                        for (int h = 0; h < c.kvHeads(); h++) {
                            if (l != layer) {
                                assertThat(got[(i * layers + l) * c.kvHeads() + h]).as("other layers untouched")
                                        .isEqualTo((byte) -1);
                            }
                        }
                    }
                }
            }
        }
    }

    /**
     * A decode step's fused kernel ({@link QkNormRopeKernel#applyAndWrite}) gives what qknorm_rope then kv_write give,
     * bit for bit: q|k|v, decisions, keys, values, slot positions and flags, the previous tokens' flags included;
     * skipped slots (-1) and a sequence without a previous slot; with and without DMS.
     */
    @Test
    void fusedKvWriteIsRopeThenKvWrite() {
        SplittableRandom random = new SplittableRandom(31);
        QkNormRopeKernel kernel = new QkNormRopeKernel(context);
        KvWriteKernel kvWrite = new KvWriteKernel(context);
        int ropePositions = 4096;
        for (Case c : new Case[] {new Case(4, 2, 32, 7, true), new Case(32, 8, 128, 16, true),
            new Case(6, 3, 36, 5, false), new Case(4, 4, 4, 1, true), new Case(32, 8, 128, 3, false)}) {
            int layers = 3;
            int layer = 2;
            int d = c.headDim();
            int n = c.n();
            int stride = (c.heads() + 2 * c.kvHeads()) * d;
            int pageCount = Math.max(64, layers * c.kvHeads() * n);  // room for 2 distinct slots a (layer, head, token)
            int slotCount = 4 * pageCount;
            float[] qkv0 = randomFloats(random, n * stride, 3f);
            DeviceBuffer qNorm = upload(randomBf16(random, d, 1.5f));
            DeviceBuffer kNorm = upload(randomBf16(random, d, 1.5f));
            DeviceBuffer rope = upload(QkNormRopeKernel.ropeTable(d, 1e6, ropePositions));
            int[] positions = new int[n];
            int[] seqOfToken = new int[n];
            int[] first = new int[n];
            int[] length = new int[n];
            float[] thresholds = new float[n * layers];
            for (int i = 0; i < n; i++) {
                seqOfToken[i] = i;
                first[i] = i;
                length[i] = 1;
                positions[i] = random.nextInt(ropePositions);
            }
            for (int i = 0; i < thresholds.length; i++) {
                thresholds[i] = (random.nextInt(5) - 2) * 0.05f;
            }
            int[] order = random.ints(0, slotCount).distinct().limit(2L * layers * c.kvHeads() * n).toArray();
            int[] slots = new int[layers * c.kvHeads() * n];
            int[] prevSlots = new int[layers * c.kvHeads() * n];
            for (int e = 0; e < slots.length; e++) {
                slots[e] = e % 7 == 3 ? -1 : order[e];
                prevSlots[e] = e % 5 == 1 ? -1 : order[slots.length + e];
            }
            DeviceBuffer[] results = new DeviceBuffer[12];
            for (int run = 0; run < 2; run++) {
                DeviceBuffer qkv = upload(qkv0);
                DeviceBuffer k = qkv.slice(4L * c.heads() * d, qkv.bytes() - 4L * c.heads() * d);
                DeviceBuffer v = qkv.slice(4L * (c.heads() + c.kvHeads()) * d,
                        qkv.bytes() - 4L * (c.heads() + c.kvHeads()) * d);
                DeviceBuffer decisions = poisoned((long) n * layers * c.kvHeads());
                DeviceBuffer keyCache = poisoned(2L * slotCount * d);
                DeviceBuffer valueCache = poisoned(2L * slotCount * d);
                DeviceBuffer slotPos = poisoned(4L * slotCount);
                DeviceBuffer slotFlag = upload(new byte[slotCount]);
                slotFlag.fill(7);
                DeviceBuffer decided = c.dms() ? decisions : null;
                DeviceBuffer pos = upload(positions);
                DeviceBuffer seq = upload(seqOfToken);
                DeviceBuffer thr = upload(thresholds);
                DeviceBuffer slotBuffer = upload(slots);
                DeviceBuffer prevBuffer = upload(prevSlots);
                if (run == 0) {
                    kernel.apply(qkv, stride, k, stride, qNorm, kNorm, rope, ropePositions, pos, n, c.heads(),
                            c.kvHeads(), d, 1e-6f, c.dms(), 100, 5, seq, thr, n, layers, layer, decided);
                    kvWrite.write(k, stride, v, stride, slotBuffer, prevBuffer, decided, pos, seq, upload(first),
                            upload(length), n, n, layers, layer, c.kvHeads(), d, keyCache, valueCache, slotPos,
                            slotFlag, slotCount);
                } else {
                    AttentionKernel.Cache cache = new AttentionKernel.Cache(keyCache, valueCache, slotPos, slotFlag, 4,
                            pageCount, null, null, n, layers, c.kvHeads(), 1, d);
                    kernel.applyAndWrite(qkv, stride, k, stride, qNorm, kNorm, rope, ropePositions, pos, n, c.heads(),
                            c.kvHeads(), d, 1e-6f, c.dms(), 100, 5, seq, thr, layers, layer, decided,
                            new QkNormRopeKernel.KvTarget(v, stride, slotBuffer, prevBuffer, n, cache));
                }
                DeviceBuffer[] out = {qkv, decisions, keyCache, valueCache, slotPos, slotFlag};
                System.arraycopy(out, 0, results, run * 6, 6);
            }
            String[] names = {"q|k|v", "decisions", "keys", "values", "slot positions", "slot flags"};
            for (int r = 0; r < 6; r++) {
                assertThat(results[6 + r].toBytes()).as("%s of %s", names[r], c).isEqualTo(results[r].toBytes());
            }
            byte[] flags = results[11].toBytes();
            int flagged = 0;
            for (byte f : flags) {
                flagged += f == 1 ? 1 : 0;
            }
            if (c.dms()) {
                assertThat(flagged).as("previous tokens flagged by this step's decisions (%s)", c).isPositive();
            }
        }
    }
}
