package io.dmsserve.engine;

/**
 * The shape of a backend's KV store, decided by the KV bookkeeping: {@code pageCount} pages of
 * {@code pageSize} tokens, and page tables for {@code rows} sequences of {@code maxPagesPerHead} entries
 * per (layer, kv-head).
 */
public record KvGeometry(int pageSize, int pageCount, int rows, int maxPagesPerHead) {

    public KvGeometry {
        if (pageSize < 1 || pageCount < 1 || rows < 1 || maxPagesPerHead < 1) {
            throw new IllegalArgumentException("KV geometry must be positive: page size " + pageSize + ", pages "
                    + pageCount + ", rows " + rows + ", pages per head " + maxPagesPerHead);
        }
    }

    public long slots() {
        return (long) pageCount * pageSize;
    }
}
