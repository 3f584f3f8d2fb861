package io.dmsserve.sampling;

import java.util.SplittableRandom;

/**
 * Chooses tokens for one sequence: greedy, or temperature with top-k and top-p, from its own random
 * stream, so a seeded sequence draws the same tokens whatever else runs beside it.
 */
public final class Sampler {

    private final SamplingParams params;
    private final SplittableRandom random;

    public Sampler(SamplingParams params) {
        this.params = params;
        this.random = new SplittableRandom(params.seed() != null ? params.seed() : System.nanoTime());
    }

    public int next(float[] logits) {
        if (params.greedy()) {
            return Greedy.argmax(logits);
        }
        boolean allTokens = params.topK() == 0 || params.topK() >= logits.length;
        int[] candidates = allTokens && params.topP() >= 1 ? null : ranked(logits, allTokens ? logits.length
                : params.topK());
        int count = candidates == null ? logits.length : candidates.length;
        // Softmax over the candidates at the temperature, in double for a stable cumulative sum.
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < count; i++) {
            max = Math.max(max, logits[id(candidates, i)]);
        }
        double[] weights = new double[count];
        double sum = 0;
        for (int i = 0; i < count; i++) {
            weights[i] = Math.exp((logits[id(candidates, i)] - max) / params.temperature());
            sum += weights[i];
        }
        int kept = count;
        if (params.topP() < 1) {
            // candidates are ranked here: keep the smallest prefix whose probability reaches top_p
            double cumulative = 0;
            for (int i = 0; i < count; i++) {
                cumulative += weights[i] / sum;
                if (cumulative >= params.topP()) {
                    kept = i + 1;
                    break;
                }
            }
        }
        double total = 0;
        for (int i = 0; i < kept; i++) {
            total += weights[i];
        }
        double draw = random.nextDouble() * total;
        for (int i = 0; i < kept; i++) {
            draw -= weights[i];
            if (draw < 0) {
                return id(candidates, i);
            }
        }
        return id(candidates, kept - 1);
    }

    private static int id(int[] candidates, int i) {
        return candidates == null ? i : candidates[i];
    }

    /** The k token ids with the highest logits, highest first, ties by lower id. */
    static int[] ranked(float[] logits, int k) {
        // Sort keys: logit bits made monotonic, inverted so ascending order means falling logit, id below.
        long[] keys = new long[logits.length];
        for (int i = 0; i < logits.length; i++) {
            int bits = Float.floatToIntBits(logits[i]);
            int monotonic = bits < 0 ? ~bits : bits | Integer.MIN_VALUE;
            int descending = ~monotonic ^ Integer.MIN_VALUE; // unsigned order to signed order
            keys[i] = (long) descending << 32 | i;
        }
        java.util.Arrays.sort(keys);
        int[] out = new int[k];
        for (int i = 0; i < k; i++) {
            out[i] = (int) keys[i];
        }
        return out;
    }
}
