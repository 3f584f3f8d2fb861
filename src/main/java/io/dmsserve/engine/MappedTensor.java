package io.dmsserve.engine;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.util.Objects;

/**
 * A tensor backed by read-only mappings of its bytes in the file. A MappedByteBuffer holds at most
 * 2 GiB, so a larger tensor (an embedding of 151936 x 4096 x 4 bytes, say) is mapped as several buffers
 * split on row boundaries: a row never straddles two buffers, and the hot loops stay on one buffer with
 * int positions. Subclasses, one per dtype, hold the conversion and the loops.
 */
abstract class MappedTensor implements Tensor {

    /** The largest mapping Java allows. */
    static final long MAX_CHUNK_BYTES = Integer.MAX_VALUE;

    private final String name;
    private final long[] shape;
    private final long numel;
    final int rows;
    final int cols;
    /** Bytes per row: cols * dtype size. */
    final int rowBytes;
    /** Rows per buffer; chunk c holds rows [c * rowsPerChunk, (c + 1) * rowsPerChunk). */
    private final int rowsPerChunk;
    /** (chunks) little-endian buffers of rowsPerChunk * rowBytes bytes, the last one possibly shorter. */
    private final ByteBuffer[] chunks;

    MappedTensor(TensorEntry e, int rows, int cols, int rowsPerChunk, ByteBuffer[] chunks) {
        this.name = e.name();
        this.shape = e.shape().clone();
        this.numel = e.byteLength() / e.dtype().byteSize();
        this.rows = rows;
        this.cols = cols;
        this.rowBytes = cols * e.dtype().byteSize();
        this.rowsPerChunk = rowsPerChunk;
        this.chunks = chunks;
    }

    /** Maps the tensor's bytes; the mapping stays valid after {@code channel} is closed. */
    static MappedTensor map(FileChannel channel, TensorEntry e, long maxChunkBytes) throws IOException {
        long[] shape = e.shape();
        long rows = shape.length < 2 ? 1 : shape[0];
        long cols = 1;
        for (int i = shape.length < 2 ? 0 : 1; i < shape.length; i++) {
            cols *= shape[i]; // cannot overflow: the header check bounded the byte size
        }
        long rowBytes = cols * e.dtype().byteSize();
        if (rows > Integer.MAX_VALUE || cols > Integer.MAX_VALUE) {
            throw new CheckpointException(e.file(), "tensor '" + e.name() + "' has shape " + TensorEntry.format(shape)
                    + ", more than 2^31 - 1 rows or columns in its 2-D view");
        }
        if (rowBytes > maxChunkBytes) {
            throw new CheckpointException(e.file(), "tensor '" + e.name() + "' has shape " + TensorEntry.format(shape)
                    + ", whose rows of " + rowBytes + " bytes exceed the mapping limit of " + maxChunkBytes + " bytes");
        }
        int rowsPerChunk;
        ByteBuffer[] chunks;
        if (e.byteLength() == 0) {
            rowsPerChunk = (int) Math.max(rows, 1);
            chunks = new ByteBuffer[] {ByteBuffer.allocate(0).order(ByteOrder.LITTLE_ENDIAN)};
        } else {
            rowsPerChunk = (int) Math.min(rows, maxChunkBytes / rowBytes);
            chunks = new ByteBuffer[(int) ((rows + rowsPerChunk - 1) / rowsPerChunk)];
            for (int c = 0; c < chunks.length; c++) {
                long firstRow = (long) c * rowsPerChunk;
                long chunkRows = Math.min(rowsPerChunk, rows - firstRow);
                chunks[c] = channel.map(FileChannel.MapMode.READ_ONLY, e.offset() + firstRow * rowBytes, chunkRows * rowBytes)
                        .order(ByteOrder.LITTLE_ENDIAN);
            }
        }
        return switch (e.dtype()) {
            case BF16 -> new Bf16Tensor(e, (int) rows, (int) cols, rowsPerChunk, chunks);
            case F16 -> new F16Tensor(e, (int) rows, (int) cols, rowsPerChunk, chunks);
            case F32 -> new F32Tensor(e, (int) rows, (int) cols, rowsPerChunk, chunks);
        };
    }

    /** Element at byte {@code position} of {@code buffer}, as fp32. */
    abstract float element(ByteBuffer buffer, int position);

    /**
     * {@code out[outOffset + i]} = row i of the {@code count} rows starting at byte {@code position} of
     * {@code buffer} (one mapping), dotted with {@code x[xOffset ...]}; indices already checked.
     */
    abstract void dotRowRun(ByteBuffer buffer, int position, int count, float[] x, int xOffset, float[] out,
            int outOffset);

    @Override
    public final void dotRows(int firstRow, int count, float[] x, int xOffset, float[] out, int outOffset) {
        Objects.checkFromIndexSize(firstRow, count, rows);
        Objects.checkFromIndexSize(xOffset, cols, x.length);
        Objects.checkFromIndexSize(outOffset, count, out.length);
        // A block of rows may straddle mappings: one run per mapping.
        int row = firstRow;
        int end = firstRow + count;
        while (row < end) {
            int chunk = row / rowsPerChunk;
            int run = (int) Math.min(end, (chunk + 1L) * rowsPerChunk) - row;
            dotRowRun(chunks[chunk], (row - chunk * rowsPerChunk) * rowBytes, run, x, xOffset, out,
                    outOffset + row - firstRow);
            row += run;
        }
    }

    @Override
    public final String name() {
        return name;
    }

    @Override
    public final long[] shape() {
        return shape.clone();
    }

    @Override
    public final long numel() {
        return numel;
    }

    @Override
    public final int rows() {
        return rows;
    }

    @Override
    public final int cols() {
        return cols;
    }

    @Override
    public final float get(long index) {
        Objects.checkIndex(index, numel);
        int row = (int) (index / cols);
        int col = (int) (index % cols);
        return element(chunk(row), rowStart(row) + col * dtype().byteSize());
    }

    /** The buffer holding {@code row}; checks the row index. */
    final ByteBuffer chunk(int row) {
        Objects.checkIndex(row, rows);
        return chunks[row / rowsPerChunk];
    }

    /** Rows from {@code row} to the end of its buffer. */
    final int rowsInChunkFrom(int row) {
        return (int) Math.min(rows, (row / rowsPerChunk + 1L) * rowsPerChunk) - row;
    }

    /** Byte position of {@code row} in its buffer. */
    final int rowStart(int row) {
        return (row % rowsPerChunk) * rowBytes;
    }

    @Override
    public String toString() {
        return name + " " + dtype() + TensorEntry.format(shape);
    }
}
