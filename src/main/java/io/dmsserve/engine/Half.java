package io.dmsserve.engine;

/**
 * Bit-level conversions between fp32 and the two 16-bit formats. Java 17 has no Float.float16ToFloat,
 * so fp16 is decoded through a table of all 65536 values (256 KiB, built once): one array load per
 * element in the matmul loop instead of a branchy decode.
 */
final class Half {

    /** fp16 bits (as an unsigned 16-bit index) to fp32, exact for every value including subnormals. */
    static final float[] F16_TO_F32 = buildTable();

    private Half() {
    }

    static float f16ToFloat(short bits) {
        return F16_TO_F32[bits & 0xFFFF];
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

    private static float[] buildTable() {
        float[] table = new float[1 << 16];
        for (int i = 0; i < table.length; i++) {
            table[i] = decode(i);
        }
        return table;
    }

    private static float decode(int h) {
        int sign = (h & 0x8000) << 16;
        int exponent = (h >>> 10) & 0x1F;
        int mantissa = h & 0x03FF;
        if (exponent == 0) {
            float magnitude = mantissa * 0x1p-24f;
            return sign == 0 ? magnitude : -magnitude;
        }
        if (exponent == 0x1F) {
            return Float.intBitsToFloat(sign | 0x7F80_0000 | (mantissa << 13));
        }
        return Float.intBitsToFloat(sign | ((exponent - 15 + 127) << 23) | (mantissa << 13));
    }
}
