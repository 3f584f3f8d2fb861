package io.dmsserve.kvcache;

import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

/** Collects page-table changes between two steps, the last write to an entry winning. Engine thread only. */
final class DeltaBuilder {

    private final Map<Long, Integer> pages = new LinkedHashMap<>();   // (head << 32 | pageIndex) -> page id or −1
    private final Map<Integer, Integer> lengths = new LinkedHashMap<>(); // head -> length
    private final Set<Integer> fresh = new LinkedHashSet<>();

    void page(int head, int pageIndex, int page) {
        pages.put((long) head << 32 | pageIndex, page);
    }

    void length(int head, int length) {
        lengths.put(head, length);
    }

    void fresh(int page) {
        fresh.add(page);
    }

    PageTableDelta take() {
        if (pages.isEmpty() && lengths.isEmpty() && fresh.isEmpty()) {
            return PageTableDelta.EMPTY;
        }
        int[] pageWrites = new int[pages.size() * 3];
        int i = 0;
        for (Map.Entry<Long, Integer> e : pages.entrySet()) {
            pageWrites[i++] = (int) (e.getKey() >>> 32);
            pageWrites[i++] = (int) (long) e.getKey();
            pageWrites[i++] = e.getValue();
        }
        int[] lengthWrites = new int[lengths.size() * 2];
        i = 0;
        for (Map.Entry<Integer, Integer> e : lengths.entrySet()) {
            lengthWrites[i++] = e.getKey();
            lengthWrites[i++] = e.getValue();
        }
        int[] freshPages = fresh.stream().mapToInt(Integer::intValue).toArray();
        pages.clear();
        lengths.clear();
        fresh.clear();
        return new PageTableDelta(pageWrites, lengthWrites, freshPages);
    }
}
