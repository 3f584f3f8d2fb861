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
    void rawArgumentsKeepTheirBitsAndWidths() {
        DeviceBuffer a = allocation(1024);  // an unset CUdeviceptr: the allocation's address reads 0
        KernelArgs args = new KernelArgs().ptr(null).i32(-3).f32(1.5f).f64(2.25).ptr(a.slice(64, 8));
        assertThat(args.count()).isEqualTo(5);
        assertThat(args.wide(0)).isTrue();
        assertThat(args.raw(0)).isZero();
        assertThat(args.wide(1)).isFalse();
        assertThat((int) args.raw(1)).isEqualTo(-3);
        assertThat(args.wide(2)).isFalse();
        assertThat((int) args.raw(2)).isEqualTo(Float.floatToRawIntBits(1.5f));
        assertThat(args.wide(3)).isTrue();
        assertThat(args.raw(3)).isEqualTo(Double.doubleToRawLongBits(2.25));
        assertThat(args.wide(4)).isTrue();
        assertThat(args.raw(4)).isEqualTo(64);
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
        assertThat(args.count()).isEqualTo(100);
        assertThat(args.raw(99)).isEqualTo(99);
        assertThat(args.wide(99)).isFalse();
        assertThat(new KernelArgs().i32(1).ptr(null).f64(1).ptr(null).i32(0).wide(99)).isFalse();
    }
}
