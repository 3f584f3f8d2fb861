package io.dmsserve.engine;

import io.dmsserve.engine.simd.Kernels;
import java.nio.ByteBuffer;
import java.util.Objects;

/** bf16 is the top half of an fp32, so decoding is a shift. */
final class Bf16Tensor extends MappedTensor {

    Bf16Tensor(TensorEntry e, int rows, int cols, int rowsPerChunk, ByteBuffer[] chunks) {
        super(e, rows, cols, rowsPerChunk, chunks);
    }

    @Override
    public DType dtype() {
        return DType.BF16;
    }

    @Override
    float element(ByteBuffer buffer, int position) {
        return Float.intBitsToFloat(buffer.getShort(position) << 16);
    }

    @Override
    public void readRow(int row, float[] dst, int dstOffset) {
        ByteBuffer w = chunk(row);
        Objects.checkFromIndexSize(dstOffset, cols, dst.length);
        Kernels.get().bf16ToF32(w, rowStart(row), dst, dstOffset, cols);
    }

    /** The stored bytes, copied a mapping at a time. */
    @Override
    public void copyRowsAsBf16(int firstRow, int count, ByteBuffer dst) {
        Objects.checkFromIndexSize(firstRow, count, rows);
        int row = firstRow;
        while (row < firstRow + count) {
            ByteBuffer w = chunk(row);
            int inChunk = rowsInChunkFrom(row);
            int run = Math.min(firstRow + count - row, inChunk);
            dst.put(w.slice(rowStart(row), run * rowBytes));
            row += run;
        }
    }

    @Override
    public float dotRow(int row, float[] x, int xOffset) {
        ByteBuffer w = chunk(row);
        Objects.checkFromIndexSize(xOffset, cols, x.length);
        return Kernels.get().dotBf16(w, rowStart(row), x, xOffset, cols);
    }

    @Override
    void dotRowRun(ByteBuffer buffer, int position, int count, float[] x, int xOffset, float[] out, int outOffset) {
        Kernels.get().dotRowsBf16(buffer, position, rowBytes, count, x, xOffset, cols, out, outOffset);
    }
}
