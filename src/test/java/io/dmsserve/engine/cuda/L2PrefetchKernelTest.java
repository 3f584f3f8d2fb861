package io.dmsserve.engine.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * prefetch.cu: a hint. Prefetching a weight-sized buffer (W_o of Qwen3-8B, 32 MiB, and a size that ends inside the
 * kernel's 64 KB chunks) completes on the stream and leaves every byte as it was; a buffer the bulk prefetch cannot take
 * (not a multiple of 16 bytes, or not 16-byte aligned) is refused before the launch.
 */
class L2PrefetchKernelTest extends GpuTest {

    @Test
    void prefetchingChangesNothingAndOddBuffersAreRefused() {
        SplittableRandom random = new SplittableRandom(59);
        L2PrefetchKernel kernel = new L2PrefetchKernel(context);
        for (int floats : new int[] {4096 * 4096 / 2, (3 << 14) + 12}) {
            float[] values = randomFloats(random, floats, 1f);
            DeviceBuffer buffer = upload(values);
            kernel.prefetch(buffer);
            assertThat(buffer.toFloats()).as(floats + " floats after the prefetch").isEqualTo(values);
        }
        DeviceBuffer buffer = upload(randomFloats(random, 64, 1f));
        assertThatThrownBy(() -> kernel.prefetch(buffer.slice(0, 20))).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> kernel.prefetch(buffer.slice(4, 32))).isInstanceOf(IllegalArgumentException.class);
    }
}
