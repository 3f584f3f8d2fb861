package io.dmsserve.scheduler;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dmsserve.dms.EvictionPolicies;
import io.dmsserve.dms.EvictionPolicy;
import io.dmsserve.engine.Checkpoint;
import io.dmsserve.engine.LogitsRequest;
import io.dmsserve.engine.StepOutput;
import io.dmsserve.engine.cpu.CpuBackend;
import io.dmsserve.sampling.SamplingParams;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * CudaGoldenTest's long mixed workload (tiny DMS model, pages of 16, three sequences, chunks of 1 to 96, 300 decode
 * steps) on the CPU backend, repacking on against off: the same decisions and live counts, the decision logits within
 * 0.05. They do drift apart: after a repack new tokens take the tail rather than the holes, the attention sums in
 * another order, and a key or value stored as bf16 may round the other way (2026-11-30: up to 0.021).
 */
class RepackLongRunTest {

    @Test
    void repackChangesNoDecisionInALongMixedRun() {
        try (Checkpoint dms = Checkpoint.open(Path.of("src/test/resources/golden/tiny-qwen3-dms"));
                StepExecutor on = StepExecutor.allocate(new CpuBackend(dms, 2, true, false), 16, 64L << 20, 4, true);
                StepExecutor off = StepExecutor.allocate(new CpuBackend(dms, 2, true, false), 16, 64L << 20, 4,
                        false)) {
            Random random = new Random(17);
            int[] prompts = {1500, 1200, 1400};
            int decode = 300;
            EvictionPolicy policy = EvictionPolicies.create("dms", 0f, dms.config().dms());
            int[][] tokens = new int[prompts.length][];
            int[] fed = new int[prompts.length];
            for (int s = 0; s < prompts.length; s++) {
                tokens[s] = random.ints(prompts[s] + decode, 0, dms.config().vocabSize()).toArray();
                on.open(s, policy);
                off.open(s, policy);
            }
            boolean more = true;
            double maxDiff = 0;
            int flips = 0;
            double farthest = 0;
            while (more) {
                List<StepExecutor.Work> work = new ArrayList<>();
                for (int s = 0; s < prompts.length; s++) {
                    if (fed[s] == tokens[s].length) {
                        continue;
                    }
                    int length = fed[s] < prompts[s] ? Math.min(prompts[s] - fed[s], 1 + random.nextInt(96)) : 1;
                    work.add(new StepExecutor.Work(s, Arrays.copyOfRange(tokens[s], fed[s], fed[s] + length),
                            prompts[s], SamplingParams.GREEDY, 0, 0, null, LogitsRequest.LAST));
                }
                StepOutput a = on.run(work);
                StepOutput b = off.run(work);
                for (int i = 0; i < work.size(); i++) {
                    int s = (int) work.get(i).sequenceId();
                    float[] x = a.get(i).decisionLogits();
                    float[] y = b.get(i).decisionLogits();
                    for (int j = 0; j < x.length; j++) {
                        maxDiff = Math.max(maxDiff, Math.abs(x[j] - y[j]));
                        if ((x[j] > 0) != (y[j] > 0)) {
                            flips++;
                            farthest = Math.max(farthest, Math.abs(y[j]));
                        }
                    }
                    fed[s] += work.get(i).tokens().length;
                }
                more = false;
                for (int s = 0; s < prompts.length; s++) {
                    more |= fed[s] < tokens[s].length;
                }
            }
            assertEquals(0, flips, "decisions that differ (the farthest " + farthest + " from the threshold)");
            assertTrue(maxDiff < 0.05, "decision logits differ by up to " + maxDiff);
            for (int s = 0; s < prompts.length; s++) {
                assertEquals(Arrays.deepToString(off.cache().sequence(s).liveCounts()),
                        Arrays.deepToString(on.cache().sequence(s).liveCounts()));
            }
        }
    }
}
