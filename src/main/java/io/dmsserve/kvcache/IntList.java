package io.dmsserve.kvcache;

import java.util.Arrays;

/**
 * A growing list of ints that several bookkeeping threads may add to (LayerParallel): the pages a commit releases, the
 * delta's page copies and slot moves.
 */
final class IntList {

    private int[] values = new int[64];
    private int size;

    synchronized void add(int value) {
        if (size == values.length) {
            values = Arrays.copyOf(values, 2 * size);
        }
        values[size++] = value;
    }

    synchronized int size() {
        return size;
    }

    /** The values added since the last take, in order; the list is empty afterwards. */
    synchronized int[] take() {
        int[] out = Arrays.copyOf(values, size);
        size = 0;
        return out;
    }
}
