package io.dmsserve.scheduler;

import io.dmsserve.engine.LogitsRequest;
import io.dmsserve.sampling.SamplingParams;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * The long mixed run's steps (CudaGoldenTest, RepackLongRunTest): three sequences with prompts of 1,500, 1,200 and
 * 1,400 random tokens, fed in chunks of 1 to 96 while the others decode, then 300 decode steps each; greedy, the last
 * row's logits asked for, seed 17. Sequence ids 0, 1, 2.
 */
public final class LongMixedWorkload {

    private static final int[] PROMPTS = {1500, 1200, 1400};
    private static final int DECODE = 300;

    private final Random random = new Random(17);
    private final int[][] tokens = new int[PROMPTS.length][];
    private final int[] fed = new int[PROMPTS.length];

    public LongMixedWorkload(int vocabSize) {
        for (int s = 0; s < PROMPTS.length; s++) {
            tokens[s] = random.ints(PROMPTS[s] + DECODE, 0, vocabSize).toArray();
        }
    }

    public int sequences() {
        return PROMPTS.length;
    }

    /** The next step's work, empty once every sequence is done; {@link #advance} must follow. */
    public List<StepExecutor.Work> next() {
        List<StepExecutor.Work> work = new ArrayList<>();
        for (int s = 0; s < PROMPTS.length; s++) {
            if (fed[s] == tokens[s].length) {
                continue;
            }
            int length = fed[s] < PROMPTS[s] ? Math.min(PROMPTS[s] - fed[s], 1 + random.nextInt(96)) : 1;
            work.add(new StepExecutor.Work(s, Arrays.copyOfRange(tokens[s], fed[s], fed[s] + length), PROMPTS[s],
                    SamplingParams.GREEDY, 0, 0, null, LogitsRequest.LAST));
        }
        return work;
    }

    /** Position of sequence s's next token. */
    public int fed(int s) {
        return fed[s];
    }

    /** Counts the step's tokens as fed. */
    public void advance(List<StepExecutor.Work> work) {
        for (StepExecutor.Work w : work) {
            fed[(int) w.sequenceId()] += w.tokens().length;
        }
    }
}
