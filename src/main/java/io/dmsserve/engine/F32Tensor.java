package io.dmsserve.engine;

import io.dmsserve.engine.simd.Kernels;
import java.nio.ByteBuffer;
import java.util.Objects;

/** fp32, read little-endian from the mapping. */
final class F32Tensor extends MappedTensor {

    F32Tensor(TensorEntry e, int rows, int cols, int rowsPerChunk, ByteBuffer[] chunks) {
        super(e, rows, cols, rowsPerChunk, chunks);
    }

    @Override
    public DType dtype() {
        return DType.F32;
    }

    @Override
    float element(ByteBuffer buffer, int position) {
        return buffer.getFloat(position);
    }

    @Override
    public void readRow(int row, float[] dst, int dstOffset) {
        ByteBuffer w = chunk(row);
        Objects.checkFromIndexSize(dstOffset, cols, dst.length);
        Kernels.get().f32ToF32(w, rowStart(row), dst, dstOffset, cols);
    }

    @Override
    public float dotRow(int row, float[] x, int xOffset) {
        ByteBuffer w = chunk(row);
        Objects.checkFromIndexSize(xOffset, cols, x.length);
        return Kernels.get().dotF32(w, rowStart(row), x, xOffset, cols);
    }

    @Override
    void dotRowRun(ByteBuffer buffer, int position, int count, float[] x, int xOffset, float[] out, int outOffset) {
        Kernels.get().dotRowsF32(buffer, position, rowBytes, count, x, xOffset, cols, out, outOffset);
    }
}
