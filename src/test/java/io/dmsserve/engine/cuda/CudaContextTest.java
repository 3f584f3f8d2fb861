package io.dmsserve.engine.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The context: device properties, every kernel of the fatbin, memory round trips, errors that name things. */
class CudaContextTest extends GpuTest {

    static final List<String> KERNELS = List.of("dms_embedding_bf16", "dms_rmsnorm_f32", "dms_qknorm_rope_f32",
            "dms_qknorm_rope_f32_d128", "dms_qknorm_rope_kv_f32_d128",
            "dms_gemv_bf16_t1_r1", "dms_gemv_bf16_t1_r2", "dms_gemv_bf16_t1_r4", "dms_gemv_bf16_t2_r1",
            "dms_gemv_bf16_t2_r2", "dms_gemv_bf16_t2_r4", "dms_gemv_bf16_t4_r1", "dms_gemv_bf16_t4_r2",
            "dms_gemv_bf16_t4_r4", "dms_gemv_bf16_t8_r1", "dms_gemv_bf16_t8_r2", "dms_gemv_bf16_t8_r4",
            "dms_matmul_bf16_bm64", "dms_matmul_bf16_bm128", "dms_swiglu_f32", "dms_kv_write_bf16",
            "dms_attention_decode_g1", "dms_attention_decode_g2", "dms_attention_decode_g4", "dms_attention_decode_g8",
            "dms_attention_chunk_d32", "dms_attention_chunk_d64", "dms_attention_chunk_d128", "dms_attention_merge",
            "dms_sample", "dms_sampling_count", "dms_page_table_apply", "dms_page_copy_bf16");

    @Test
    void deviceIsUsable() {
        DeviceInfo info = context.info();
        System.out.println("[gpu] " + info);
        assertThat(info.computeMajor()).isGreaterThanOrEqualTo(8);
        assertThat(info.multiprocessors()).isPositive();
        assertThat(info.totalMemory()).isPositive();
        assertThat(info.sharedMemoryPerBlockOptin()).isGreaterThanOrEqualTo(MatMulKernel.sharedBytes(128, false));
    }

    @Test
    void everyKernelOfTheAbiIsInTheFatbin() {
        for (String name : KERNELS) {
            assertThat(context.kernel(name)).as(name).isNotNull();
        }
        assertThatThrownBy(() -> context.kernel("dms_no_such_kernel")).isInstanceOf(CudaException.class)
                .hasMessageContaining("dms_no_such_kernel").hasMessageContaining("CUDA_ERROR_NOT_FOUND");
    }

    @Test
    void memoryRoundTrips() {
        float[] values = {1.5f, -2f, 3.25f, Float.MAX_VALUE, -0f};
        DeviceBuffer buffer = upload(values);
        assertThat(buffer.toFloats()).containsExactly(values);
        DeviceBuffer view = buffer.slice(4, 8);
        assertThat(view.toFloats()).containsExactly(-2f, 3.25f);
        view.fill(0);
        assertThat(buffer.toFloats()).containsExactly(1.5f, 0f, 0f, Float.MAX_VALUE, -0f);
        try (PinnedBuffer pinned = context.allocatePinned(64)) {
            ByteBuffer b = pinned.buffer();
            for (int i = 0; i < 16; i++) {
                b.putInt(4 * i, i * 7);
            }
            DeviceBuffer target = track(context.allocate(64));
            target.copyFromAsync(pinned, 0, 0, 64);
            int[] back = new int[16];
            target.copyTo(back);
            for (int i = 0; i < 16; i++) {
                assertThat(back[i]).isEqualTo(i * 7);
            }
            b.putInt(0, -1);
            target.copyToAsync(4, pinned, 0, 4);
            context.synchronize();
            assertThat(b.getInt(0)).isEqualTo(7);
        }
        assertThatThrownBy(() -> buffer.slice(16, 8)).isInstanceOf(IndexOutOfBoundsException.class);
    }

    @Test
    void stepUploadPacksPartsAligned() {
        try (StepUpload upload = new StepUpload(context, 4096)) {
            StepUpload.Part a = upload.put(new int[] {1, 2, 3});
            StepUpload.Part b = upload.put(new float[] {0.5f});
            StepUpload.Part c = upload.put(new byte[] {9, 8});
            upload.upload();
            assertThat(b.offset() % 16).isZero();
            assertThat(c.offset() % 16).isZero();
            assertThat(upload.view(a).toInts()).containsExactly(1, 2, 3);
            assertThat(upload.view(b).toFloats()).containsExactly(0.5f);
            assertThat(upload.view(c).toBytes()).containsExactly(9, 8);
        }
    }

    @Test
    void badArgumentsAreRefusedBeforeLaunchWithTheShapeInTheMessage() {
        RmsNormKernel norm = new RmsNormKernel(context);
        DeviceBuffer x = poisoned(4 * 10);
        DeviceBuffer w = poisoned(2 * 10);
        DeviceBuffer out = poisoned(4 * 10);
        assertThatThrownBy(() -> norm.apply(x, null, w, null, 2, 2, 10, 1e-6f, out, null))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("x (rows, hidden) fp32");
    }
}
