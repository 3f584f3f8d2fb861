package io.dmsserve.engine.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import jcuda.driver.CUdeviceptr;
import org.junit.jupiter.api.Test;

/**
 * A launch's signature names every argument: what decides whether a captured step graph may run in place of a
 * step's launches ({@link StepGraphs}). Runs without a GPU: buffers here are never dereferenced.
 */
class KernelArgsTest {

    private static DeviceBuffer allocation(long bytes) {
        return new DeviceBuffer(null, new CUdeviceptr(), bytes);
    }

    @Test
    void theSameBuffersAndScalarsSignTheSame() {
        DeviceBuffer a = allocation(1024);
        long[] first = new KernelArgs().ptr(a.slice(64, 128)).i32(7).f32(0.5f).ptr(null).signature();
        long[] again = new KernelArgs().ptr(a.slice(64, 256)).i32(7).f32(0.5f).ptr(null).signature();
        assertThat(again).containsExactly(first);
    }

    @Test
    void anotherAllocationOffsetOrScalarSignsDifferently() {
        DeviceBuffer a = allocation(1024);
        DeviceBuffer b = allocation(1024);
        long[] base = new KernelArgs().ptr(a).i32(7).f32(0.5f).signature();
        assertThat(new KernelArgs().ptr(b).i32(7).f32(0.5f).signature()).isNotEqualTo(base);
        assertThat(new KernelArgs().ptr(a.slice(16, 16)).i32(7).f32(0.5f).signature()).isNotEqualTo(base);
        assertThat(new KernelArgs().ptr(a).i32(8).f32(0.5f).signature()).isNotEqualTo(base);
        assertThat(new KernelArgs().ptr(a).i32(7).f32(-0.5f).signature()).isNotEqualTo(base);
        assertThat(new KernelArgs().ptr(null).i32(7).f32(0.5f).signature()).isNotEqualTo(base);
        assertThat(new KernelArgs().f32(0f).signature()).isNotEqualTo(new KernelArgs().f32(-0f).signature());
    }

    @Test
    void aFreedAllocationsNumberIsNeverReused() {
        DeviceBuffer first = allocation(64);
        DeviceBuffer second = allocation(64);
        assertThat(second.allocation()).isGreaterThan(first.allocation());
        assertThat(first.slice(0, 8).allocation()).isEqualTo(first.allocation());
    }

    @Test
    void longArgumentListsKeepEveryValue() {
        KernelArgs args = new KernelArgs();
        for (int i = 0; i < 100; i++) {
            args.i32(i);
        }
        long[] signature = args.signature();
        assertThat(signature).hasSize(100);
        assertThat(signature[99]).isEqualTo(99);
    }
}
