package io.dmsserve.engine;

import io.dmsserve.engine.simd.Kernels;
import java.nio.ByteBuffer;
import java.util.Objects;

/** fp16: single elements through {@link Half#f16ToFloat}, rows through the kernels. */
final class F16Tensor extends MappedTensor {

    F16Tensor(TensorEntry e, int rows, int cols, int rowsPerChunk, ByteBuffer[] chunks) {
        super(e, rows, cols, rowsPerChunk, chunks);
    }

    @Override
    public DType dtype() {
        return DType.F16;
    }

    @Override
    float element(ByteBuffer buffer, int position) {
        return Half.f16ToFloat(buffer.getShort(position));
    }

    @Override
    public void readRow(int row, float[] dst, int dstOffset) {
        ByteBuffer w = chunk(row);
        Objects.checkFromIndexSize(dstOffset, cols, dst.length);
        Kernels.get().f16ToF32(w, rowStart(row), dst, dstOffset, cols);
    }

    @Override
    public float dotRow(int row, float[] x, int xOffset) {
        ByteBuffer w = chunk(row);
        Objects.checkFromIndexSize(xOffset, cols, x.length);
        return Kernels.get().dotF16(w, rowStart(row), x, xOffset, cols);
    }

    @Override
    void dotRowRun(ByteBuffer buffer, int position, int count, float[] x, int xOffset, float[] out, int outOffset) {
        Kernels.get().dotRowsF16(buffer, position, rowBytes, count, x, xOffset, cols, out, outOffset);
    }
}
