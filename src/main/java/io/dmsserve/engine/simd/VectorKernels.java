package io.dmsserve.engine.simd;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The kernels on the JDK Vector API (incubator module jdk.incubator.vector), at the platform's preferred
 * width: 16 floats with AVX-512. Only {@link Kernels} names this class, by reflection, and only when the
 * module is present. Loops run whole vectors, then finish the last {@code length % lanes} elements with
 * scalar code; every sum is fp32.
 *
 * <p>16-bit weights are widened in registers: L shorts are loaded from the buffer into a half-width vector
 * and converted to L ints; bf16 then needs a shift by 16, fp16 a shift by 13 and a scale by 2^112 (exact,
 * subnormals included) with infinities and NaNs patched in by a mask.
 */
final class VectorKernels implements FloatKernels {

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED;
    /** L shorts in half the width, widened to L ints of the full width; null where no such shape exists. */
    private static final VectorSpecies<Short> S = halfWidthShorts();
    private static final int L = F.length();
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    /** Whether vectors pay off here: at least four floats, and shorts of half the width widen to as many ints. */
    static boolean worthwhile() {
        return L >= 4 && I.length() == L && S != null && S.length() == L;
    }

    private static VectorSpecies<Short> halfWidthShorts() {
        try {
            return VectorSpecies.of(short.class, VectorShape.forBitSize(F.vectorBitSize() / 2));
        } catch (IllegalArgumentException e) {
            return null; // a scalable shape without a fixed half (SVE wider than 512 bits, say)
        }
    }

    /**
     * Calls every kernel {@code calls} times so that the JIT compiles them with C2 before real work.
     *
     * <p>Until C2 compiles them, Vector API operations run as plain Java that allocates for every
     * operation, several to hundreds of times slower than the scalar loops; without this the first
     * request would pay for it. C2 compiles a method once its C1-profiled version has run about 5000
     * times, or 600 times with 15000 loop iterations in all, and C1 waits while C2's queue is long (the
     * Vector API's own methods fill it at first). So most calls are short: one vector and a scalar tail
     * of L - 1 elements, loop iterations at scalar cost. Others have no tail or take the unrolled loop,
     * and the matrix blocks come with and without leftover rows and tokens: a branch the warm-up never
     * took would be compiled as a trap, and the first real call to take it would throw the compiled code
     * away. The buffer is read-only and direct, the class of a file mapping, for the same reason.
     * Compilation runs on the JIT's threads and may finish after this returns; real work then finishes it.
     */
    void warmUp(int calls) {
        int longLength = 5 * L + 3;
        float[] a = new float[5 * longLength];
        float[] b = new float[5 * longLength];
        float[] out = new float[25];
        float[] converted = new float[longLength];
        ByteBuffer direct = ByteBuffer.allocateDirect(4 * longLength + 8).order(LE); // and a second row 4 bytes on
        for (int i = 0; i < a.length; i++) {
            a[i] = (i % 7 - 3) / 8f;
            b[i] = (i % 5 - 2) / 4f;
        }
        for (int i = 0; i < longLength; i++) {
            direct.putFloat(4 * i, a[i]);
        }
        ByteBuffer w = direct.asReadOnlyBuffer().order(LE);
        float sink = 0;
        for (int c = 0; c < calls; c++) {
            int n = switch (c % 8) {
                case 1, 5 -> 2 * L;      // no tail
                case 3 -> 4 * L;         // the unrolled loop only
                case 7 -> longLength;    // every loop
                default -> 2 * L - 1;    // one vector, a long tail
            };
            int block = 4 + (c & 1);     // 4 or 5 rows and tokens
            sink += dot(a, 0, b, 1, n);
            axpy(0x1p-10f, a, 0, b, 1, n);
            sink += dotBf16(w, 0, b, 0, n);
            sink += dotF16(w, 0, b, 0, n);
            sink += dotF32(w, 0, b, 0, n);
            bf16ToF32(w, 0, converted, 0, n);
            f16ToF32(w, 0, converted, 0, n);
            f32ToF32(w, 0, converted, 0, n);
            matmulBlock(a, block, b, block, n, out, 0, block);
        }
        if (Float.isNaN(sink + out[0] + converted[0])) {
            throw new AssertionError("warm-up inputs are finite"); // keeps the results alive
        }
    }

    @Override
    public String name() {
        return "vector-" + F.vectorBitSize();
    }

    /*
     * Batch invariance: every dot product here, whether one row against one token (decode), four rows
     * against one token, or a 4×4 tile (prefill and batched decode), sums in the same order: one vector
     * accumulator per (row, token) over L-wide column chunks, its lanes reduced, then the last n % L columns
     * summed from zero and added. bf16/f16 widening is exact, so a sequence gets bit-identical logits
     * whether it runs alone or in a batch, and its greedy tokens cannot depend on its neighbours.
     */

    @Override
    public float dot(float[] a, int aOffset, float[] b, int bOffset, int length) {
        FloatVector s = FloatVector.zero(F);
        int j = 0;
        for (; j <= length - L; j += L) {
            s = FloatVector.fromArray(F, a, aOffset + j).fma(FloatVector.fromArray(F, b, bOffset + j), s);
        }
        float tail = 0;
        for (int c = j; c < length; c++) {
            tail += a[aOffset + c] * b[bOffset + c];
        }
        return s.reduceLanes(VectorOperators.ADD) + tail;
    }

    @Override
    public void axpy(float alpha, float[] x, int xOffset, float[] y, int yOffset, int length) {
        FloatVector a = FloatVector.broadcast(F, alpha);
        int j = 0;
        for (; j <= length - L; j += L) {
            FloatVector.fromArray(F, x, xOffset + j).fma(a, FloatVector.fromArray(F, y, yOffset + j))
                    .intoArray(y, yOffset + j);
        }
        for (; j < length; j++) {
            y[yOffset + j] += alpha * x[xOffset + j];
        }
    }

    @Override
    public float dotBf16(ByteBuffer w, int position, float[] x, int xOffset, int length) {
        FloatVector s = FloatVector.zero(F);
        int j = 0;
        for (; j <= length - L; j += L) {
            s = bf16(w, position + 2 * j).fma(FloatVector.fromArray(F, x, xOffset + j), s);
        }
        float tail = 0;
        for (int c = j; c < length; c++) {
            tail += Float.intBitsToFloat(w.getShort(position + 2 * c) << 16) * x[xOffset + c];
        }
        return s.reduceLanes(VectorOperators.ADD) + tail;
    }

    @Override
    public float dotF16(ByteBuffer w, int position, float[] x, int xOffset, int length) {
        FloatVector s = FloatVector.zero(F);
        int j = 0;
        for (; j <= length - L; j += L) {
            s = f16(w, position + 2 * j).fma(FloatVector.fromArray(F, x, xOffset + j), s);
        }
        float tail = 0;
        for (int c = j; c < length; c++) {
            tail += ScalarKernels.F16_TO_F32[w.getShort(position + 2 * c) & 0xFFFF] * x[xOffset + c];
        }
        return s.reduceLanes(VectorOperators.ADD) + tail;
    }

    @Override
    public float dotF32(ByteBuffer w, int position, float[] x, int xOffset, int length) {
        FloatVector s = FloatVector.zero(F);
        int j = 0;
        for (; j <= length - L; j += L) {
            s = FloatVector.fromByteBuffer(F, w, position + 4 * j, LE).fma(FloatVector.fromArray(F, x, xOffset + j), s);
        }
        float tail = 0;
        for (int c = j; c < length; c++) {
            tail += w.getFloat(position + 4 * c) * x[xOffset + c];
        }
        return s.reduceLanes(VectorOperators.ADD) + tail;
    }

    @Override
    public void bf16ToF32(ByteBuffer w, int position, float[] dst, int dstOffset, int length) {
        int j = 0;
        for (; j <= length - L; j += L) {
            bf16(w, position + 2 * j).intoArray(dst, dstOffset + j);
        }
        for (; j < length; j++) {
            dst[dstOffset + j] = Float.intBitsToFloat(w.getShort(position + 2 * j) << 16);
        }
    }

    @Override
    public void f16ToF32(ByteBuffer w, int position, float[] dst, int dstOffset, int length) {
        int j = 0;
        for (; j <= length - L; j += L) {
            f16(w, position + 2 * j).intoArray(dst, dstOffset + j);
        }
        for (; j < length; j++) {
            dst[dstOffset + j] = ScalarKernels.F16_TO_F32[w.getShort(position + 2 * j) & 0xFFFF];
        }
    }

    @Override
    public void f32ToF32(ByteBuffer w, int position, float[] dst, int dstOffset, int length) {
        int j = 0;
        for (; j <= length - L; j += L) {
            FloatVector.fromByteBuffer(F, w, position + 4 * j, LE).intoArray(dst, dstOffset + j);
        }
        for (; j < length; j++) {
            dst[dstOffset + j] = w.getFloat(position + 4 * j);
        }
    }

    @Override
    public void matmulBlock(float[] w, int rows, float[] x, int tokens, int cols, float[] out, int outOffset,
            int outStride) {
        int r = 0;
        for (; r + 3 < rows; r += 4) {
            int t = 0;
            for (; t + 3 < tokens; t += 4) {
                tile4x4(w, r * cols, x, t * cols, cols, out, outOffset + t * outStride + r, outStride);
            }
            for (; t < tokens; t++) {
                // One token against four rows.
                dot1x4(x, t * cols, w, r * cols, cols, out, outOffset + t * outStride + r, 1);
            }
        }
        for (; r < rows; r++) {
            int t = 0;
            for (; t + 3 < tokens; t += 4) {
                // One row against four tokens.
                dot1x4(w, r * cols, x, t * cols, cols, out, outOffset + t * outStride + r, outStride);
            }
            for (; t < tokens; t++) {
                out[outOffset + t * outStride + r] = dot(w, r * cols, x, t * cols, cols);
            }
        }
    }

    /**
     * Four rows of w against four rows of x, each loaded vector used four times: 8 loads for 16 FMAs.
     * {@code out[outOffset + t * outStride + r] = dot(w row r, x row t)}; rows are {@code n} apart.
     */
    private static void tile4x4(float[] w, int wOffset, float[] x, int xOffset, int n, float[] out, int outOffset,
            int outStride) {
        FloatVector a00 = FloatVector.zero(F);
        FloatVector a01 = FloatVector.zero(F);
        FloatVector a02 = FloatVector.zero(F);
        FloatVector a03 = FloatVector.zero(F);
        FloatVector a10 = FloatVector.zero(F);
        FloatVector a11 = FloatVector.zero(F);
        FloatVector a12 = FloatVector.zero(F);
        FloatVector a13 = FloatVector.zero(F);
        FloatVector a20 = FloatVector.zero(F);
        FloatVector a21 = FloatVector.zero(F);
        FloatVector a22 = FloatVector.zero(F);
        FloatVector a23 = FloatVector.zero(F);
        FloatVector a30 = FloatVector.zero(F);
        FloatVector a31 = FloatVector.zero(F);
        FloatVector a32 = FloatVector.zero(F);
        FloatVector a33 = FloatVector.zero(F);
        int j = 0;
        for (; j <= n - L; j += L) {
            FloatVector w0 = FloatVector.fromArray(F, w, wOffset + j);
            FloatVector w1 = FloatVector.fromArray(F, w, wOffset + n + j);
            FloatVector w2 = FloatVector.fromArray(F, w, wOffset + 2 * n + j);
            FloatVector w3 = FloatVector.fromArray(F, w, wOffset + 3 * n + j);
            FloatVector x0 = FloatVector.fromArray(F, x, xOffset + j);
            a00 = w0.fma(x0, a00);
            a10 = w1.fma(x0, a10);
            a20 = w2.fma(x0, a20);
            a30 = w3.fma(x0, a30);
            FloatVector x1 = FloatVector.fromArray(F, x, xOffset + n + j);
            a01 = w0.fma(x1, a01);
            a11 = w1.fma(x1, a11);
            a21 = w2.fma(x1, a21);
            a31 = w3.fma(x1, a31);
            FloatVector x2 = FloatVector.fromArray(F, x, xOffset + 2 * n + j);
            a02 = w0.fma(x2, a02);
            a12 = w1.fma(x2, a12);
            a22 = w2.fma(x2, a22);
            a32 = w3.fma(x2, a32);
            FloatVector x3 = FloatVector.fromArray(F, x, xOffset + 3 * n + j);
            a03 = w0.fma(x3, a03);
            a13 = w1.fma(x3, a13);
            a23 = w2.fma(x3, a23);
            a33 = w3.fma(x3, a33);
        }
        int o = outOffset;
        out[o] = a00.reduceLanes(VectorOperators.ADD);
        out[o + 1] = a10.reduceLanes(VectorOperators.ADD);
        out[o + 2] = a20.reduceLanes(VectorOperators.ADD);
        out[o + 3] = a30.reduceLanes(VectorOperators.ADD);
        o += outStride;
        out[o] = a01.reduceLanes(VectorOperators.ADD);
        out[o + 1] = a11.reduceLanes(VectorOperators.ADD);
        out[o + 2] = a21.reduceLanes(VectorOperators.ADD);
        out[o + 3] = a31.reduceLanes(VectorOperators.ADD);
        o += outStride;
        out[o] = a02.reduceLanes(VectorOperators.ADD);
        out[o + 1] = a12.reduceLanes(VectorOperators.ADD);
        out[o + 2] = a22.reduceLanes(VectorOperators.ADD);
        out[o + 3] = a32.reduceLanes(VectorOperators.ADD);
        o += outStride;
        out[o] = a03.reduceLanes(VectorOperators.ADD);
        out[o + 1] = a13.reduceLanes(VectorOperators.ADD);
        out[o + 2] = a23.reduceLanes(VectorOperators.ADD);
        out[o + 3] = a33.reduceLanes(VectorOperators.ADD);
        if (j < n) { // the last n % L columns of all 16 pairs
            for (int t = 0; t < 4; t++) {
                for (int r = 0; r < 4; r++) {
                    float sum = 0;
                    for (int c = j; c < n; c++) {
                        sum += w[wOffset + r * n + c] * x[xOffset + t * n + c];
                    }
                    out[outOffset + t * outStride + r] += sum;
                }
            }
        }
    }

    /**
     * {@code out[outOffset + i * outStride] = dot(a row, b row i)} for the four rows of b, {@code n} apart:
     * the vector of a is loaded once for four FMAs.
     */
    private static void dot1x4(float[] a, int aOffset, float[] b, int bOffset, int n, float[] out, int outOffset,
            int outStride) {
        FloatVector s0 = FloatVector.zero(F);
        FloatVector s1 = FloatVector.zero(F);
        FloatVector s2 = FloatVector.zero(F);
        FloatVector s3 = FloatVector.zero(F);
        int j = 0;
        for (; j <= n - L; j += L) {
            FloatVector va = FloatVector.fromArray(F, a, aOffset + j);
            s0 = va.fma(FloatVector.fromArray(F, b, bOffset + j), s0);
            s1 = va.fma(FloatVector.fromArray(F, b, bOffset + n + j), s1);
            s2 = va.fma(FloatVector.fromArray(F, b, bOffset + 2 * n + j), s2);
            s3 = va.fma(FloatVector.fromArray(F, b, bOffset + 3 * n + j), s3);
        }
        out[outOffset] = s0.reduceLanes(VectorOperators.ADD);
        out[outOffset + outStride] = s1.reduceLanes(VectorOperators.ADD);
        out[outOffset + 2 * outStride] = s2.reduceLanes(VectorOperators.ADD);
        out[outOffset + 3 * outStride] = s3.reduceLanes(VectorOperators.ADD);
        if (j < n) { // the last n % L columns
            for (int i = 0; i < 4; i++) {
                float sum = 0;
                for (int c = j; c < n; c++) {
                    sum += a[aOffset + c] * b[bOffset + i * n + c];
                }
                out[outOffset + i * outStride] += sum;
            }
        }
    }

    /** L bf16 values at byte {@code position}, widened to fp32: the bits shifted into the top half. */
    private static FloatVector bf16(ByteBuffer w, int position) {
        return ((IntVector) ShortVector.fromByteBuffer(S, w, position, LE).convertShape(VectorOperators.S2I, I, 0))
                .lanewise(VectorOperators.LSHL, 16)
                .reinterpretAsFloats();
    }

    /**
     * L fp16 values at byte {@code position}, widened to fp32 exactly. The 15 magnitude bits shifted left by
     * 13 are an fp32 whose exponent is 112 too small (bias 127 against 15), subnormals landing on fp32
     * subnormals, so one multiplication by 2^112 is exact; exponent 31 (infinity, NaN) maps to 255 instead.
     */
    private static FloatVector f16(ByteBuffer w, int position) {
        IntVector h = (IntVector) ShortVector.fromByteBuffer(S, w, position, LE).convertShape(VectorOperators.S2I, I, 0);
        IntVector magnitude = h.and(0x7FFF).lanewise(VectorOperators.LSHL, 13);
        IntVector scaled = magnitude.reinterpretAsFloats().mul(0x1p112f).reinterpretAsInts();
        VectorMask<Integer> special = h.and(0x7C00).eq(0x7C00);
        IntVector sign = h.and(0x8000).lanewise(VectorOperators.LSHL, 16);
        return scaled.blend(magnitude.or(0x7F80_0000), special).or(sign).reinterpretAsFloats();
    }
}
