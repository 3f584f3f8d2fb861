package io.dmsserve.engine.cuda;

import static org.junit.jupiter.api.Assertions.fail;

import io.dmsserve.engine.HalfAccess;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;

/**
 * Base of the kernels' tests: one {@link CudaContext} per test class, with every launch checked (a faulting
 * kernel fails the test that launched it, by name). Where CUDA cannot be used the tests fail with
 * {@link CudaAvailability#check()}'s reasons (never skip: the gpu tag already keeps them out of builds without a
 * GPU).
 *
 * <p>Inputs are random and never zero; outputs are poisoned (every byte 0xff: NaN as fp32 and bf16, -1 as
 * int32) before each launch, so an element a kernel should write and does not shows.
 */
@Tag("gpu")
abstract class GpuTest {

    static CudaContext context;
    private final List<AutoCloseable> opened = new ArrayList<>();

    @BeforeAll
    static void openContext() {
        requireCuda();
        context = CudaContext.open(0, true);
    }

    /**
     * Fails with {@link CudaAvailability#check()}'s reasons where CUDA cannot be used: a gpu-tagged test runs only where
     * a GPU is meant to be (-Pgpu, the bundle), so no GPU is a failure, never a skip.
     */
    static void requireCuda() {
        List<String> reasons = CudaAvailability.check();
        if (!reasons.isEmpty()) {
            fail("CUDA is not available: " + String.join("; ", reasons));
        }
    }

    @AfterAll
    static void closeContext() {
        if (context != null) {
            context.close();
            context = null;
        }
    }

    @AfterEach
    void closeBuffers() throws Exception {
        for (AutoCloseable c : opened) {
            c.close();
        }
        opened.clear();
    }

    <T extends AutoCloseable> T track(T resource) {
        opened.add(resource);
        return resource;
    }

    DeviceBuffer upload(float[] values) {
        return track(context.upload(values));
    }

    DeviceBuffer upload(int[] values) {
        return track(context.upload(values));
    }

    DeviceBuffer upload(short[] values) {
        return track(context.upload(values));
    }

    DeviceBuffer upload(byte[] values) {
        return track(context.upload(values));
    }

    /** Device memory with every byte 0xff. */
    DeviceBuffer poisoned(long bytes) {
        DeviceBuffer buffer = track(context.allocate(bytes));
        buffer.fill(0xff);
        return buffer;
    }

    // ---------------------------------------------------------------------------------------------------

    /** Uniform in ±[scale/20, scale]: never zero, never tiny. */
    static float nonZero(SplittableRandom random, float scale) {
        float magnitude = (float) (scale * (0.05 + 0.95 * random.nextDouble()));
        return random.nextBoolean() ? magnitude : -magnitude;
    }

    static float[] randomFloats(SplittableRandom random, int n, float scale) {
        float[] values = new float[n];
        for (int i = 0; i < n; i++) {
            values[i] = nonZero(random, scale);
        }
        return values;
    }

    /** bf16 bits of non-zero random values. */
    static short[] randomBf16(SplittableRandom random, int n, float scale) {
        short[] values = new short[n];
        for (int i = 0; i < n; i++) {
            values[i] = HalfAccess.floatToBf16(nonZero(random, scale));
        }
        return values;
    }

    static float bf16(short bits) {
        return HalfAccess.bf16ToFloat(bits);
    }

    static float[] widen(short[] bf16) {
        float[] out = new float[bf16.length];
        for (int i = 0; i < bf16.length; i++) {
            out[i] = bf16(bf16[i]);
        }
        return out;
    }

    /**
     * Fails on the first element with |got - want| > atol + rtol |want| (NaN never passes; infinities must match),
     * naming it.
     */
    static void assertClose(String what, float[] got, float[] want, double atol, double rtol) {
        if (got.length < want.length) {
            fail(what + ": " + got.length + " values, expected " + want.length);
        }
        int bad = 0;
        StringBuilder first = new StringBuilder();
        double worst = 0;
        for (int i = 0; i < want.length; i++) {
            double err = Math.abs((double) got[i] - want[i]);
            boolean ok = Float.isInfinite(want[i]) ? got[i] == want[i] : !Float.isNaN(got[i]) && err <= atol + rtol * Math.abs(want[i]);
            if (!ok) {
                if (bad < 5) {
                    first.append(String.format("%n  [%d] got %.9g, expected %.9g", i, got[i], want[i]));
                }
                bad++;
            }
            if (Float.isFinite(want[i]) && Float.isFinite(got[i])) {
                worst = Math.max(worst, err);
            }
        }
        if (bad > 0) {
            fail(String.format("%s: %d of %d values outside %.3g + %.3g |expected| (largest error %.3g)%s", what, bad,
                    want.length, atol, rtol, worst, first));
        }
    }
}
