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

    /** {@code values[0..count)}, in order, under one lock. */
    synchronized void addAll(int[] values, int count) {
        if (size + count > this.values.length) {
            this.values = Arrays.copyOf(this.values, Math.max(2 * this.values.length, size + count));
        }
        System.arraycopy(values, 0, this.values, size, count);
        size += count;
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
