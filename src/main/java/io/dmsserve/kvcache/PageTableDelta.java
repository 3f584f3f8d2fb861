package io.dmsserve.kvcache;

/**
 * How the page tables changed since the last step, for a backend that keeps its own copy of them (device
 * memory): small, coalesced writes instead of whole tables. A table belongs to one (row, layer, kvHead);
 * its index is {@code head = (row · layers + layer) · kvHeads + kvHead}. Every entry appears at most once,
 * so the writes may be applied in any order (in parallel on a device).
 *
 * @param pageWrites (head, pageIndex, pageId) triples; pageId −1 marks a hole (the page went back to the pool)
 * @param lengthWrites (head, length) pairs: entries [0, length) of that table are to be scanned
 * @param freshPages pages newly handed to a table: their slot metadata must read "empty" before this step
 *     writes any slot (they may hold another sequence's positions)
 */
public record PageTableDelta(int[] pageWrites, int[] lengthWrites, int[] freshPages) {

    public static final PageTableDelta EMPTY = new PageTableDelta(new int[0], new int[0], new int[0]);

    public boolean isEmpty() {
        return pageWrites.length == 0 && lengthWrites.length == 0 && freshPages.length == 0;
    }
}
