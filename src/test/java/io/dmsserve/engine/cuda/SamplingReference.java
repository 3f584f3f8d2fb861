package io.dmsserve.engine.cuda;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The sampling semantics of native/README.md in plain Java with a full sort and sums in sequential order, as
 * the CPU sampler computes them: the reference of sampling.cu.
 */
final class SamplingReference {

    record Result(int token, float logprob, int[] topIds, float[] topLogprobs, float[] processed) {
    }

    private SamplingReference() {
    }

    /**
     * @param mask allowed-token bitset words of this row, or null
     * @param counts output counts of this row, or null (no penalties); prompt its prompt bitset words
     */
    static Result sample(float[] logits, SamplingKernel.Params p, int[] mask, int[] biasIds, float[] biasValues,
            int[] counts, int[] prompt) {
        int vocab = logits.length;
        float[] l = logits.clone();
        if (mask != null) {
            for (int id = 0; id < vocab; id++) {
                if ((mask[id >>> 5] >>> (id & 31) & 1) == 0) {
                    l[id] = Float.NEGATIVE_INFINITY;
                }
            }
        }
        for (int e = 0; e < p.biasCount(); e++) {
            int id = biasIds[p.biasStart() + e];
            if (id >= 0 && id < vocab) {
                l[id] = l[id] + biasValues[p.biasStart() + e];
            }
        }
        if (counts != null) {
            for (int id = 0; id < vocab; id++) {
                int c = counts[id];
                boolean present = c > 0 || (prompt != null && (prompt[id >>> 5] >>> (id & 31) & 1) != 0);
                double v = l[id];
                if (present) {
                    v = v > 0 ? v / p.repetitionPenalty() : v * p.repetitionPenalty();
                }
                v -= p.frequencyPenalty() * c + p.presencePenalty() * (c > 0 ? 1 : 0);
                l[id] = (float) v;
            }
        }
        int best = 0;
        for (int id = 1; id < vocab; id++) {
            if (l[id] > l[best]) {
                best = id;
            }
        }
        double temperature = p.temperature() > 0 ? p.temperature() : 1;
        double max = l[best];
        List<Integer> candidates = new ArrayList<>();
        for (int id = 0; id < vocab; id++) {
            if (l[id] > Float.NEGATIVE_INFINITY) {
                candidates.add(id);
            }
        }
        candidates.sort(Comparator.<Integer>comparingDouble(id -> -l[id]).thenComparingInt(id -> id));
        int token = best;
        if (p.temperature() > 0 && !candidates.isEmpty()) {
            List<Integer> kept = new ArrayList<>();
            List<Double> weights = new ArrayList<>();
            for (int id : candidates) {
                double w = Math.exp((l[id] - max) / temperature);
                if (p.minP() > 0 && w < p.minP()) {
                    break;
                }
                kept.add(id);
                weights.add(w);
            }
            int count = kept.size();
            if (p.topK() > 0 && count > p.topK()) {
                count = p.topK();
            }
            double sumK = 0;
            for (int i = 0; i < count; i++) {
                sumK += weights.get(i);
            }
            if (p.topP() < 1) {
                double cumulative = 0;
                for (int i = 0; i < count; i++) {
                    cumulative += weights.get(i) / sumK;
                    if (cumulative >= p.topP()) {
                        count = i + 1;
                        break;
                    }
                }
            }
            double total = 0;
            for (int i = 0; i < count; i++) {
                total += weights.get(i);
            }
            double draw = io.dmsserve.sampling.Draws.uniform(p.seed(), p.drawIndex()) * total;
            token = kept.get(count - 1);
            for (int i = 0; i < count; i++) {
                draw -= weights.get(i);
                if (draw < 0) {
                    token = kept.get(i);
                    break;
                }
            }
        }
        double sum = 0;
        for (int id = 0; id < vocab; id++) {
            if (l[id] > Float.NEGATIVE_INFINITY) {
                sum += Math.exp((l[id] - max) / temperature);
            }
        }
        double logSum = Math.log(sum);
        float logprob = (float) ((l[token] - max) / temperature - logSum);
        int[] topIds = new int[SamplingKernel.TOP];
        float[] topLogprobs = new float[SamplingKernel.TOP];
        for (int e = 0; e < SamplingKernel.TOP; e++) {
            if (e < Math.min(p.logprobs(), candidates.size())) {
                topIds[e] = candidates.get(e);
                topLogprobs[e] = (float) ((l[topIds[e]] - max) / temperature - logSum);
            } else {
                topIds[e] = -1;
                topLogprobs[e] = Float.NEGATIVE_INFINITY;
            }
        }
        return new Result(token, logprob, topIds, topLogprobs, l);
    }
}
