package io.dmsserve.sampling;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

class SamplerTest {

    private static final float[] LOGITS = {1.0f, 3.0f, -2.0f, 3.0f, 0.5f, -0.0f, 0.0f, Float.NEGATIVE_INFINITY};

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
        assertEquals(1, new Sampler(SamplingParams.GREEDY).next(LOGITS));
        assertEquals(1, new Sampler(new SamplingParams(0.8, 1, 1, 5L)).next(LOGITS));
    }

    @Test
    void seededSamplingIsReproducible() {
        SamplingParams params = new SamplingParams(1.0, 0.9, 0, 1234L);
        Sampler a = new Sampler(params);
        Sampler b = new Sampler(params);
        for (int i = 0; i < 200; i++) {
            assertEquals(a.next(LOGITS), b.next(LOGITS));
        }
    }

    @Test
    void topKAndTopPRestrictTheChoice() {
        Sampler topK = new Sampler(new SamplingParams(5.0, 1, 2, 1L));
        Sampler topP = new Sampler(new SamplingParams(1.0, 0.5, 0, 2L));
        for (int i = 0; i < 500; i++) {
            int k = topK.next(LOGITS);
            assertTrue(k == 1 || k == 3, "top-2 drew " + k);
            // tokens 1 and 3 hold ~0.8 of the mass: the nucleus of 0.5 is {1, 3}
            int p = topP.next(LOGITS);
            assertTrue(p == 1 || p == 3, "top-p drew " + p);
        }
    }

    @Test
    void temperatureFollowsTheSoftmax() {
        float[] logits = {0f, (float) Math.log(3)}; // probabilities 1/4, 3/4 at temperature 1
        Sampler sampler = new Sampler(new SamplingParams(1.0, 1, 0, 9L));
        int ones = 0;
        int draws = 20_000;
        for (int i = 0; i < draws; i++) {
            ones += sampler.next(logits);
        }
        assertEquals(0.75, (double) ones / draws, 0.02);
    }

    @Test
    void badParametersAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> new SamplingParams(-1, 1, 0, null));
        assertThrows(IllegalArgumentException.class, () -> new SamplingParams(1, 0, 0, null));
        assertThrows(IllegalArgumentException.class, () -> new SamplingParams(1, 1.5, 0, null));
        assertThrows(IllegalArgumentException.class, () -> new SamplingParams(1, 1, -3, null));
    }
}
