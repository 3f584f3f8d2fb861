package io.dmsserve.engine;

import io.dmsserve.engine.simd.Kernels;

/**
 * Bit-level conversions between fp32 and the two 16-bit formats. Java 17 has no Float.float16ToFloat;
 * fp16 is decoded through the kernels' table of all 65536 values.
 */
final class Half {

    private Half() {
    }

    static float f16ToFloat(short bits) {
        return Kernels.f16ToFloat(bits);
    }

    static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat(bits << 16);
    }

    /** Round to nearest even; NaN stays a quiet NaN of the same sign; overflow becomes infinity. */
    static short floatToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if (Float.isNaN(f)) {
            return (short) ((bits >>> 16) | 0x0040);
        }
        int lsb = (bits >>> 16) & 1;
        return (short) ((bits + 0x7FFF + lsb) >>> 16);
    }

    /** Round to nearest even, with fp16 subnormals; overflow (|f| >= 65520) becomes infinity. */
    static short floatToF16(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = (bits >>> 16) & 0x8000;
        int abs = bits & 0x7FFF_FFFF;
        if (abs > 0x7F80_0000) {
            return (short) (sign | 0x7E00 | ((abs >>> 13) & 0x03FF));
        }
        if (abs >= 0x477F_F000) {
            return (short) (sign | 0x7C00);
        }
        if (abs < 0x3880_0000) {
            // Below 2^-14 the result is subnormal: a multiple of 2^-24. The product is exact in double
            // and rint rounds half to even; 1024 comes out as the bits of the smallest normal, as it should.
            return (short) (sign | (int) Math.rint(Float.intBitsToFloat(abs) * 0x1p24));
        }
        int h = ((((abs >>> 23) - 127 + 15) << 10) | ((abs >>> 13) & 0x03FF));
        int rest = abs & 0x1FFF;
        if (rest > 0x1000 || (rest == 0x1000 && (h & 1) != 0)) {
            h++; // a carry out of the mantissa correctly bumps the exponent
        }
        return (short) (sign | h);
    }
}
