package io.dmsserve.engine;

/** {@link Half}'s conversions, opened to tests in other packages (the CUDA kernels' tests). */
public final class HalfAccess {

    private HalfAccess() {
    }

    public static short floatToBf16(float f) {
        return Half.floatToBf16(f);
    }

    public static float bf16ToFloat(short bits) {
        return Half.bf16ToFloat(bits);
    }

    /** f rounded to the nearest bf16 (ties to even), as fp32. */
    public static float roundToBf16(float f) {
        return Half.bf16ToFloat(Half.floatToBf16(f));
    }
}
