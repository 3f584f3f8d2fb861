package io.dmsserve.engine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class HalfTest {

    @Test
    void bf16KnownValues() {
        assertThat(bits(Half.floatToBf16(1.5f))).isEqualTo(0x3FC0);
        assertThat(bits(Half.floatToBf16(-2.25f))).isEqualTo(0xC010);
        assertThat(Half.bf16ToFloat((short) 0x3FC0)).isEqualTo(1.5f);
        assertThat(Half.bf16ToFloat((short) 0xC010)).isEqualTo(-2.25f);
    }

    @Test
    void bf16RoundsToNearestEven() {
        // bf16 keeps 7 mantissa bits; 1 + 2^-8 is half-way between 1 and 1 + 2^-7.
        assertThat(bits(Half.floatToBf16(1f + 0x1p-8f))).isEqualTo(0x3F80);
        assertThat(bits(Half.floatToBf16(1f + 3 * 0x1p-8f))).isEqualTo(0x3F82);
        assertThat(bits(Half.floatToBf16(1f + 0x1p-8f + 0x1p-20f))).isEqualTo(0x3F81);
        assertThat(bits(Half.floatToBf16(Float.MAX_VALUE))).isEqualTo(0x7F80);
        assertThat(Float.isNaN(Half.bf16ToFloat(Half.floatToBf16(Float.NaN)))).isTrue();
    }

    @Test
    void f16KnownValues() {
        assertThat(bits(Half.floatToF16(1.5f))).isEqualTo(0x3E00);
        assertThat(bits(Half.floatToF16(-2.25f))).isEqualTo(0xC080);
        assertThat(bits(Half.floatToF16(65504f))).isEqualTo(0x7BFF);
        assertThat(bits(Half.floatToF16(65519.99f))).isEqualTo(0x7BFF);
        assertThat(bits(Half.floatToF16(65520f))).isEqualTo(0x7C00);
        assertThat(bits(Half.floatToF16(Float.NEGATIVE_INFINITY))).isEqualTo(0xFC00);
        assertThat(Float.isNaN(Half.f16ToFloat(Half.floatToF16(Float.NaN)))).isTrue();
        assertThat(Half.f16ToFloat((short) 0x3E00)).isEqualTo(1.5f);
        assertThat(Half.f16ToFloat((short) 0xC080)).isEqualTo(-2.25f);
        assertThat(Half.f16ToFloat((short) 0x7C00)).isEqualTo(Float.POSITIVE_INFINITY);
    }

    @Test
    void f16Subnormals() {
        assertThat(Half.f16ToFloat((short) 0x0001)).isEqualTo(0x1p-24f);
        assertThat(Half.f16ToFloat((short) 0x03FF)).isEqualTo(1023 * 0x1p-24f);
        assertThat(Half.f16ToFloat((short) 0x8001)).isEqualTo(-0x1p-24f);
        assertThat(Half.f16ToFloat((short) 0x0400)).isEqualTo(0x1p-14f);
        assertThat(bits(Half.floatToF16(0x1p-24f))).isEqualTo(0x0001);
        assertThat(bits(Half.floatToF16(1023 * 0x1p-24f))).isEqualTo(0x03FF);
        // Ties go to even: 0.5 ulp to 0, 1.5 ulp to 2, 2.5 ulp to 2.
        assertThat(bits(Half.floatToF16(0x1p-25f))).isEqualTo(0x0000);
        assertThat(bits(Half.floatToF16(3 * 0x1p-25f))).isEqualTo(0x0002);
        assertThat(bits(Half.floatToF16(5 * 0x1p-25f))).isEqualTo(0x0002);
        assertThat(bits(Half.floatToF16(-3 * 0x1p-25f))).isEqualTo(0x8002);
        // Just below the smallest normal rounds up into it.
        assertThat(bits(Half.floatToF16(0x1p-14f - 0x1p-30f))).isEqualTo(0x0400);
    }

    @Test
    void f16RoundsNormalsToNearestEven() {
        // fp16 keeps 10 mantissa bits; 1 + 2^-11 is half-way between 1 and 1 + 2^-10.
        assertThat(bits(Half.floatToF16(1f + 0x1p-11f))).isEqualTo(0x3C00);
        assertThat(bits(Half.floatToF16(1f + 3 * 0x1p-11f))).isEqualTo(0x3C02);
        assertThat(bits(Half.floatToF16(2f - 0x1p-12f))).isEqualTo(0x4000);
    }

    /** All 65536 patterns against the standard's definition, written independently of the decoding table. */
    @Test
    void everyF16PatternDecodesAsIeee754Defines() {
        IeeeBinary16.KNOWN.forEach((h, value) -> {
            assertThat(IeeeBinary16.value(h)).as("the oracle itself at 0x%04x", h).isEqualTo(value);
            assertThat((double) Half.f16ToFloat((short) (int) h)).as("0x%04x", h).isEqualTo(value);
        });
        int nans = 0;
        for (int h = 0; h < 1 << 16; h++) {
            assertThat(Float.floatToRawIntBits(Half.f16ToFloat((short) h))).as("0x%04x", h)
                    .isEqualTo(IeeeBinary16.widenedBits(h));
            nans += Double.isNaN(IeeeBinary16.value(h)) ? 1 : 0;
        }
        assertThat(nans).as("NaN patterns: 2 signs × 1023 payloads").isEqualTo(2046);
    }

    /**
     * floatToF16 against the definition of rounding: the nearest fp16 value found by search among all finite
     * fp16 values (decoded by the independent oracle), ties to the even pattern, overflow to infinity from
     * 65520 (half-way between 65504 and the next power of two's step).
     */
    @Test
    void f16RoundingOfRandomFloatsMatchesANearestValueSearch() {
        double[] positives = new double[0x7C00]; // patterns 0x0000..0x7BFF, ascending in value
        for (int h = 0; h < positives.length; h++) {
            positives[h] = IeeeBinary16.value(h);
        }
        java.util.SplittableRandom random = new java.util.SplittableRandom(16);
        for (int i = 0; i < 200_000; i++) {
            // Log-uniform magnitudes from far below the subnormals to beyond the largest value.
            float f = (float) (Math.scalb(1 + random.nextDouble(), random.nextInt(-27, 18))
                    * (random.nextBoolean() ? 1 : -1));
            double magnitude = Math.abs((double) f);
            int expected;
            if (magnitude >= 65520) {
                expected = 0x7C00;
            } else {
                int above = java.util.Arrays.binarySearch(positives, magnitude);
                if (above >= 0) {
                    expected = above;
                } else {
                    above = -above - 1;
                    int below = above - 1;
                    double toBelow = magnitude - positives[below];
                    double toAbove = above < positives.length ? positives[above] - magnitude : Double.MAX_VALUE;
                    expected = toBelow < toAbove ? below : toAbove < toBelow ? above
                            : (below & 1) == 0 ? below : above;
                }
            }
            expected |= f < 0 ? 0x8000 : 0;
            assertThat(bits(Half.floatToF16(f))).as("%s (0x%08x)", f, Float.floatToRawIntBits(f)).isEqualTo(expected);
        }
    }

    @Test
    void everyF16ValueRoundTrips() {
        for (int h = 0; h < 1 << 16; h++) {
            float f = Half.f16ToFloat((short) h);
            if (!Float.isNaN(f)) {
                assertThat(bits(Half.floatToF16(f))).as("0x%04x", h).isEqualTo(h);
            }
            // Each value sits between its neighbours (no table entry out of place).
            if ((h & 0x7FFF) < 0x7C00 && (h & 0x7FFF) > 0) {
                float smaller = Half.f16ToFloat((short) (h - 1));
                assertThat(Math.abs(smaller)).isLessThan(Math.abs(f));
            }
        }
    }

    @Test
    void dtypeNames() {
        assertThat(DType.fromSafetensors("BF16")).isEqualTo(DType.BF16);
        assertThat(DType.fromSafetensors("F16").byteSize()).isEqualTo(2);
        assertThat(DType.fromSafetensors("F32").byteSize()).isEqualTo(4);
        assertThatThrownBy(() -> DType.fromSafetensors("F64")).isInstanceOf(CheckpointException.class)
                .hasMessage("unsupported dtype 'F64' (supported: BF16, F16, F32)");
    }

    private static int bits(short s) {
        return s & 0xFFFF;
    }
}
