package io.dmsserve.sampling;

import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;

/**
 * Additive biases for a few token ids (OpenAI's {@code logit_bias}), as two parallel arrays sorted by id,
 * the form a device kernel takes.
 */
public record LogitBias(int[] ids, float[] values) {

    public static final LogitBias NONE = new LogitBias(new int[0], new float[0]);

    public LogitBias {
        if (ids.length != values.length) {
            throw new IllegalArgumentException("logit bias has " + ids.length + " ids and " + values.length + " values");
        }
        ids = ids.clone();
        values = values.clone();
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] < 0 || (i > 0 && ids[i] <= ids[i - 1]) || !Float.isFinite(values[i])) {
                throw new IllegalArgumentException("logit bias needs distinct ascending token ids >= 0 and finite"
                        + " values, got " + Arrays.toString(ids) + " " + Arrays.toString(values));
            }
        }
    }

    public static LogitBias of(Map<Integer, Float> biases) {
        TreeMap<Integer, Float> sorted = new TreeMap<>(biases);
        int[] ids = sorted.keySet().stream().mapToInt(Integer::intValue).toArray();
        float[] values = new float[ids.length];
        int i = 0;
        for (float value : sorted.values()) {
            values[i++] = value;
        }
        return new LogitBias(ids, values);
    }

    public boolean isEmpty() {
        return ids.length == 0;
    }

    @Override
    public int[] ids() {
        return ids.clone();
    }

    @Override
    public float[] values() {
        return values.clone();
    }

    /** Adds the biases to a row of logits; ids beyond the vocabulary are an error. */
    void apply(float[] logits) {
        for (int i = 0; i < ids.length; i++) {
            if (ids[i] >= logits.length) {
                throw new IllegalArgumentException("logit bias for token " + ids[i] + ", beyond the vocabulary of "
                        + logits.length);
            }
            logits[ids[i]] += values[i];
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof LogitBias b && Arrays.equals(ids, b.ids) && Arrays.equals(values, b.values);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(ids) + Arrays.hashCode(values);
    }

    @Override
    public String toString() {
        return "LogitBias" + Arrays.toString(ids) + Arrays.toString(values);
    }
}
