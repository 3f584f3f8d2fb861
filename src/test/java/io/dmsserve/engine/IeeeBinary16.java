package io.dmsserve.engine;

import java.util.Map;

/**
 * IEEE 754 binary16 written down from the standard's definition, independently of the engine's decoders (its
 * lookup table and the vector kernels' shift-and-scale): the oracle the fp16 tests compare against.
 */
public final class IeeeBinary16 {

    /** Bit patterns and their values as the standard's examples list them, as decimal literals. */
    public static final Map<Integer, Double> KNOWN = Map.ofEntries(
            Map.entry(0x0000, 0.0),
            Map.entry(0x0001, 5.9604644775390625E-8),   // smallest subnormal, 2^-24
            Map.entry(0x03FF, 6.097555160522461E-5),    // largest subnormal
            Map.entry(0x0400, 6.103515625E-5),          // smallest normal, 2^-14
            Map.entry(0x3555, 0.333251953125),          // nearest to 1/3
            Map.entry(0x3BFF, 0.99951171875),           // largest below one
            Map.entry(0x3C00, 1.0),
            Map.entry(0x3C01, 1.0009765625),            // smallest above one
            Map.entry(0x4248, 3.140625),                // nearest to pi
            Map.entry(0x7BFF, 65504.0),                 // largest normal
            Map.entry(0x7C00, Double.POSITIVE_INFINITY),
            Map.entry(0x8000, -0.0),
            Map.entry(0xC000, -2.0),
            Map.entry(0xFC00, Double.NEGATIVE_INFINITY));

    private IeeeBinary16() {
    }

    /** (-1)^sign × 2^(e-15) × 1.fraction for normals, × 2^-14 × 0.fraction for subnormals; NaN for e = 31, f ≠ 0. */
    public static double value(int bits) {
        int sign = (bits >>> 15) & 1;
        int exponent = (bits >>> 10) & 0x1F;
        int fraction = bits & 0x3FF;
        double magnitude;
        if (exponent == 0x1F) {
            magnitude = fraction == 0 ? Double.POSITIVE_INFINITY : Double.NaN;
        } else if (exponent == 0) {
            magnitude = Math.scalb(fraction / 1024.0, -14);
        } else {
            magnitude = Math.scalb(1 + fraction / 1024.0, exponent - 15);
        }
        return sign == 1 ? -magnitude : magnitude;
    }

    /**
     * The fp32 bits a widening must produce: the value (exact in fp32) or, for a NaN, a NaN of the same sign with
     * the 10 payload bits at the top of the fp32 fraction (as Java 20's Float.float16ToFloat and the tables do).
     */
    public static int widenedBits(int bits) {
        double value = value(bits);
        if (Double.isNaN(value)) {
            return ((bits & 0x8000) << 16) | 0x7F80_0000 | ((bits & 0x3FF) << 13);
        }
        return Float.floatToRawIntBits((float) value);
    }
}
