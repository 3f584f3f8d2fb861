package io.dmsserve.sampling;

/**
 * How the next token is chosen from logits.
 *
 * @param temperature 0 for greedy; otherwise logits are divided by it before the softmax
 * @param topP nucleus: keep the smallest set of most likely tokens whose probability reaches topP (1 = all)
 * @param topK keep the k most likely tokens (0 = all)
 * @param seed fixes the random stream of this sequence; null draws a fresh seed
 */
public record SamplingParams(double temperature, double topP, int topK, Long seed) {

    public static final SamplingParams GREEDY = new SamplingParams(0, 1, 0, null);

    public SamplingParams {
        if (!(temperature >= 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException("temperature must be a finite number >= 0, got " + temperature);
        }
        if (!(topP > 0 && topP <= 1)) {
            throw new IllegalArgumentException("top_p must be in (0, 1], got " + topP);
        }
        if (topK < 0) {
            throw new IllegalArgumentException("top_k must be >= 0, got " + topK);
        }
    }

    public boolean greedy() {
        return temperature == 0 || topK == 1;
    }
}
