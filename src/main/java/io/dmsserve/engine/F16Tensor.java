package io.dmsserve.engine;

import java.nio.ByteBuffer;
import java.util.Objects;

/** fp16 decoded through {@link Half#F16_TO_F32}. */
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
        return Half.F16_TO_F32[buffer.getShort(position) & 0xFFFF];
    }

    @Override
    public void readRow(int row, float[] dst, int dstOffset) {
        ByteBuffer w = chunk(row);
        Objects.checkFromIndexSize(dstOffset, cols, dst.length);
        float[] table = Half.F16_TO_F32;
        int p = rowStart(row);
        for (int j = 0; j < cols; j++, p += 2) {
            dst[dstOffset + j] = table[w.getShort(p) & 0xFFFF];
        }
    }

    @Override
    public float dotRow(int row, float[] x, int xOffset) {
        ByteBuffer w = chunk(row);
        Objects.checkFromIndexSize(xOffset, cols, x.length);
        float[] table = Half.F16_TO_F32;
        int p = rowStart(row);
        int n = cols;
        float s0 = 0;
        float s1 = 0;
        float s2 = 0;
        float s3 = 0;
        int j = 0;
        for (; j + 3 < n; j += 4, p += 8) {
            long q = w.getLong(p); // four fp16 values, element j in the low 16 bits
            s0 += table[(int) q & 0xFFFF] * x[xOffset + j];
            s1 += table[(int) (q >>> 16) & 0xFFFF] * x[xOffset + j + 1];
            s2 += table[(int) (q >>> 32) & 0xFFFF] * x[xOffset + j + 2];
            s3 += table[(int) (q >>> 48)] * x[xOffset + j + 3];
        }
        for (; j < n; j++, p += 2) {
            s0 += table[w.getShort(p) & 0xFFFF] * x[xOffset + j];
        }
        return (s0 + s1) + (s2 + s3);
    }
}
