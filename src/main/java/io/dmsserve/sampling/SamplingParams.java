package io.dmsserve.sampling;

/**
 * How the next token is chosen from a sequence's logits: the same semantics on every backend (see
 * {@link Sampler}, the reference). Order: allowed-token mask, logit bias, penalties, then temperature,
 * min-p, top-k and top-p, then one seeded draw.
 *
 * @param temperature 0 for greedy; otherwise logits are divided by it before the softmax
 * @param topP nucleus: keep the smallest set of most likely tokens whose probability reaches topP (1 = all)
 * @param topK keep the k most likely tokens (0 = all)
 * @param minP keep tokens whose probability is at least minP times the most likely one's (0 = all)
 * @param presencePenalty subtracted from the logit of every token generated at least once (OpenAI)
 * @param frequencyPenalty subtracted once per time a token was generated (OpenAI)
 * @param repetitionPenalty tokens of the prompt or the output: positive logits divided by it, negative
 *     ones multiplied (1 = off; vLLM and HF semantics)
 * @param logitBias added to the logits of the given tokens (OpenAI {@code logit_bias})
 * @param seed fixes the draws of this sequence; null lets the scheduler pick one
 * @param topLogprobs −1: no logprobs; 0: the chosen token's; 1..20: also that many most likely tokens
 */
public record SamplingParams(double temperature, double topP, int topK, double minP, double presencePenalty,
        double frequencyPenalty, double repetitionPenalty, LogitBias logitBias, Long seed, int topLogprobs) {

    public static final int MAX_TOP_LOGPROBS = 20;
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
        if (!(minP >= 0 && minP <= 1)) {
            throw new IllegalArgumentException("min_p must be in [0, 1], got " + minP);
        }
        if (!Double.isFinite(presencePenalty) || !Double.isFinite(frequencyPenalty)) {
            throw new IllegalArgumentException("presence and frequency penalties must be finite, got "
                    + presencePenalty + " and " + frequencyPenalty);
        }
        if (!(repetitionPenalty > 0) || Double.isInfinite(repetitionPenalty)) {
            throw new IllegalArgumentException("repetition_penalty must be a finite number > 0, got " + repetitionPenalty);
        }
        logitBias = logitBias == null ? LogitBias.NONE : logitBias;
        if (topLogprobs < -1 || topLogprobs > MAX_TOP_LOGPROBS) {
            throw new IllegalArgumentException("top_logprobs must be between 0 and " + MAX_TOP_LOGPROBS + ", got "
                    + topLogprobs);
        }
    }

    /** Temperature, top-p, top-k and seed; no min-p, penalties, bias or logprobs. */
    public SamplingParams(double temperature, double topP, int topK, Long seed) {
        this(temperature, topP, topK, 0, 0, 0, 1, LogitBias.NONE, seed, -1);
    }

    public boolean greedy() {
        return temperature == 0 || topK == 1;
    }

    /** Whether the sampler needs the sequence's token counts. */
    public boolean penalized() {
        return presencePenalty != 0 || frequencyPenalty != 0 || repetitionPenalty != 1;
    }

    public boolean wantsLogprobs() {
        return topLogprobs >= 0;
    }

    public SamplingParams withSeed(long newSeed) {
        return new SamplingParams(temperature, topP, topK, minP, presencePenalty, frequencyPenalty, repetitionPenalty,
                logitBias, newSeed, topLogprobs);
    }
}
