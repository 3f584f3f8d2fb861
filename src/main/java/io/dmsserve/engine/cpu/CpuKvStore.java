package io.dmsserve.engine.cpu;

/**
 * Keys and values of the page pool in Java memory: physical slot s of page p = s / pageSize holds one
 * head's key and value vectors. Allocated whole at start, so the pool's size is its real footprint.
 */
final class CpuKvStore {

    private final int pageSize;
    private final int headDim;
    private final float[][] keys;   // (pages, pageSize * headDim)
    private final float[][] values; // (pages, pageSize * headDim)

    CpuKvStore(int pageCount, int pageSize, int headDim) {
        this.pageSize = pageSize;
        this.headDim = headDim;
        this.keys = new float[pageCount][pageSize * headDim];
        this.values = new float[pageCount][pageSize * headDim];
    }

    static long bytesPerPage(int pageSize, int headDim) {
        return 2L * pageSize * headDim * Float.BYTES;
    }

    float[] keyPage(int physicalSlot) {
        return keys[physicalSlot / pageSize];
    }

    float[] valuePage(int physicalSlot) {
        return values[physicalSlot / pageSize];
    }

    int offset(int physicalSlot) {
        return (physicalSlot % pageSize) * headDim;
    }

    void write(int physicalSlot, float[] key, int keyOffset, float[] value, int valueOffset) {
        int page = physicalSlot / pageSize;
        int offset = offset(physicalSlot);
        System.arraycopy(key, keyOffset, keys[page], offset, headDim);
        System.arraycopy(value, valueOffset, values[page], offset, headDim);
    }
}
