package io.dmsserve.engine;

import io.dmsserve.kvcache.PageTableDelta;
import java.util.List;

/**
 * One engine step, going down to a backend as data: the sequences of the batch, and the page-table changes
 * since the previous step. Sequences are distinct. The backend applies the delta before anything else.
 */
public record StepPlan(List<SequenceStep> sequences, PageTableDelta pageTables) {

    public StepPlan {
        sequences = List.copyOf(sequences);
        if (pageTables == null) {
            pageTables = PageTableDelta.EMPTY;
        }
    }

    public int tokens() {
        int n = 0;
        for (SequenceStep s : sequences) {
            n += s.length();
        }
        return n;
    }
}
