package io.dmsserve.engine.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.fail;

import io.dmsserve.engine.HalfAccess;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * matmul.cu against sums in double. GEMV (fp32 x, bf16 W): fp32 accumulation in another order than the CPU,
 * error within 2e-6 * sqrt(k) of the sum of |products|. Tensor cores (bf16 A and W, fp32 accumulators): the
 * reference takes A rounded to bf16 as the kernel does, so only the accumulation order differs: 2e-6 * sqrt(k)
 * of the sum of |products|. Odd sizes (m, n, k not multiples of any tile; k % 8 != 0 takes the scalar/element
 * paths), row strides wider than the rows (the padding must stay untouched), plain and accumulating (y +=).
 * The split kernels (fp32 A as bf16 high part + rest) against sums of the fp32 activations.
 */
class MatMulKernelTest extends GpuTest {

    record Shape(int n, int m, int k) {
    }

    @Test
    void gemvMatchesDouble() {
        SplittableRandom random = new SplittableRandom(4);
        MatMulKernel kernel = new MatMulKernel(context);
        for (Shape s : new Shape[] {new Shape(1, 77, 72), new Shape(3, 100, 256), new Shape(8, 33, 1000),
            new Shape(5, 64, 100), new Shape(2, 300, 4096), new Shape(1, 5, 13), new Shape(7, 129, 8),
            new Shape(1, 4096, 4096), new Shape(4, 1024, 12288), new Shape(6, 2000, 72)}) {
            for (boolean accumulate : new boolean[] {false, true}) {
                int ldx = s.k() + (s.k() % 8 == 0 ? 8 : 3);
                int ldy = s.m() + 5;
                float[] x = randomFloats(random, s.n() * ldx, 1f);
                short[] w = randomBf16(random, s.m() * s.k(), 1f);
                float[] y0 = randomFloats(random, s.n() * ldy, 1f);
                DeviceBuffer y = accumulate ? upload(y0) : poisoned(4L * s.n() * ldy);
                float[] before = y.toFloats();
                kernel.gemv(upload(x), ldx, upload(w), y, ldy, s.n(), s.m(), s.k(), accumulate);
                check("gemv " + s + (accumulate ? " +=" : ""), y.toFloats(), before, x, ldx, widen(w), s, ldy, accumulate,
                        2e-6);
            }
        }
    }

    /** The w1|w3 GEMV ending in SwiGLU gives the plain GEMV followed by the SwiGLU kernel, bit for bit. */
    @Test
    void gemvSwiGluIsGemvThenSwiGlu() {
        SplittableRandom random = new SplittableRandom(41);
        MatMulKernel kernel = new MatMulKernel(context);
        SwiGluKernel swiGlu = new SwiGluKernel(context);
        for (Shape s : new Shape[] {new Shape(1, 77, 72), new Shape(3, 100, 256), new Shape(8, 33, 1000),
            new Shape(5, 300, 96), new Shape(1, 5, 13), new Shape(2, 129, 8), new Shape(1, 12288, 4096),
            new Shape(7, 2047, 512)}) {
            int inter = s.m();
            int ldx = s.k() + (s.k() % 8 == 0 ? 8 : 3);
            int ldh = inter + 3;
            float[] x = randomFloats(random, s.n() * ldx, 1f);
            DeviceBuffer xs = upload(x);
            DeviceBuffer w = upload(randomBf16(random, 2 * inter * s.k(), 1f));
            DeviceBuffer gu = poisoned(4L * s.n() * 2 * inter);
            kernel.gemv(xs, ldx, w, gu, 2 * inter, s.n(), 2 * inter, s.k(), false);
            DeviceBuffer want = poisoned(4L * s.n() * inter);
            swiGlu.apply(gu, 2 * inter, gu.slice(4L * inter, gu.bytes() - 4L * inter), 2 * inter, want, inter, null, 0,
                    s.n(), inter);
            DeviceBuffer h = poisoned(4L * s.n() * ldh);
            float[] before = h.toFloats();
            kernel.gemvSwiGlu(xs, ldx, w, h, ldh, s.n(), inter, s.k());
            float[] got = h.toFloats();
            float[] expected = want.toFloats();
            for (int t = 0; t < s.n(); t++) {
                for (int j = 0; j < ldh; j++) {
                    float e = j < inter ? expected[t * inter + j] : before[t * ldh + j];
                    if (Float.floatToRawIntBits(got[t * ldh + j]) != Float.floatToRawIntBits(e)) {
                        fail("gemvSwiGlu " + s + " at (" + t + ", " + j + "): " + got[t * ldh + j] + ", want " + e
                                + (j < inter ? "" : " (padding, untouched)"));
                    }
                }
            }
        }
    }

    @Test
    void lmHeadShapedGemv() {
        SplittableRandom random = new SplittableRandom(40);
        MatMulKernel kernel = new MatMulKernel(context);
        Shape s = new Shape(3, 151936, 64);
        float[] x = randomFloats(random, s.n() * s.k(), 1f);
        short[] w = randomBf16(random, s.m() * s.k(), 1f);
        DeviceBuffer y = poisoned(4L * s.n() * s.m());
        float[] before = y.toFloats();
        kernel.gemv(upload(x), s.k(), upload(w), y, s.m(), s.n(), s.m(), s.k(), false);
        check("lm_head gemv " + s, y.toFloats(), before, x, s.k(), widen(w), s, s.m(), false, 2e-6);
    }

    @Test
    void tensorCoreMatmulMatchesDouble() {
        SplittableRandom random = new SplittableRandom(5);
        MatMulKernel kernel = new MatMulKernel(context);
        for (Shape s : new Shape[] {new Shape(17, 77, 72), new Shape(100, 130, 136), new Shape(9, 256, 64),
            new Shape(130, 40, 100), new Shape(65, 129, 33), new Shape(300, 1000, 512), new Shape(1, 77, 72),
            new Shape(3, 151936, 32)}) {
            for (boolean accumulate : new boolean[] {false, true}) {
                int lda = s.k() % 8 == 0 ? s.k() + 8 : s.k() + 3;
                int ldc = s.m() + 3;
                short[] a = randomBf16(random, s.n() * lda, 1f);
                short[] w = randomBf16(random, s.m() * s.k(), 1f);
                float[] c0 = randomFloats(random, s.n() * ldc, 1f);
                DeviceBuffer c = accumulate ? upload(c0) : poisoned(4L * s.n() * ldc);
                float[] before = c.toFloats();
                kernel.matmul(upload(a), lda, upload(w), c, ldc, s.n(), s.m(), s.k(), accumulate);
                check("matmul " + s + (accumulate ? " +=" : ""), c.toFloats(), before, widen(a), lda, widen(w), s, ldc,
                        accumulate, 2e-6);
            }
        }
    }

    /**
     * Split-K (decode batches): each split's sums stored apart, then added in split order, so the result is within
     * the same bound and bit for bit the same on every run; odd k leaves a short last split.
     */
    @Test
    void splitKMatchesDoubleAndRepeatsExactly() {
        SplittableRandom random = new SplittableRandom(51);
        MatMulKernel kernel = new MatMulKernel(context);
        assertThat(MatMulKernel.splits(16, 4096, 4096, 132)).as("o_proj at batch 16 splits").isGreaterThan(1);
        assertThat(MatMulKernel.splits(2048, 4096, 4096, 132)).as("prefill does not split").isEqualTo(1);
        for (int[] c : new int[][] {{16, 333, 1000, 2}, {16, 333, 1000, 5}, {13, 200, 4104, 32}, {16, 4096, 4096, 0},
            {40, 130, 520, 3}}) {
            Shape s = new Shape(c[0], c[1], c[2]);
            int splits = c[3] == 0 ? MatMulKernel.splits(s.n(), s.m(), s.k(), context.info().multiprocessors()) : c[3];
            twice(random, "split-K x" + splits, s, 8, (a, lda, w, out, ldc, accumulate) ->
                    kernel.matmul(false, a, lda, w, out, ldc, s.n(), s.m(), s.k(), accumulate, splits), null);
        }
    }

    /**
     * The skinny kernel (decode batches), plain and double-buffered: every token-tile variant, odd m, k from one
     * chunk of 32 to 12288.
     */
    @Test
    void skinnyMatchesDoubleAndRepeatsExactly() {
        SplittableRandom random = new SplittableRandom(52);
        // "false": no warpgroup kernels, so that matmul routes every size here to the skinny kernel (on compute 9.0 the
        // warpgroup decode product takes those of up to 32 tokens: warpgroupSkinnyMatchesDoubleAndRepeatsExactly)
        MatMulKernel kernel = new MatMulKernel(context, false, "false");
        MatMulKernel pipelined = new MatMulKernel(context, true, "false");
        for (Shape s : new Shape[] {new Shape(1, 77, 32), new Shape(9, 333, 96), new Shape(16, 4096, 4096),
            new Shape(17, 50, 1024), new Shape(32, 129, 512), new Shape(33, 31, 256), new Shape(64, 200, 12288),
            new Shape(12, 6144, 64)}) {
            twice(random, "skinny", s, 16, (a, lda, w, out, ldc, accumulate) ->
                    kernel.skinny(false, a, lda, w, out, ldc, s.n(), s.m(), s.k(), accumulate),
                    (a, lda, w, out, ldc, accumulate) ->  // matmul routes these sizes to the skinny kernel
                            kernel.matmul(a, lda, w, out, ldc, s.n(), s.m(), s.k(), accumulate));
            // The double-buffered kernels sum the chunks in the same order: the same bits.
            twice(random, "skinny, double-buffered", s, 16, (a, lda, w, out, ldc, accumulate) ->
                    pipelined.skinny(false, a, lda, w, out, ldc, s.n(), s.m(), s.k(), accumulate),
                    (a, lda, w, out, ldc, accumulate) ->
                            kernel.skinny(false, a, lda, w, out, ldc, s.n(), s.m(), s.k(), accumulate));
        }
    }

    /**
     * The split kernels (fp32 activations as bf16 high part + rest): tiled (prefill sizes, odd ones, split-K) and
     * skinny, against sums in double of the fp32 activations within 2^-16 + 2e-6 sqrt(k) of the sum of |products|,
     * and at least 16 times closer at worst than the bf16 product of the same activations rounded.
     */
    @Test
    void splitActivationsMatchFp32Sums() {
        SplittableRandom random = new SplittableRandom(53);
        MatMulKernel kernel = new MatMulKernel(context);
        for (Shape s : new Shape[] {new Shape(17, 77, 72), new Shape(100, 130, 136), new Shape(130, 40, 100),
            new Shape(65, 129, 33), new Shape(300, 1000, 512), new Shape(16, 4096, 4096), new Shape(33, 31, 256),
            new Shape(64, 200, 12288), new Shape(9, 333, 96), new Shape(40, 130, 520)}) {
            int lda = s.k() % 8 == 0 ? s.k() + 8 : s.k() + 3;
            splitBeatsRounded(random, "split", s, lda, (a, ld, w, out, ldc, accumulate) ->
                    kernel.matmulSplit(a, ld, w, out, ldc, s.n(), s.m(), s.k(), accumulate),
                    (a, ld, w, out, ldc, accumulate) ->
                            kernel.matmul(a, ld, w, out, ldc, s.n(), s.m(), s.k(), accumulate));
        }
        // The split-K path of the split kernels (decode batches past the skinny kernel's rules).
        Shape s = new Shape(13, 200, 4104);
        twiceSplit(random, kernel, s, 3);
    }

    /**
     * The warpgroup kernels (compute 9.0: every H100 / H200 runs them; elsewhere, that no product takes them): both
     * feature tiles, bf16 against sums in double
     * of the rounded activations and the same bits twice; split against sums of the fp32 activations within 2^-16 +
     * 2e-6 sqrt(k), and 16 times closer at worst than bf16. Odd n, m and k: partial tiles in every direction, a k tail
     * of 8 past the tiles of 64, enough k tiles to reuse every pipeline stage; prefill sizes take them through matmul.
     */
    @Test
    void warpgroupMatchesDoubleAndRepeatsExactly() {
        assertThat(MatMulKernel.hasWgmma(context.info())).as("an H100 / H200 runs the warpgroup kernels")
                .isEqualTo(context.info().computeMajor() == 9 && context.info().computeMinor() == 0);
        MatMulKernel kernel = new MatMulKernel(context, true, "true");  // whatever -Ddms.cuda.wgmma the run sets
        if (!MatMulKernel.hasWgmma(context.info())) {
            // Another architecture: the products never take the warpgroup kernels (their builds there trap).
            assertThat(kernel.warpgroupKernels()).as("warpgroup kernels on " + context.info().name()).isFalse();
            assertThat(kernel.wgTakes(2048, 4096, 4096, 4096)).as("a prefill product on " + context.info().name())
                    .isFalse();
            return;
        }
        int sms = context.info().multiprocessors();
        assertThat(kernel.wgTakes(2048, 4096, 4096, 4096)).as("a prefill product takes them").isTrue();
        SplittableRandom random = new SplittableRandom(54);
        for (Shape s : new Shape[] {new Shape(130, 300, 520), new Shape(1, 7, 8), new Shape(129, 129, 200),
            new Shape(600, 1000, 1032), new Shape(1100, 300, 72)}) {  // the last: more token tiles than a raster group
            for (int bn : new int[] {256, 128}) {
                twice(random, "warpgroup bn" + bn, s, 8, (a, lda, w, out, ldc, accumulate) ->
                        kernel.warpgroup(false, a, lda, w, out, ldc, s.n(), s.m(), s.k(), accumulate, bn), null);
                splitBeatsRounded(random, "warpgroup split bn" + bn, s, s.k() + 8, (a, lda, w, out, ldc, accumulate) ->
                        kernel.warpgroup(true, a, lda, w, out, ldc, s.n(), s.m(), s.k(), accumulate, bn),
                        (a, lda, w, out, ldc, accumulate) ->
                                kernel.warpgroup(false, a, lda, w, out, ldc, s.n(), s.m(), s.k(), accumulate, bn));
            }
        }
        // k split 2 and 3 ways (uneven: 9 tiles of 64 and a tail of 8; 3 tiles a split of one each), both widths.
        for (Shape s : new Shape[] {new Shape(130, 300, 520), new Shape(70, 136, 136), new Shape(200, 40, 1032)}) {
            for (int bn : new int[] {256, 128}) {
                for (int splits : new int[] {2, 3}) {
                    twice(random, "warpgroup bn" + bn + " split k " + splits, s, 8, (a, lda, w, out, ldc, accumulate)
                            -> kernel.warpgroup(false, a, lda, w, out, ldc, s.n(), s.m(), s.k(), accumulate, bn,
                            splits), null);
                    splitBeatsRounded(random, "warpgroup split bn" + bn + " split k " + splits, s, s.k() + 8,
                            (a, lda, w, out, ldc, accumulate) -> kernel.warpgroup(true, a, lda, w, out, ldc, s.n(),
                                    s.m(), s.k(), accumulate, bn, splits),
                            (a, lda, w, out, ldc, accumulate) -> kernel.warpgroup(false, a, lda, w, out, ldc, s.n(),
                                    s.m(), s.k(), accumulate, bn, splits));
                }
            }
        }
        // Through matmul and matmulSplit: a decode batch of 173 tokens, too few tiles for the device, takes the
        // warpgroup kernel with k split (the same bits as calling it so), unless dms.cuda.wg-split-k=false.
        Shape batch = new Shape(173, 4096, 1024);
        int splits = kernel.wgSplitsFor(batch.n(), batch.m(), batch.k());
        assertThat(MatMulKernel.wgTile(batch.n(), batch.m(), sms)).isZero();
        assertThat(kernel.wgTakes(batch.n(), batch.m(), batch.k(), batch.k()))
                .isEqualTo(!"false".equals(System.getProperty(MatMulKernel.WG_SPLIT_K_PROPERTY)));
        if (kernel.wgTakes(batch.n(), batch.m(), batch.k(), batch.k())) {
            assertThat(splits).isEqualTo(MatMulKernel.wgSplits(batch.n(), batch.m(), batch.k(), 128, sms));
            if (sms >= 128) {  // 64 tiles: split on an H100 SXM / H200, not on a part of fewer multiprocessors
                assertThat(splits).as("k split for " + sms + " multiprocessors").isGreaterThan(1);
            }
            twice(random, "matmul routed to warpgroup split k", batch, 8, (a, lda, w, out, ldc, accumulate) ->
                    kernel.matmul(a, lda, w, out, ldc, batch.n(), batch.m(), batch.k(), accumulate),
                    (a, lda, w, out, ldc, accumulate) -> kernel.warpgroup(false, a, lda, w, out, ldc, batch.n(),
                            batch.m(), batch.k(), accumulate, 128, splits));
            splitBeatsRounded(random, "matmulSplit routed to warpgroup split k", batch, batch.k() + 8,
                    (a, lda, w, out, ldc, accumulate) -> kernel.matmulSplit(a, lda, w, out, ldc, batch.n(), batch.m(),
                            batch.k(), accumulate),
                    (a, lda, w, out, ldc, accumulate) -> kernel.matmul(a, lda, w, out, ldc, batch.n(), batch.m(),
                            batch.k(), accumulate));
        }
        // A decode batch of 48 tokens, past the warpgroup decode product's 32, takes the warpgroup kernel with k split
        // ahead of the skinny kernel (dms.cuda.wg-split-k-from, by default 33).
        Shape mid = new Shape(48, 4096, 1024);
        boolean midTakes = !"false".equals(System.getProperty(MatMulKernel.WG_SPLIT_K_PROPERTY))
                && MatMulKernel.wgSplitKFrom(System.getProperty(MatMulKernel.WG_SPLIT_K_FROM_PROPERTY, "")) <= 48;
        assertThat(kernel.wgTakes(mid.n(), mid.m(), mid.k(), mid.k())).as("48 tokens").isEqualTo(midTakes);
        if (midTakes) {
            int midSplits = kernel.wgSplitsFor(mid.n(), mid.m(), mid.k());
            // its workspace: the splits' partial sums (splits, n, m), or the tiled kernel's where that is more (the
            // fallback for unaligned operands)
            int midUsed = (16 + (16 + midSplits - 1) / midSplits - 1) / ((16 + midSplits - 1) / midSplits);
            assertThat(kernel.workspaceBytes(false, mid.n(), mid.m(), mid.k(), mid.k()))
                    .isGreaterThanOrEqualTo(midUsed > 1 ? (long) midUsed * mid.n() * mid.m() * 4 : 0);
            twice(random, "matmul of 48 tokens routed to warpgroup split k", mid, 8, (a, lda, w, out, ldc, accumulate)
                    -> kernel.matmul(a, lda, w, out, ldc, mid.n(), mid.m(), mid.k(), accumulate),
                    (a, lda, w, out, ldc, accumulate) -> kernel.warpgroup(false, a, lda, w, out, ldc, mid.n(), mid.m(),
                            mid.k(), accumulate, 128, midSplits));
        }
        // Through matmul: a prefill-sized product takes the warpgroup kernel (the same bits as calling it).
        Shape s = new Shape(1100, 4096, 264);
        int bn = MatMulKernel.wgTile(s.n(), s.m(), sms);
        assertThat(bn).isPositive();
        twice(random, "matmul routed to warpgroup", s, 8, (a, lda, w, out, ldc, accumulate) ->
                kernel.matmul(a, lda, w, out, ldc, s.n(), s.m(), s.k(), accumulate),
                (a, lda, w, out, ldc, accumulate) ->
                        kernel.warpgroup(false, a, lda, w, out, ldc, s.n(), s.m(), s.k(), accumulate, bn));
    }

    /**
     * The warp-specialised kernels (tiles of 256 features: a producer warpgroup, two consumer warpgroups, mbarriers),
     * plain and persistent (a block a multiprocessor, each taking several tiles), against the 256-thread warpgroup
     * kernels: the same tiles and sums in the same order, so the same bits, bf16 and
     * split, c = and c +=, k unsplit and split 3 ways; odd sizes (a k tail of 8, partial tiles, 15 k tiles refilling
     * each of the 3 or 4 stages) and Qwen3-8B's q|k|v product at a prompt chunk of 2048 tokens. Their agreement with
     * sums in double follows from the 256-thread kernels' ({@link #warpgroupMatchesDoubleAndRepeatsExactly}).
     */
    @Test
    void warpSpecialisedEqualsWarpgroupBitForBit() {
        MatMulKernel specialised = new MatMulKernel(context, true, "true", "true");
        MatMulKernel persistent = new MatMulKernel(context, true, "true", "persistent");
        MatMulKernel plain = new MatMulKernel(context, true, "true", "false");
        assertThat(plain.warpSpecialised()).isFalse();
        assertThat(specialised.warpSpecialised()).as("warp-specialised kernels on " + context.info().name())
                .isEqualTo(MatMulKernel.hasWgmma(context.info()));
        assertThat(persistent.warpSpecialised()).isEqualTo(MatMulKernel.hasWgmma(context.info()));
        if (!MatMulKernel.hasWgmma(context.info())) {
            return;  // another architecture: no product takes them (asserted above)
        }
        SplittableRandom random = new SplittableRandom(58);
        for (Shape s : new Shape[] {new Shape(130, 300, 520), new Shape(3, 520, 960), new Shape(1100, 300, 72),
            new Shape(2048, 6144, 4096)}) {
            for (boolean split : new boolean[] {false, true}) {
                for (int splits : s.n() > 1100 ? new int[] {1} : new int[] {1, 3}) {
                    for (boolean accumulate : new boolean[] {false, true}) {
                        int lda = s.k() + 8;
                        int ldc = s.m() + 3;
                        DeviceBuffer a = split ? upload(randomFloats(random, s.n() * lda, 1f))
                                : upload(randomBf16(random, s.n() * lda, 1f));
                        DeviceBuffer w = upload(randomBf16(random, s.m() * s.k(), 1f));
                        float[] c0 = randomFloats(random, s.n() * ldc, 1f);
                        DeviceBuffer one = accumulate ? upload(c0) : poisoned(4L * s.n() * ldc);
                        DeviceBuffer two = accumulate ? upload(c0) : poisoned(4L * s.n() * ldc);
                        DeviceBuffer three = accumulate ? upload(c0) : poisoned(4L * s.n() * ldc);
                        plain.warpgroup(split, a, lda, w, one, ldc, s.n(), s.m(), s.k(), accumulate, 256, splits);
                        specialised.warpgroup(split, a, lda, w, two, ldc, s.n(), s.m(), s.k(), accumulate, 256,
                                splits);
                        persistent.warpgroup(split, a, lda, w, three, ldc, s.n(), s.m(), s.k(), accumulate, 256,
                                splits);
                        float[] want = one.toFloats();
                        for (int t = 0; t < s.n(); t += 7) {  // written (the padding past m stays poisoned)
                            for (int r = 0; r < s.m(); r += 5) {
                                if (Float.isNaN(want[t * ldc + r])) {
                                    fail("the 256-thread kernel left (" + t + ", " + r + ") of " + s + " unwritten");
                                }
                            }
                        }
                        String what = (split ? "split " : "") + s + " k split " + splits + (accumulate ? " +=" : "");
                        assertThat(two.toFloats()).as("warp-specialised " + what).isEqualTo(want);
                        assertThat(three.toFloats()).as("persistent " + what).isEqualTo(want);
                    }
                }
            }
        }
    }

    /**
     * The bulk-copy kernels (compute 9.0; elsewhere, that none is made) give the 256-thread warpgroup kernels' bits on
     * tiles of 256 features with k unsplit: bf16 and split, c = and c +=, odd sizes (partial tiles in every direction,
     * a k tail of 8, 1 to 3 token tiles, 15 k tiles refilling each stage) and Qwen3-8B's q|k|v and down products at a
     * prompt chunk of 2048 tokens, which {@link MatMulKernel#matmulSplit} and {@link MatMulKernel#matmul} give them by
     * themselves. A weight's image is made once; a product on a weight without one, or of another shape, is refused;
     * under {@code dms.cuda.bulk=false} no kernel is made.
     */
    @Test
    void bulkEqualsWarpgroupBitForBit() {
        MatMulKernel off = SystemProperty.with(MatMulKernel.BULK_PROPERTY, "false",
                () -> new MatMulKernel(context, true, "true", "false"));
        assertThat(off.bulkEnabled()).isFalse();
        try (MatMulKernel kernel = SystemProperty.with(MatMulKernel.BULK_PROPERTY, "true",
                () -> new MatMulKernel(context, true, "true", "false"))) {
            assertThat(kernel.bulkEnabled()).as("bulk-copy kernels on " + context.info().name())
                    .isEqualTo(MatMulKernel.hasWgmma(context.info()));
            if (!kernel.bulkEnabled()) {
                return;  // another architecture: no product takes them (asserted above)
            }
            // Images are worth making for steps of at least 1,024 tokens whose tiles of 128 tokens x 256 features
            // fill at least 7/8 of the device: none for the server's default steps of 256 tokens on the 8B model
            // (though gate|up's 2 x 96 tiles would fill it), all four products at 1,024 and at gpubench's 2048.
            int sms = kernel.multiprocessors();
            for (Shape s : new Shape[] {new Shape(256, 6144, 4096), new Shape(256, 24576, 4096),
                new Shape(1023, 24576, 4096), new Shape(1024, 6144, 4096), new Shape(1024, 4096, 4096),
                new Shape(2048, 24576, 4096), new Shape(2048, 4096, 12288), new Shape(2048, 4096, 12)}) {
                // at least 7/8 of a wave of tiles (o and down at 1,024 tokens: 8 x 16 tiles on 132)
                boolean fills = 8L * ((s.n() + 127) / 128) * ((s.m() + 255) / 256) >= 7L * sms;
                assertThat(kernel.bulkWanted(s.n(), s.m(), s.k())).as("an image for steps of " + s)
                        .isEqualTo(fills && s.k() % 8 == 0 && s.n() >= MatMulKernel.MIN_IMAGE_STEP);
            }
            assertThat(kernel.bulkWanted(256, 24576, 4096)).as("gate|up at the server's default step").isFalse();
            SplittableRandom random = new SplittableRandom(61);
            for (Shape s : new Shape[] {new Shape(130, 300, 520), new Shape(3, 520, 960), new Shape(1100, 300, 72),
                new Shape(257, 513, 264), new Shape(2048, 6144, 4096), new Shape(2048, 4096, 12288)}) {
                int lda = s.k() + 8;
                int ldc = s.m() + 3;
                DeviceBuffer w = upload(randomBf16(random, s.m() * s.k(), 1f));
                assertThat(kernel.tileWeights(w, s.m(), s.k())).isEqualTo(MatMulKernel.imageBytes(s.m(), s.k(), 256,
                        false));
                assertThat(kernel.tileWeights(w, s.m(), s.k())).as("a second time: the same image").isZero();
                boolean chunk = s.n() == 2048;
                assertThat(kernel.bulkTakes(s.n(), s.m(), s.k(), lda, w)).as("the automatic choice for " + s)
                        .isEqualTo(chunk);
                for (boolean split : new boolean[] {false, true}) {
                    for (boolean accumulate : new boolean[] {false, true}) {
                        DeviceBuffer a = split ? upload(randomFloats(random, s.n() * lda, 1f))
                                : upload(randomBf16(random, s.n() * lda, 1f));
                        float[] c0 = randomFloats(random, s.n() * ldc, 1f);
                        DeviceBuffer one = accumulate ? upload(c0) : poisoned(4L * s.n() * ldc);
                        DeviceBuffer two = accumulate ? upload(c0) : poisoned(4L * s.n() * ldc);
                        kernel.warpgroup(split, a, lda, w, one, ldc, s.n(), s.m(), s.k(), accumulate, 256, 1);
                        if (chunk) {  // through the automatic choice
                            if (split) {
                                kernel.matmulSplit(a, lda, w, two, ldc, s.n(), s.m(), s.k(), accumulate);
                            } else {
                                kernel.matmul(a, lda, w, two, ldc, s.n(), s.m(), s.k(), accumulate);
                            }
                        } else {
                            kernel.bulk(split, a, lda, w, two, ldc, s.n(), s.m(), s.k(), accumulate);
                        }
                        float[] want = one.toFloats();
                        for (int t = 0; t < s.n(); t += 7) {  // written (the padding past m stays poisoned)
                            for (int r = 0; r < s.m(); r += 5) {
                                if (Float.isNaN(want[t * ldc + r])) {
                                    fail("the 256-thread kernel left (" + t + ", " + r + ") of " + s + " unwritten");
                                }
                            }
                        }
                        assertThat(two.toFloats()).as("bulk " + (split ? "split " : "") + s + (accumulate ? " +=" : ""))
                                .isEqualTo(want);
                    }
                }
            }
            DeviceBuffer bare = upload(randomBf16(random, 300 * 72, 1f));
            DeviceBuffer a = upload(randomFloats(random, 130 * 72, 1f));
            DeviceBuffer c = poisoned(4L * 130 * 300);
            assertThat(kernel.bulkTakes(2048, 300, 72, 72, bare)).isFalse();
            assertThatThrownBy(() -> kernel.bulk(true, a, 72, bare, c, 300, 130, 300, 72, false))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("no tile image");
            kernel.tileWeights(bare, 300, 72);
            assertThatThrownBy(() -> kernel.tileWeights(bare, 150, 144))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("already has an image");
            assertThatThrownBy(() -> kernel.bulk(true, a, 72, bare, c, 300, 130, 300, 64, false))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("300 x 72");
        }
    }

    /**
     * Where a prompt chunk's product takes the bulk-copy kernels, the producer of its input writes the activations'
     * tile image itself (CudaBackend: the RMSNorm before q|k|v and gate|up, the SwiGLU before down): the product from
     * that image equals, bit for bit, the product of the rows the producer writes otherwise (made into an image by the
     * product's own tile launch), and the norm's residual add is the same. Split and bf16; q|k|v and down at a
     * 2,047-token chunk through the automatic choice, and odd sizes (a partial token tile, k not a multiple of 64)
     * under {@code always}.
     */
    @Test
    void producersWriteTheBulkProductsImagesBitForBit() {
        RmsNormKernel norm = new RmsNormKernel(context);
        SwiGluKernel swiGlu = new SwiGluKernel(context);
        SplittableRandom random = new SplittableRandom(67);
        for (String mode : new String[] {"true", "always"}) {
            try (MatMulKernel kernel = SystemProperty.with(MatMulKernel.BULK_PROPERTY, mode,
                    () -> new MatMulKernel(context, true, "true", "false"))) {
                if (!kernel.bulkEnabled()) {
                    return;  // another architecture: bulkEqualsWarpgroupBitForBit asserts that none is there
                }
                Shape[] shapes = mode.equals("true")
                        ? new Shape[] {new Shape(2047, 6144, 4096), new Shape(2047, 4096, 12288)}
                        : new Shape[] {new Shape(300, 520, 136), new Shape(129, 260, 72)};
                for (Shape s : shapes) {
                    int n = s.n();
                    int m = s.m();
                    int k = s.k();
                    DeviceBuffer w = upload(randomBf16(random, m * k, 1f));
                    kernel.tileWeights(w, m, k);
                    assertThat(kernel.bulkTakes(n, m, k, k, w)).as(mode + ": bulk for " + s).isTrue();
                    for (boolean split : new boolean[] {false, true}) {
                        assertThat(kernel.imageTakes(split, n, m, k, w)).as(mode + ": producer image for " + s)
                                .isTrue();
                        String what = (split ? "split " : "bf16 ") + s;
                        // RMSNorm with the residual add.
                        float[] x0 = randomFloats(random, n * k, 2f);
                        DeviceBuffer xA = upload(x0);
                        DeviceBuffer xB = upload(x0);
                        DeviceBuffer delta = upload(randomFloats(random, n * k, 1f));
                        DeviceBuffer gamma = upload(randomBf16(random, k, 1.5f));
                        DeviceBuffer rows = poisoned((long) n * k * (split ? 4 : 2));
                        DeviceBuffer want = poisoned(4L * n * m);
                        DeviceBuffer got = poisoned(4L * n * m);
                        norm.apply(xA, delta, gamma, null, n, n, k, 1e-6f, split ? rows : null, split ? null : rows);
                        product(kernel, split, rows, k, w, want, n, m, k);
                        DeviceBuffer image = kernel.activationImage(n, k, split);
                        image.fill(0xff);
                        norm.applyToImage(xB, delta, gamma, n, k, 1e-6f, image, split);
                        kernel.bulkFromImage(split, image, w, got, m, n, m, k, false);
                        assertThat(xB.toBytes()).as("the residual stream, " + what).isEqualTo(xA.toBytes());
                        float[] wanted = want.toFloats();
                        assertThat(Float.isNaN(wanted[n * m - 1])).as("the rows' product written").isFalse();
                        assertThat(got.toFloats()).as("the product from the norm's image, " + what)
                                .isEqualTo(wanted);
                        // SwiGLU on the halves of a fused gate|up product's rows (stride 2 k).
                        DeviceBuffer gu = upload(randomFloats(random, n * 2 * k, 3f));
                        DeviceBuffer up = gu.slice(4L * k, gu.bytes() - 4L * k);
                        DeviceBuffer h = poisoned((long) n * k * (split ? 4 : 2));
                        swiGlu.apply(gu, 2 * k, up, 2 * k, split ? h : null, k, split ? null : h, k, n, k);
                        product(kernel, split, h, k, w, want, n, m, k);
                        image = kernel.activationImage(n, k, split);
                        image.fill(0xff);
                        swiGlu.applyToImage(gu, 2 * k, up, 2 * k, n, k, image, split);
                        kernel.bulkFromImage(split, image, w, got, m, n, m, k, false);
                        assertThat(got.toFloats()).as("the product from SwiGLU's image, " + what)
                                .isEqualTo(want.toFloats());
                    }
                }
                DeviceBuffer x = upload(randomFloats(random, 4 * 12, 1f));
                DeviceBuffer gamma = upload(randomBf16(random, 12, 1f));
                DeviceBuffer image = poisoned(1 << 16);
                assertThatThrownBy(() -> norm.applyToImage(x, null, gamma, 4, 12, 1e-6f, image, true))
                        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("multiple of 8");
                DeviceBuffer bare = upload(randomBf16(random, 64 * 64, 1f));
                DeviceBuffer c = poisoned(4L * 4 * 64);
                assertThatThrownBy(() -> kernel.bulkFromImage(true, image, bare, c, 64, 4, 64, 64, false))
                        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("tile image");
            }
        }
    }

    /** {@link MatMulKernel#matmul} or {@link MatMulKernel#matmulSplit} of rows of k (on the bulk kernels here). */
    private static void product(MatMulKernel kernel, boolean split, DeviceBuffer a, int lda, DeviceBuffer w,
            DeviceBuffer c, int n, int m, int k) {
        if (split) {
            kernel.matmulSplit(a, lda, w, c, m, n, m, k, false);
        } else {
            kernel.matmul(a, lda, w, c, m, n, m, k, false);
        }
    }

    /**
     * The warpgroup decode product (compute 9.0; elsewhere, that no product takes it): bf16 against sums in double of
     * the rounded activations and the same bits twice (the second launch needs the tile counters the first one's last
     * blocks reset); split against sums of the fp32 activations within 2^-16 + 2e-6 sqrt(k), 16 times closer at worst
     * than bf16. k unsplit, split 3 ways and as the launcher splits it; 1 to 32 tokens (both tiles of tokens: 16 and
     * 32), odd m, a k tail of 8, k of 12288 (every stage reused); decode batches of up to 32 tokens take it through
     * matmul and matmulSplit (16 under -Ddms.cuda.wgs-wide=false).
     */
    @Test
    void warpgroupSkinnyMatchesDoubleAndRepeatsExactly() {
        MatMulKernel kernel = new MatMulKernel(context, true, "true");  // whatever -Ddms.cuda.wgmma the run sets
        if (!MatMulKernel.hasWgmma(context.info())) {
            assertThat(kernel.wgsTakes(false, 16, 4096, 4096, 4096)).as("a decode batch on " + context.info().name())
                    .isFalse();
            return;
        }
        int sms = context.info().multiprocessors();
        int most = kernel.wgsMaxTokens();
        assertThat(kernel.wgsTakes(true, 16, 4096, 4096, 4096)).as("a decode batch takes it").isTrue();
        assertThat(kernel.wgsTakes(true, 17, 4096, 4096, 4096)).as("17 tokens").isEqualTo(most == 32);
        assertThat(kernel.wgsTakes(true, 32, 4096, 4096, 4096)).as("32 tokens").isEqualTo(most == 32);
        assertThat(kernel.wgsTakes(true, 33, 4096, 4096, 4096)).as("33 tokens do not").isFalse();
        int oSplits = MatMulKernel.wgsSplits(4096, 4096, sms, true);  // 6 on the H200's 132 multiprocessors
        assertThat(kernel.workspaceBytes(true, 16, 4096, 4096, 4096)).as("split o at 16 tokens: its partial sums")
                .isEqualTo(oSplits > 1 ? oSplits * 64L * (64 + 1) * 32 * 4 : 0);  // (+ squares) for tiles of 32
        if (most == 32) {
            int oWide = MatMulKernel.wgsSplits(4096, 4096, sms, true, 24);  // 4 on the H200: waves of 2 blocks an SM
            assertThat(kernel.workspaceBytes(true, 24, 4096, 4096, 4096)).as("split o at 24 tokens")
                    .isEqualTo(oWide > 1 ? oWide * 64L * (64 + 1) * 32 * 4 : 0);
        }
        SplittableRandom random = new SplittableRandom(55);
        for (Shape s : new Shape[] {new Shape(16, 333, 1032), new Shape(1, 77, 8), new Shape(13, 200, 4104),
            new Shape(9, 130, 12288), new Shape(16, 4096, 4096), new Shape(32, 333, 1032), new Shape(17, 200, 4104),
            new Shape(24, 4096, 4096)}) {
            int auto = MatMulKernel.wgsSplits(s.m(), s.k(), sms, false, s.n());
            for (int splits : new int[] {1, 3, auto}) {
                if (splits > (s.k() + 63) / 64) {
                    continue;
                }
                twice(random, "warpgroup decode x" + splits, s, 8, (a, lda, w, out, ldc, accumulate) ->
                        kernel.warpgroupSkinny(false, a, lda, w, out, ldc, s.n(), s.m(), s.k(), accumulate, splits),
                        null);
                splitBeatsRounded(random, "warpgroup decode split x" + splits, s, s.k() + 8,
                        (a, lda, w, out, ldc, accumulate) -> kernel.warpgroupSkinny(true, a, lda, w, out, ldc, s.n(),
                                s.m(), s.k(), accumulate, splits),
                        (a, lda, w, out, ldc, accumulate) -> kernel.warpgroupSkinny(false, a, lda, w, out, ldc, s.n(),
                                s.m(), s.k(), accumulate, splits));
            }
        }
        // Through matmul: decode batches of 16 and 32 take it with the launcher's split (the same bits as calling it).
        for (Shape s : new Shape[] {new Shape(16, 4096, 4096), new Shape(most, 4096, 4096)}) {
            int splits = MatMulKernel.wgsSplits(s.m(), s.k(), sms, false, s.n());
            twice(random, "matmul routed to the warpgroup decode product", s, 8, (a, lda, w, out, ldc, accumulate) ->
                    kernel.matmul(a, lda, w, out, ldc, s.n(), s.m(), s.k(), accumulate),
                    (a, lda, w, out, ldc, accumulate) -> kernel.warpgroupSkinny(false, a, lda, w, out, ldc, s.n(),
                            s.m(), s.k(), accumulate, splits));
        }
    }

    /**
     * The products with RMSNorm folded in ({@link MatMulKernel.Norm}): the GEMV, the GEMV ending in SwiGLU and the split
     * warpgroup decode product on the residual stream x against double sums of rmsnorm(x) = gamma x / sqrt(mean x² +
     * eps) times W, within the bounds of the plain products; the warpgroup one split 1, 3 and the launcher's ways, twice
     * with the same bits. x is far from unit scale, as the residual stream is: a missing scale fails by far. Routing:
     * {@link MatMulKernel#normFolds} holds for the GEMV and 1 to 32 split tokens, not for 33 or bf16 activations.
     */
    @Test
    void foldedNormMatchesDouble() {
        MatMulKernel kernel = new MatMulKernel(context, true, "true");
        SplittableRandom random = new SplittableRandom(61);
        float eps = 1e-6f;
        for (Shape s : new Shape[] {new Shape(1, 77, 72), new Shape(3, 100, 256), new Shape(8, 33, 1000),
            new Shape(1, 5, 13), new Shape(4, 4096, 4096)}) {
            for (boolean accumulate : new boolean[] {false, true}) {
                int ldx = s.k() + (s.k() % 8 == 0 ? 8 : 3);
                int ldy = s.m() + 5;
                Normed in = Normed.of(random, s.n(), s.k(), ldx, eps);
                short[] w = randomBf16(random, s.m() * s.k(), 1f);
                DeviceBuffer y = accumulate ? upload(randomFloats(random, s.n() * ldy, 1f)) : poisoned(4L * s.n() * ldy);
                float[] before = y.toFloats();
                MatMulKernel.Norm norm = new MatMulKernel.Norm(upload(in.gamma()), eps);
                DeviceBuffer dw = upload(w);
                assertThat(kernel.normFolds(true, false, upload(in.x()), ldx, dw, s.n(), s.m(), s.k(), norm.weight()))
                        .as("the GEMV takes the norm").isTrue();
                kernel.gemv(upload(in.x()), ldx, dw, y, ldy, s.n(), s.m(), s.k(), accumulate, norm);
                check("gemv, norm folded, " + s + (accumulate ? " +=" : ""), y.toFloats(), before, in.normed(), ldx,
                        widen(w), s, ldy, accumulate, 2e-6);
            }
        }
        for (Shape s : new Shape[] {new Shape(1, 77, 72), new Shape(8, 33, 1000), new Shape(2, 129, 8),
            new Shape(1, 12288, 4096)}) {
            int inter = s.m();
            int ldx = s.k() + (s.k() % 8 == 0 ? 8 : 3);
            Normed in = Normed.of(random, s.n(), s.k(), ldx, eps);
            short[] w = randomBf16(random, 2 * inter * s.k(), 1f);
            DeviceBuffer got = poisoned(4L * s.n() * inter);
            kernel.gemvSwiGlu(upload(in.x()), ldx, upload(w), got, inter, s.n(), inter, s.k(),
                    new MatMulKernel.Norm(upload(in.gamma()), eps));
            float[] h = got.toFloats();
            float[] wf = widen(w);
            for (int t = 0; t < s.n(); t++) {
                for (int j = 0; j < inter; j++) {
                    double g = 0;
                    double u = 0;
                    double gMagnitude = 0;
                    double uMagnitude = 0;
                    for (int i = 0; i < s.k(); i++) {
                        double xi = in.normed()[t * ldx + i];
                        g += xi * wf[j * s.k() + i];
                        u += xi * wf[(inter + j) * s.k() + i];
                        gMagnitude += Math.abs(xi * wf[j * s.k() + i]);
                        uMagnitude += Math.abs(xi * wf[(inter + j) * s.k() + i]);
                    }
                    double silu = g / (1 + Math.exp(-g));
                    // silu(g) u: off by about |u| times g's error plus |silu(g)| times u's
                    double tolerance = (gMagnitude * (Math.abs(u) + 1) + uMagnitude * Math.abs(silu)) * 2e-6
                            * Math.sqrt(s.k()) + 1e-5;
                    if (!(Math.abs(h[t * inter + j] - silu * u) <= tolerance)) {
                        fail(String.format("gemvSwiGlu, norm folded, %s: h[%d][%d] = %.9g, expected %.9g", s, t, j,
                                h[t * inter + j], silu * u));
                    }
                }
            }
        }
        if (!MatMulKernel.hasWgmma(context.info())) {
            return;
        }
        int sms = context.info().multiprocessors();
        for (Shape s : new Shape[] {new Shape(16, 333, 1032), new Shape(1, 77, 8), new Shape(13, 200, 4104),
            new Shape(16, 6144, 4096), new Shape(32, 333, 1032), new Shape(20, 6144, 4096)}) {
            int ldx = s.k() + 8;
            int ldc = s.m() + 3;
            for (int splits : new int[] {1, 3, MatMulKernel.wgsSplits(s.m(), s.k(), sms, true, s.n())}) {
                if (splits > (s.k() + 63) / 64) {
                    continue;
                }
                for (boolean accumulate : new boolean[] {false, true}) {
                    Normed in = Normed.of(random, s.n(), s.k(), ldx, eps);
                    short[] w = randomBf16(random, s.m() * s.k(), 1f);
                    DeviceBuffer dx = upload(in.x());
                    DeviceBuffer dw = upload(w);
                    float[] c0 = randomFloats(random, s.n() * ldc, 1f);
                    DeviceBuffer one = accumulate ? upload(c0) : poisoned(4L * s.n() * ldc);
                    DeviceBuffer two = accumulate ? upload(c0) : poisoned(4L * s.n() * ldc);
                    float[] before = one.toFloats();
                    MatMulKernel.Norm norm = new MatMulKernel.Norm(upload(in.gamma()), eps);
                    kernel.warpgroupSkinny(true, dx, ldx, dw, one, ldc, s.n(), s.m(), s.k(), accumulate, splits, norm);
                    kernel.warpgroupSkinny(true, dx, ldx, dw, two, ldc, s.n(), s.m(), s.k(), accumulate, splits, norm);
                    String what = "warpgroup decode, norm folded, x" + splits + " " + s + (accumulate ? " +=" : "");
                    check(what, one.toFloats(), before, in.normed(), ldx, widen(w), s, ldc, accumulate, 2e-6,
                            0x1.0p-16);
                    assertThat(two.toFloats()).as(what + ", again").isEqualTo(one.toFloats());
                }
            }
        }
        // Routing: matmulSplit with a norm takes 1 to 32 tokens of split activations, nothing else.
        int most = kernel.wgsMaxTokens();
        DeviceBuffer x = upload(randomFloats(random, (most + 1) * 4096, 1f));
        DeviceBuffer gamma = upload(randomBf16(random, 4096, 1f));
        DeviceBuffer wqkv = upload(randomBf16(random, 6144 * 4096, 1f));
        assertThat(kernel.normFolds(false, true, x, 4096, wqkv, 16, 6144, 4096, gamma)).as("16 split tokens").isTrue();
        assertThat(kernel.normFolds(false, true, x, 4096, wqkv, most, 6144, 4096, gamma)).as(most + " split tokens")
                .isTrue();
        assertThat(kernel.normFolds(false, true, x, 4096, wqkv, most + 1, 6144, 4096, gamma)).as((most + 1) + " tokens")
                .isFalse();
        assertThat(kernel.normFolds(false, false, x, 4096, wqkv, 16, 6144, 4096, gamma)).as("bf16 activations")
                .isFalse();
        assertThat(kernel.normFolds(false, true, x, 4096, wqkv.slice(2, wqkv.bytes() - 16), 16, 6144, 4096, gamma))
                .as("weights not 16-byte aligned").isFalse();
        DeviceBuffer out = poisoned(4L * (most + 1) * 6144);
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> kernel.matmulSplit(x, 4096,
                wqkv, out, 6144, most + 1, 6144, 4096, false, new MatMulKernel.Norm(gamma, eps)));
    }

    /**
     * The warpgroup gate|up product ending in SwiGLU (compute 9.0; elsewhere, that nothing takes it) gives the product
     * of the 2 inter rows (the norm folded in, or not) followed by the SwiGLU kernel in place, bit for bit, in the
     * forward pass's layout (h over gu's first half, rows of 2 inter; the up half untouched): matmulSplitSwiGlu against
     * matmulSplit, and k split 1 and 3 ways and as the launcher splits it against warpgroupSkinny split the same ways.
     * inter not a multiple of 32 (a partial tile), a k tail of 8, k of one tile, 1 to 32 tokens, Qwen3-8B's gate|up at
     * 16 and 32 tokens (inter 12288, k 4096). Routing: it takes what matmulSplit gives the warpgroup decode product.
     */
    @Test
    void warpgroupSwiGluIsProductThenSwiGlu() {
        MatMulKernel kernel = new MatMulKernel(context, true, "true");  // whatever -Ddms.cuda.wgmma the run sets
        SplittableRandom random = new SplittableRandom(63);
        DeviceBuffer x16 = upload(randomFloats(random, 33 * 4096, 1f));
        DeviceBuffer w13 = upload(randomBf16(random, 2 * 64 * 4096, 1f));
        if (!MatMulKernel.hasWgmma(context.info())) {
            assertThat(kernel.wgsSwiGluTakes(x16, 4096, w13, 16, 64, 4096, null)).as("on " + context.info().name())
                    .isFalse();
            return;
        }
        assertThat(kernel.wgsSwiGluTakes(x16, 4096, w13, 16, 64, 4096, null)).as("16 split tokens").isTrue();
        int most = kernel.wgsMaxTokens();
        assertThat(kernel.wgsSwiGluTakes(x16, 4096, w13, most, 64, 4096, null)).as(most + " tokens").isTrue();
        assertThat(kernel.wgsSwiGluTakes(x16, 4096, w13, most + 1, 64, 4096, null)).as((most + 1) + " tokens")
                .isFalse();
        assertThat(kernel.wgsSwiGluTakes(x16, 4096, w13.slice(2, w13.bytes() - 16), 16, 64, 4096, null))
                .as("weights not 16-byte aligned").isFalse();
        assertThat(kernel.wgsSwiGluTakes(x16, 4100, w13, 16, 64, 4096, null)).as("ldx % 8 != 0").isFalse();
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class, () -> kernel.matmulSplitSwiGlu(
                x16, 4096, w13, poisoned(4L * 33 * 128), 128, most + 1, 64, 4096, null));
        SwiGluKernel swiGlu = new SwiGluKernel(context);
        int sms = context.info().multiprocessors();
        float eps = 1e-6f;
        // Shape(n, inter, k)
        for (Shape s : new Shape[] {new Shape(16, 333, 1000), new Shape(5, 40, 72), new Shape(1, 100, 1032),
            new Shape(13, 32, 8), new Shape(16, 12288, 4096), new Shape(19, 40, 72), new Shape(32, 12288, 4096)}) {
            int n = s.n();
            if (n > most) {
                continue;  // -Ddms.cuda.wgs-wide=false: 17 to 32 tokens are not routed here
            }
            int inter = s.m();
            int k = s.k();
            int m = 2 * inter;
            int ldx = k + 8;
            for (boolean normed : new boolean[] {false, true}) {
                Normed in = Normed.of(random, n, k, ldx, eps);  // x far from unit scale, as the residual stream
                DeviceBuffer x = upload(normed ? in.x() : randomFloats(random, n * ldx, 1f));
                DeviceBuffer w = upload(randomBf16(random, m * k, 1f));
                MatMulKernel.Norm norm = normed ? new MatMulKernel.Norm(upload(in.gamma()), eps) : null;
                String what = "gate|up ending in SwiGLU " + s + (normed ? ", norm folded" : "");
                assertThat(kernel.wgsSwiGluTakes(x, ldx, w, n, inter, k, norm)).as(what + " taken").isTrue();
                DeviceBuffer gu = poisoned(4L * n * m);
                if (normed) {
                    kernel.matmulSplit(x, ldx, w, gu, m, n, m, k, false, norm);
                } else {
                    kernel.matmulSplit(x, ldx, w, gu, m, n, m, k, false);
                }
                swiGlu.apply(gu, m, gu.slice(4L * inter, gu.bytes() - 4L * inter), m, gu, m, null, 0, n, inter);
                DeviceBuffer h = poisoned(4L * n * m);
                float[] before = h.toFloats();
                kernel.matmulSplitSwiGlu(x, ldx, w, h, m, n, inter, k, norm);
                sameBits(what, h.toFloats(), gu.toFloats(), before, n, inter, m);
                int auto = MatMulKernel.wgsSplits(m, k, sms, true, n);
                for (int splits : new int[] {1, 3, auto}) {
                    if (splits > (k + 63) / 64) {
                        continue;
                    }
                    DeviceBuffer product = poisoned(4L * n * m);
                    kernel.warpgroupSkinny(true, x, ldx, w, product, m, n, m, k, false, splits, norm);
                    swiGlu.apply(product, m, product.slice(4L * inter, product.bytes() - 4L * inter), m, product, m,
                            null, 0, n, inter);
                    DeviceBuffer fused = poisoned(4L * n * m);
                    kernel.warpgroupSkinnySwiGlu(x, ldx, w, fused, m, n, inter, k, splits, norm);
                    sameBits(what + " x" + splits, fused.toFloats(), product.toFloats(), before, n, inter, m);
                }
            }
        }
    }

    /** got's rows (n of ld) hold want's first inter values bit for bit, and the rest of each row as before. */
    private static void sameBits(String what, float[] got, float[] want, float[] before, int n, int inter, int ld) {
        for (int t = 0; t < n; t++) {
            for (int j = 0; j < ld; j++) {
                float expected = j < inter ? want[t * ld + j] : before[t * ld + j];
                if (Float.floatToRawIntBits(got[t * ld + j]) != Float.floatToRawIntBits(expected)) {
                    fail(what + " at (" + t + ", " + j + "): " + got[t * ld + j] + ", want " + expected
                            + (j < inter ? "" : " (the up half, untouched)"));
                }
            }
        }
    }

    /** k past {@link MatMulKernel#MAX_K} is refused before a launch, whichever kernel would take the product. */
    @Test
    void kPastTheLimitIsRefused() {
        MatMulKernel kernel = new MatMulKernel(context);
        DeviceBuffer f = poisoned(256);
        int k = MatMulKernel.MAX_K + 64;
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> kernel.gemv(f, k, f, f, 1, 1, 1, k, false));
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> kernel.matmul(f, k, f, f, 1, 16, 1, k, false));
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> kernel.matmul(true, f, k, f, f, 1, 100, 1, k, false, 1));
    }

    /** Residual-stream rows x (n, ldx; far from unit scale), a norm weight, and rmsnorm(x) computed in double. */
    private record Normed(float[] x, short[] gamma, float[] normed) {
        static Normed of(SplittableRandom random, int n, int k, int ldx, float eps) {
            float[] x = randomFloats(random, n * ldx, 7f);
            short[] gamma = randomBf16(random, k, 1f);
            float[] normed = new float[x.length];
            for (int t = 0; t < n; t++) {
                double squares = 0;
                for (int j = 0; j < k; j++) {
                    squares += (double) x[t * ldx + j] * x[t * ldx + j];
                }
                double scale = 1 / Math.sqrt(squares / k + eps);
                for (int j = 0; j < k; j++) {
                    normed[t * ldx + j] = (float) (x[t * ldx + j] * scale * bf16(gamma[j]));
                }
            }
            return new Normed(x, gamma, normed);
        }
    }

    /**
     * Plain and accumulating: {@code split} on fp32 activations against sums in double of them, within 2^-16 + 2e-6
     * sqrt(k) of the sum of |products|, and at least 16 times closer at worst than {@code rounded} on the same
     * activations rounded to bf16.
     */
    private void splitBeatsRounded(SplittableRandom random, String name, Shape s, int lda, Product split,
            Product rounded) {
        for (boolean accumulate : new boolean[] {false, true}) {
            int ldc = s.m() + 3;
            float[] x = randomFloats(random, s.n() * lda, 1f);
            short[] xb = new short[x.length];
            for (int i = 0; i < x.length; i++) {
                xb[i] = HalfAccess.floatToBf16(x[i]);
            }
            short[] w = randomBf16(random, s.m() * s.k(), 1f);
            DeviceBuffer dw = upload(w);
            float[] c0 = randomFloats(random, s.n() * ldc, 1f);
            DeviceBuffer one = accumulate ? upload(c0) : poisoned(4L * s.n() * ldc);
            DeviceBuffer two = accumulate ? upload(c0) : poisoned(4L * s.n() * ldc);
            float[] before = one.toFloats();
            split.run(upload(x), lda, dw, one, ldc, accumulate);
            rounded.run(upload(xb), lda, dw, two, ldc, accumulate);
            String what = name + " " + s + (accumulate ? " +=" : "");
            float[] got = one.toFloats();
            Sums sums = Sums.of(before, x, lda, widen(w), s, ldc, accumulate);
            check(what, got, before, sums, s, ldc, 2e-6 * Math.sqrt(s.k()) + 0x1.0p-16);
            double splitError = sums.worstRelative(got, s, ldc);
            double bf16Error = sums.worstRelative(two.toFloats(), s, ldc);
            assertThat(splitError).as(what + ": worst error against bf16 activations' " + bf16Error)
                    .isLessThan(bf16Error / 16);
        }
    }

    private void twiceSplit(SplittableRandom random, MatMulKernel kernel, Shape s, int splits) {
        int lda = s.k() + 8;
        int ldc = s.m() + 3;
        float[] x = randomFloats(random, s.n() * lda, 1f);
        short[] w = randomBf16(random, s.m() * s.k(), 1f);
        DeviceBuffer dx = upload(x);
        DeviceBuffer dw = upload(w);
        DeviceBuffer one = poisoned(4L * s.n() * ldc);
        DeviceBuffer two = poisoned(4L * s.n() * ldc);
        float[] before = one.toFloats();
        kernel.matmul(true, dx, lda, dw, one, ldc, s.n(), s.m(), s.k(), false, splits);
        kernel.matmul(true, dx, lda, dw, two, ldc, s.n(), s.m(), s.k(), false, splits);
        check("split, split-K x" + splits + " " + s, one.toFloats(), before, x, lda, widen(w), s, ldc, false, 2e-6,
                0x1.0p-16);
        assertThat(two.toFloats()).as("split-K again").isEqualTo(one.toFloats());
    }

    /**
     * The reference of an output (n, m): each element's sum in double of the exact products (plus its value before,
     * when accumulating), and the sum of their magnitudes, the scale of its tolerance.
     */
    private record Sums(double[] sum, double[] magnitude) {

        static Sums of(float[] before, float[] x, int ldx, float[] w, Shape s, int ldy, boolean accumulate) {
            double[] sum = new double[s.n() * s.m()];
            double[] magnitude = new double[sum.length];
            for (int t = 0; t < s.n(); t++) {
                for (int r = 0; r < s.m(); r++) {
                    double total = accumulate ? before[t * ldy + r] : 0;
                    double scale = accumulate ? Math.abs(before[t * ldy + r]) : 0;
                    for (int j = 0; j < s.k(); j++) {
                        double p = (double) w[r * s.k() + j] * x[t * ldx + j];
                        total += p;
                        scale += Math.abs(p);
                    }
                    sum[t * s.m() + r] = total;
                    magnitude[t * s.m() + r] = scale;
                }
            }
            return new Sums(sum, magnitude);
        }

        /** The largest |got - sum| / (sum of |products|) over the outputs (rows of ldy). */
        double worstRelative(float[] got, Shape s, int ldy) {
            double worst = 0;
            for (int t = 0; t < s.n(); t++) {
                for (int r = 0; r < s.m(); r++) {
                    int e = t * s.m() + r;
                    worst = Math.max(worst, Math.abs(got[t * ldy + r] - sum[e]) / magnitude[e]);
                }
            }
            return worst;
        }
    }

    interface Product {
        void run(DeviceBuffer a, int lda, DeviceBuffer w, DeviceBuffer out, int ldc, boolean accumulate);
    }

    /**
     * Plain and accumulating: {@code first} against sums in double, then {@code second} (or {@code first} again)
     * on the same inputs must give the same bits.
     */
    private void twice(SplittableRandom random, String name, Shape s, int padding, Product first,
            Product second) {
        for (boolean accumulate : new boolean[] {false, true}) {
            int lda = s.k() + padding;
            int ldc = s.m() + 3;
            short[] a = randomBf16(random, s.n() * lda, 1f);
            short[] w = randomBf16(random, s.m() * s.k(), 1f);
            float[] c0 = randomFloats(random, s.n() * ldc, 1f);
            DeviceBuffer da = upload(a);
            DeviceBuffer dw = upload(w);
            DeviceBuffer one = accumulate ? upload(c0) : poisoned(4L * s.n() * ldc);
            DeviceBuffer two = accumulate ? upload(c0) : poisoned(4L * s.n() * ldc);
            float[] before = one.toFloats();
            first.run(da, lda, dw, one, ldc, accumulate);
            (second == null ? first : second).run(da, lda, dw, two, ldc, accumulate);
            String what = name + " " + s + (accumulate ? " +=" : "");
            check(what, one.toFloats(), before, widen(a), lda, widen(w), s, ldc, accumulate, 2e-6);
            assertThat(two.toFloats()).as(what + " again").isEqualTo(one.toFloats());
        }
    }

    @Test
    void tensorCoresAgreeWithGemvOnRoundedActivations() {
        SplittableRandom random = new SplittableRandom(50);
        MatMulKernel kernel = new MatMulKernel(context);
        int n = 5;
        int m = 333;
        int k = 4096;
        float[] x = randomFloats(random, n * k, 1f);
        short[] xb = new short[x.length];
        float[] xr = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            xb[i] = HalfAccess.floatToBf16(x[i]);
            xr[i] = bf16(xb[i]);
        }
        DeviceBuffer w = upload(randomBf16(random, m * k, 1f));
        DeviceBuffer yGemv = poisoned(4L * n * m);
        DeviceBuffer yMma = poisoned(4L * n * m);
        kernel.gemv(upload(xr), k, w, yGemv, m, n, m, k, false);
        kernel.matmul(upload(xb), k, w, yMma, m, n, m, k, false);
        assertClose("tensor cores vs gemv on bf16-exact activations", yMma.toFloats(), yGemv.toFloats(), 2e-4, 2e-4);
    }

    private static void check(String what, float[] got, float[] before, float[] x, int ldx, float[] w, Shape s, int ldy,
            boolean accumulate, double perSqrtK) {
        check(what, got, before, x, ldx, w, s, ldy, accumulate, perSqrtK, 0);
    }

    /** As above, the tolerance per sum of |products| being perSqrtK · sqrt(k) + representation. */
    private static void check(String what, float[] got, float[] before, float[] x, int ldx, float[] w, Shape s, int ldy,
            boolean accumulate, double perSqrtK, double representation) {
        check(what, got, before, Sums.of(before, x, ldx, w, s, ldy, accumulate), s, ldy,
                perSqrtK * Math.sqrt(s.k()) + representation);
    }

    /** got within tolerance · (sum of |products|) + 1e-6 of each sum; the padding of its rows untouched. */
    private static void check(String what, float[] got, float[] before, Sums sums, Shape s, int ldy, double tolerance) {
        for (int t = 0; t < s.n(); t++) {
            for (int r = 0; r < s.m(); r++) {
                double sum = sums.sum()[t * s.m() + r];
                double magnitude = sums.magnitude()[t * s.m() + r];
                float value = got[t * ldy + r];
                if (!(Math.abs(value - sum) <= tolerance * magnitude + 1e-6)) {
                    fail(String.format("%s: y[%d][%d] = %.9g, expected %.9g (tolerance %.3g)", what, t, r, value, sum,
                            tolerance * magnitude + 1e-6));
                }
            }
            for (int r = s.m(); r < ldy; r++) {
                assertThat(Float.floatToRawIntBits(got[t * ldy + r])).as("%s: padding y[%d][%d] untouched", what, t, r)
                        .isEqualTo(Float.floatToRawIntBits(before[t * ldy + r]));
            }
        }
    }
}
