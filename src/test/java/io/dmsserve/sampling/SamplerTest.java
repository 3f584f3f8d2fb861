package io.dmsserve.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class SamplerTest {

    private static final float[] LOGITS = {1.0f, 3.0f, -2.0f, 3.0f, 0.5f, -0.0f, 0.0f, Float.NEGATIVE_INFINITY};

    private static int draw(float[] logits, SamplingParams params, long index) {
        return Sampler.sample(logits, params, null, null, params.seed(), index).token();
    }

    @Test
    void rankingIsByFallingLogitThenId() {
        // 0.0 ranks above -0.0, as Float.compare has it
        assertArrayEquals(new int[] {1, 3, 0, 4, 6, 5, 2, 7}, Sampler.ranked(LOGITS, 8));
        float[] random = new float[1000];
        Random r = new Random(3);
        for (int i = 0; i < random.length; i++) {
            random[i] = (float) r.nextGaussian() * 10;
        }
        int[] ranked = Sampler.ranked(random, 1000);
        for (int i = 1; i < ranked.length; i++) {
            assertTrue(random[ranked[i - 1]] >= random[ranked[i]]);
        }
    }

    @Test
    void greedyTakesTheLowestIdOfTheBest() {
        assertEquals(1, draw(LOGITS, SamplingParams.GREEDY.withSeed(0), 0));
        assertEquals(1, draw(LOGITS, new SamplingParams(0.8, 1, 1, 5L), 0));
    }

    @Test
    void drawsAreAPureFunctionOfSeedAndIndex() {
        SamplingParams params = new SamplingParams(1.0, 0.9, 0, 1234L);
        int[] first = new int[200];
        for (int i = 0; i < 200; i++) {
            first[i] = draw(LOGITS, params, i);
        }
        for (int i = 199; i >= 0; i--) {
            assertEquals(first[i], draw(LOGITS, params, i), "draw " + i + " again, in another order");
        }
        assertEquals(Draws.uniform(1234L, 17), Draws.uniform(1234L, 17));
        assertTrue(Draws.uniform(1234L, 17) != Draws.uniform(1235L, 17));
    }

    @Test
    void uniformDrawsAreUniform() {
        int[] buckets = new int[10];
        for (int i = 0; i < 100_000; i++) {
            double u = Draws.uniform(42, i);
            assertTrue(u >= 0 && u < 1);
            buckets[(int) (u * 10)]++;
        }
        for (int count : buckets) {
            assertEquals(10_000, count, 400);
        }
    }

    @Test
    void topKAndTopPRestrictTheChoice() {
        SamplingParams topK = new SamplingParams(5.0, 1, 2, 1L);
        SamplingParams topP = new SamplingParams(1.0, 0.5, 0, 2L);
        for (int i = 0; i < 500; i++) {
            int k = draw(LOGITS, topK, i);
            assertTrue(k == 1 || k == 3, "top-2 drew " + k);
            // tokens 1 and 3 hold ~0.8 of the mass: the nucleus of 0.5 is {1, 3}
            int p = draw(LOGITS, topP, i);
            assertTrue(p == 1 || p == 3, "top-p drew " + p);
        }
    }

    @Test
    void minPKeepsTokensNearTheBest() {
        // probabilities relative to the best: token 0 e^-2 = 0.135, token 4 e^-2.5 = 0.082
        SamplingParams minP = new SamplingParams(1.0, 1, 0, 0.1, 0, 0, 1, null, 5L, -1);
        boolean sawZero = false;
        for (int i = 0; i < 2000; i++) {
            int t = draw(LOGITS, minP, i);
            assertTrue(t == 0 || t == 1 || t == 3, "min-p 0.1 drew " + t);
            sawZero |= t == 0;
        }
        assertTrue(sawZero, "token 0 (0.135 of the best) stays possible");
    }

    @Test
    void temperatureFollowsTheSoftmax() {
        float[] logits = {0f, (float) Math.log(3)}; // probabilities 1/4, 3/4 at temperature 1
        SamplingParams params = new SamplingParams(1.0, 1, 0, 9L);
        int ones = 0;
        int draws = 20_000;
        for (int i = 0; i < draws; i++) {
            ones += draw(logits, params, i);
        }
        assertEquals(0.75, (double) ones / draws, 0.02);
    }

    @Test
    void maskBiasAndPenaltiesChangeTheLogitsAsSpecified() {
        float[] logits = {2f, -1f, 0.5f, 1.5f};
        TokenCounts counts = new TokenCounts();
        counts.add(0, 0, 2);  // prompt: tokens 0 and 1
        counts.add(1, 1, 2);
        counts.add(3, 2, 2);  // output: token 3 twice, token 2 once
        counts.add(3, 3, 2);
        counts.add(2, 4, 2);
        SamplingParams params = new SamplingParams(0, 1, 0, 0, 0.25, 0.5, 2.0, LogitBias.of(Map.of(1, 3f)), 1L, -1);
        float[] x = Sampler.process(logits, params, counts, null);
        // token 0: prompt, repetition 2/2 = 1; token 1: +3 bias = 2, prompt: 2/2 = 1;
        // token 2: output once: 0.5/2 - 0.5 - 0.25 = -0.5; token 3: twice: 1.5/2 - 1.0 - 0.25 = -0.5
        assertArrayEquals(new float[] {1f, 1f, -0.5f, -0.5f}, x, 1e-6f);
        assertEquals(0, Sampler.sample(logits, params, counts, null, 1, 0).token(), "tie: the lower id");
        long[] onlyTwoAndThree = {0b1100};
        assertEquals(2, Sampler.sample(logits, params, counts, onlyTwoAndThree, 1, 0).token());
        assertArrayEquals(new float[] {2f, -1f, 0.5f, 1.5f}, logits, "the caller's logits are untouched");
        assertThrows(IllegalStateException.class, () -> Sampler.sample(logits, params, counts, new long[] {0}, 1, 0));
    }

    @Test
    void logprobsComeFromTheSampledDistribution() {
        float[] logits = {0f, (float) Math.log(3), Float.NEGATIVE_INFINITY};
        SamplingParams params = new SamplingParams(1.0, 1, 0, 0, 0, 0, 1, null, 3L, 2);
        Sample sample = Sampler.sample(logits, params, null, null, 3, 0);
        Logprobs lp = sample.logprobs();
        assertEquals(Math.log(sample.token() == 1 ? 0.75 : 0.25), lp.logprob(), 1e-6);
        assertArrayEquals(new int[] {1, 0}, lp.topIds());
        assertArrayEquals(new float[] {(float) Math.log(0.75), (float) Math.log(0.25)}, lp.topLogprobs(), 1e-6f);
        // at temperature 2 the distribution flattens: p(1) = sqrt(3) / (1 + sqrt(3))
        SamplingParams hot = new SamplingParams(2.0, 1, 0, 0, 0, 0, 1, null, 3L, 0);
        Sample warm = Sampler.sample(logits, hot, null, null, 3, 0);
        double p1 = Math.sqrt(3) / (1 + Math.sqrt(3));
        assertEquals(Math.log(warm.token() == 1 ? p1 : 1 - p1), warm.logprobs().logprob(), 1e-6);
        assertEquals(0, warm.logprobs().topIds().length);
    }

    @Test
    void badParametersAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> new SamplingParams(-1, 1, 0, null));
        assertThrows(IllegalArgumentException.class, () -> new SamplingParams(1, 0, 0, null));
        assertThrows(IllegalArgumentException.class, () -> new SamplingParams(1, 1.5, 0, null));
        assertThrows(IllegalArgumentException.class, () -> new SamplingParams(1, 1, -3, null));
        assertThrows(IllegalArgumentException.class, () -> new SamplingParams(1, 1, 0, 1.5, 0, 0, 1, null, null, -1));
        assertThrows(IllegalArgumentException.class, () -> new SamplingParams(1, 1, 0, 0, 0, 0, 0, null, null, -1));
        assertThrows(IllegalArgumentException.class, () -> new SamplingParams(1, 1, 0, 0, 0, 0, 1, null, null, 21));
        assertThrows(IllegalArgumentException.class, () -> new LogitBias(new int[] {3, 1}, new float[] {1, 1}));
    }
}
