package io.dmsserve.engine.simd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.data.Offset.offset;

import io.dmsserve.engine.IeeeBinary16;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The Vector API kernels against the scalar ones and a float64 reference: random, never zero inputs;
 * lengths that are not multiples of the lane count (so every loop and the scalar tail run); unaligned
 * offsets; outputs poisoned with NaN so that a missed or stray write shows.
 */
class KernelsTest {

    /** Odd lengths around 1, 2, 4 and 8 vectors of 4, 8 or 16 lanes, and one long row. */
    private static final int[] LENGTHS = {1, 2, 3, 5, 7, 15, 17, 31, 33, 47, 63, 65, 67, 127, 129, 131, 1027};
    private static final float POISON = Float.intBitsToFloat(0x7FC0_DEAD);

    enum Weights { BF16, F16, F32 }

    private static final FloatKernels SCALAR = Kernels.scalar();

    /** The vector kernels as first loaded (not warmed up, so mostly interpreted). */
    private static FloatKernels vector() {
        assertVectorModule();
        return Kernels.select("vector", true, true);
    }

    /**
     * The build runs the tests with the Vector API (pom.xml: argLine of surefire and failsafe); without it these
     * tests would have nothing to compare, so a lost {@code --add-modules} fails them instead of skipping them.
     */
    static void assertVectorModule() {
        assertThat(Kernels.vectorModulePresent())
                .as("the test JVM has no jdk.incubator.vector: the plugin's argLine lost --add-modules=jdk.incubator.vector")
                .isTrue();
    }

    @Test
    void theTestJvmHasTheVectorModule() {
        assertVectorModule();
        assertThat(ModuleLayer.boot().findModule("jdk.incubator.vector")).isPresent();
    }

    @Test
    void dotMatchesFloat64() {
        FloatKernels vector = vector();
        SplittableRandom random = new SplittableRandom(1);
        for (int n : LENGTHS) {
            float[] a = random(n + 3, random);
            float[] b = random(n + 5, random);
            double expected = 0;
            double scale = 0;
            for (int j = 0; j < n; j++) {
                expected += (double) a[3 + j] * b[5 + j];
                scale += Math.abs((double) a[3 + j] * b[5 + j]);
            }
            assertThat((double) vector.dot(a, 3, b, 5, n)).as("n=%d", n).isCloseTo(expected, offset(1e-5 * scale));
            assertThat((double) SCALAR.dot(a, 3, b, 5, n)).as("n=%d", n).isCloseTo(expected, offset(1e-5 * scale));
        }
    }

    @Test
    void axpyWritesOnlyItsRange() {
        FloatKernels vector = vector();
        SplittableRandom random = new SplittableRandom(2);
        for (int n : LENGTHS) {
            float[] x = random(n + 1, random);
            float[] start = random(n, random);
            float alpha = random(1, random)[0];
            float[] y = poisoned(n + 4);
            System.arraycopy(start, 0, y, 2, n);
            vector.axpy(alpha, x, 1, y, 2, n);
            assertPoisonedOutside(y, 2, n);
            for (int j = 0; j < n; j++) {
                double expected = start[j] + (double) alpha * x[1 + j];
                double scale = Math.abs(start[j]) + Math.abs((double) alpha * x[1 + j]);
                assertThat((double) y[2 + j]).as("n=%d j=%d", n, j).isCloseTo(expected, offset(1e-5 * scale));
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Weights.class)
    void weightDotsMatchFloat64OnMappedAndHeapBuffers(Weights dtype) {
        FloatKernels vector = vector();
        SplittableRandom random = new SplittableRandom(3);
        for (int n : LENGTHS) {
            float[] values = random(n, random);
            for (boolean direct : new boolean[] {true, false}) {
                int position = 3; // unaligned, as tensors after an odd-sized one are
                ByteBuffer w = encode(dtype, values, position, direct);
                float[] decoded = new float[n];
                convert(SCALAR, dtype, w, position, decoded, 0, n);
                float[] x = random(n + 7, random);
                double expected = 0;
                double scale = 0;
                for (int j = 0; j < n; j++) {
                    expected += (double) decoded[j] * x[7 + j];
                    scale += Math.abs((double) decoded[j] * x[7 + j]);
                }
                assertThat((double) dot(vector, dtype, w, position, x, 7, n)).as("n=%d direct=%s", n, direct)
                        .isCloseTo(expected, offset(1e-5 * scale));
                assertThat((double) dot(SCALAR, dtype, w, position, x, 7, n)).as("n=%d direct=%s", n, direct)
                        .isCloseTo(expected, offset(1e-5 * scale));
            }
        }
    }

    /** Several rows in one call give what one row at a time gives, into their own slots only. */
    @ParameterizedTest
    @EnumSource(Weights.class)
    void rowBlocksMatchSingleRows(Weights dtype) {
        FloatKernels vector = vector();
        SplittableRandom random = new SplittableRandom(9);
        int size = dtype == Weights.F32 ? 4 : 2;
        for (int n : LENGTHS) {
            int rows = 5;
            int rowBytes = size * (n + 2); // rows need not be packed
            ByteBuffer w = encode(dtype, random(rows * (n + 2), random), 1, true);
            float[] x = random(n + 2, random);
            for (FloatKernels kernels : new FloatKernels[] {vector, SCALAR}) {
                float[] out = poisoned(rows + 3);
                switch (dtype) {
                    case BF16 -> kernels.dotRowsBf16(w, 1, rowBytes, rows, x, 2, n, out, 1);
                    case F16 -> kernels.dotRowsF16(w, 1, rowBytes, rows, x, 2, n, out, 1);
                    case F32 -> kernels.dotRowsF32(w, 1, rowBytes, rows, x, 2, n, out, 1);
                }
                assertPoisonedOutside(out, 1, rows);
                for (int r = 0; r < rows; r++) {
                    assertThat(Float.floatToRawIntBits(out[1 + r])).as("%s n=%d row %d", kernels.name(), n, r)
                            .isEqualTo(Float.floatToRawIntBits(dot(kernels, dtype, w, 1 + r * rowBytes, x, 2, n)));
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(Weights.class)
    void conversionsAreExactAndWriteOnlyTheirRange(Weights dtype) {
        FloatKernels vector = vector();
        SplittableRandom random = new SplittableRandom(4);
        for (int n : LENGTHS) {
            ByteBuffer w = encode(dtype, random(n, random), 1, true);
            float[] expected = poisoned(n + 6);
            float[] actual = poisoned(n + 6);
            convert(SCALAR, dtype, w, 1, expected, 4, n);
            convert(vector, dtype, w, 1, actual, 4, n);
            assertPoisonedOutside(actual, 4, n);
            assertSameBits(actual, expected);
        }
    }

    /** Every fp16 and bf16 bit pattern, subnormals, infinities and NaN payloads included. */
    @ParameterizedTest
    @ValueSource(booleans = {true, false})
    void everySixteenBitPatternWidensExactly(boolean f16) {
        FloatKernels vector = vector();
        int count = 1 << 16;
        ByteBuffer w = ByteBuffer.allocateDirect(2 * count + 1).order(ByteOrder.LITTLE_ENDIAN);
        for (int h = 0; h < count; h++) {
            w.putShort(1 + 2 * h, (short) h);
        }
        float[] expected = new float[count];
        float[] actual = poisoned(count);
        if (f16) {
            SCALAR.f16ToF32(w, 1, expected, 0, count);
            vector.f16ToF32(w, 1, actual, 0, count);
        } else {
            SCALAR.bf16ToF32(w, 1, expected, 0, count);
            vector.bf16ToF32(w, 1, actual, 0, count);
        }
        // Both against the definition of the format, not against each other or the table they share.
        for (int h = 0; h < count; h++) {
            int oracle = f16 ? IeeeBinary16.widenedBits(h) : h << 16;
            assertThat(Float.floatToRawIntBits(expected[h])).as("scalar 0x%04x", h).isEqualTo(oracle);
            assertThat(Float.floatToRawIntBits(actual[h])).as("%s 0x%04x", vector.name(), h).isEqualTo(oracle);
        }
    }

    @Test
    void matmulBlockMatchesFloat64AndWritesOnlyItsBlock() {
        FloatKernels vector = vector();
        SplittableRandom random = new SplittableRandom(5);
        for (int rows : new int[] {1, 3, 4, 5, 8, 9}) {
            for (int tokens : new int[] {1, 2, 3, 4, 5, 7, 8}) {
                for (int cols : new int[] {3, 17, 35, 67}) {
                    float[] w = random(rows * cols, random);
                    float[] x = random(tokens * cols, random);
                    int outStride = rows + 5;
                    int outOffset = 2;
                    for (FloatKernels kernels : new FloatKernels[] {vector, SCALAR}) {
                        float[] out = poisoned(tokens * outStride);
                        kernels.matmulBlock(w, rows, x, tokens, cols, out, outOffset, outStride);
                        for (int t = 0; t < tokens; t++) {
                            for (int c = 0; c < outStride; c++) {
                                float value = out[t * outStride + c];
                                int r = c - outOffset;
                                if (r < 0 || r >= rows) {
                                    assertThat(Float.floatToRawIntBits(value)).as("stray write").isEqualTo(
                                            Float.floatToRawIntBits(POISON));
                                    continue;
                                }
                                double expected = 0;
                                double scale = 0;
                                for (int j = 0; j < cols; j++) {
                                    expected += (double) w[r * cols + j] * x[t * cols + j];
                                    scale += Math.abs((double) w[r * cols + j] * x[t * cols + j]);
                                }
                                assertThat((double) value).as("%s rows=%d tokens=%d cols=%d r=%d t=%d",
                                        kernels.name(), rows, tokens, cols, r, t).isCloseTo(expected,
                                        offset(1e-5 * scale));
                            }
                        }
                    }
                }
            }
        }
    }

    /**
     * The kernels the process uses, warmed up so that C2 has compiled them, on many random shapes: the
     * tests above mostly see interpreted code, and a JIT intrinsic is a different implementation.
     */
    @Test
    void compiledKernelsAgreeWithScalar() {
        FloatKernels kernels = Kernels.get();
        SplittableRandom random = new SplittableRandom(6);
        for (int i = 0; i < 3000; i++) {
            int n = 1 + random.nextInt(200);
            Weights dtype = Weights.values()[i % 3];
            float[] values = random(n, random);
            ByteBuffer w = encode(dtype, values, i % 5, true);
            float[] x = random(n, random);
            float[] decoded = new float[n];
            float[] converted = new float[n];
            convert(SCALAR, dtype, w, i % 5, decoded, 0, n);
            convert(kernels, dtype, w, i % 5, converted, 0, n);
            assertSameBits(converted, decoded);
            double scale = 0;
            for (int j = 0; j < n; j++) {
                scale += Math.abs((double) decoded[j] * x[j]);
            }
            assertThat((double) dot(kernels, dtype, w, i % 5, x, 0, n)).as("i=%d", i)
                    .isCloseTo(SCALAR.dot(decoded, 0, x, 0, n), offset(1e-5 * scale));
            assertThat((double) kernels.dot(decoded, 0, x, 0, n)).as("i=%d", i)
                    .isCloseTo(SCALAR.dot(decoded, 0, x, 0, n), offset(1e-5 * scale));
            float[] out = new float[4];
            float[] reference = new float[4];
            int rows = 1 + i % 4;
            int cols = n / rows;
            kernels.matmulBlock(decoded, rows, x, 1, cols, out, 0, 4);
            SCALAR.matmulBlock(decoded, rows, x, 1, cols, reference, 0, 4);
            for (int r = 0; r < rows; r++) {
                assertThat(out[r]).as("i=%d", i).isCloseTo(reference[r], offset((float) (1e-5 * scale) + 1e-30f));
            }
        }
    }

    @Test
    void scalarWhenForcedOrWhenTheModuleOrC2IsMissing() {
        assertThat(Kernels.select("scalar", true, true).name()).isEqualTo("scalar");
        assertThat(Kernels.select(" scalar ", true, true)).isSameAs(Kernels.scalar());
        assertThat(Kernels.select(null, false, true).name()).isEqualTo("scalar");
        assertThat(Kernels.select("auto", false, true).name()).isEqualTo("scalar");
        assertThat(Kernels.select("auto", true, false).name()).isEqualTo("scalar");
    }

    @Test
    void vectorWhenTheModuleIsPresent() {
        assertVectorModule();
        assertThat(Kernels.select("auto", true, true).name()).matches("vector-(128|256|512|1024|2048)");
        assertThat(Kernels.select("vector", true, true).name()).matches("vector-\\d+");
        // What this JVM uses follows the same rule.
        assertThat(Kernels.name()).isEqualTo(Kernels.select(System.getProperty(Kernels.PROPERTY),
                Kernels.vectorModulePresent(), Kernels.optimizingJit()).name());
    }

    @Test
    void badChoicesSayWhatIsWrong() {
        assertThatThrownBy(() -> Kernels.select("vector", false, true))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("--add-modules jdk.incubator.vector");
        assertThatThrownBy(() -> Kernels.select("vector", true, false))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("C2");
        assertThatThrownBy(() -> Kernels.select("fast", true, true))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("dms.cpu.kernels='fast' is not one of auto, scalar, vector");
    }

    private static float dot(FloatKernels k, Weights dtype, ByteBuffer w, int position, float[] x, int xOffset, int n) {
        return switch (dtype) {
            case BF16 -> k.dotBf16(w, position, x, xOffset, n);
            case F16 -> k.dotF16(w, position, x, xOffset, n);
            case F32 -> k.dotF32(w, position, x, xOffset, n);
        };
    }

    private static void convert(FloatKernels k, Weights dtype, ByteBuffer w, int position, float[] dst, int dstOffset,
            int n) {
        switch (dtype) {
            case BF16 -> k.bf16ToF32(w, position, dst, dstOffset, n);
            case F16 -> k.f16ToF32(w, position, dst, dstOffset, n);
            case F32 -> k.f32ToF32(w, position, dst, dstOffset, n);
        }
    }

    /**
     * values in the given format at byte {@code position} of a little-endian buffer, read-only when direct
     * (as a file mapping is). 16-bit formats keep the top bits (truncation is fine: any bit pattern will do).
     */
    private static ByteBuffer encode(Weights dtype, float[] values, int position, boolean direct) {
        int size = dtype == Weights.F32 ? 4 : 2;
        int bytes = position + size * values.length;
        ByteBuffer w = (direct ? ByteBuffer.allocateDirect(bytes) : ByteBuffer.allocate(bytes))
                .order(ByteOrder.LITTLE_ENDIAN);
        for (int j = 0; j < values.length; j++) {
            int p = position + size * j;
            switch (dtype) {
                case BF16 -> w.putShort(p, (short) (Float.floatToRawIntBits(values[j]) >>> 16));
                case F16 -> w.putShort(p, f16(values[j]));
                case F32 -> w.putFloat(p, values[j]);
            }
        }
        return direct ? w.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN) : w;
    }

    /** A normal fp16 near v (values here lie in [-2, 2], far from fp16's limits), truncated. */
    private static short f16(float v) {
        int bits = Float.floatToRawIntBits(v);
        int sign = (bits >>> 16) & 0x8000;
        int exponent = ((bits >>> 23) & 0xFF) - 127 + 15;
        if (exponent <= 0) {
            return (short) (sign | 0x0001); // the smallest subnormal: still not zero
        }
        return (short) (sign | (exponent << 10) | ((bits >>> 13) & 0x03FF));
    }

    private static float[] random(int n, SplittableRandom random) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            do {
                v[i] = (float) (random.nextDouble() * 4 - 2);
            } while (v[i] == 0);
        }
        return v;
    }

    private static float[] poisoned(int n) {
        float[] v = new float[n];
        java.util.Arrays.fill(v, POISON);
        return v;
    }

    private static void assertPoisonedOutside(float[] v, int from, int length) {
        for (int i = 0; i < v.length; i++) {
            if (i < from || i >= from + length) {
                assertThat(Float.floatToRawIntBits(v[i])).as("stray write at %d", i)
                        .isEqualTo(Float.floatToRawIntBits(POISON));
            }
        }
    }

    private static void assertSameBits(float[] actual, float[] expected) {
        for (int i = 0; i < expected.length; i++) {
            assertThat(Float.floatToRawIntBits(actual[i])).as("element %d", i)
                    .isEqualTo(Float.floatToRawIntBits(expected[i]));
        }
    }
}
