package io.dmsserve.engine;

import java.nio.ByteBuffer;
import java.util.Objects;

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
        int p = rowStart(row);
        for (int j = 0; j < cols; j++, p += 4) {
            dst[dstOffset + j] = w.getFloat(p);
        }
    }

    @Override
    public float dotRow(int row, float[] x, int xOffset) {
        ByteBuffer w = chunk(row);
        Objects.checkFromIndexSize(xOffset, cols, x.length);
        int p = rowStart(row);
        int n = cols;
        float s0 = 0;
        float s1 = 0;
        float s2 = 0;
        float s3 = 0;
        int j = 0;
        // Two 8-byte loads per four elements measured faster than four getFloat calls.
        for (; j + 3 < n; j += 4, p += 16) {
            long a = w.getLong(p);
            long b = w.getLong(p + 8);
            s0 += Float.intBitsToFloat((int) a) * x[xOffset + j];
            s1 += Float.intBitsToFloat((int) (a >>> 32)) * x[xOffset + j + 1];
            s2 += Float.intBitsToFloat((int) b) * x[xOffset + j + 2];
            s3 += Float.intBitsToFloat((int) (b >>> 32)) * x[xOffset + j + 3];
        }
        for (; j < n; j++, p += 4) {
            s0 += w.getFloat(p) * x[xOffset + j];
        }
        return (s0 + s1) + (s2 + s3);
    }
}
