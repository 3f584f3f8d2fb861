import io.dmsserve.dms.EvictionPolicies;
import io.dmsserve.dms.EvictionPolicy;
import io.dmsserve.engine.Checkpoint;
import io.dmsserve.engine.LogitsRequest;
import io.dmsserve.engine.SequenceOutput;
import io.dmsserve.engine.StepOutput;
import io.dmsserve.engine.cpu.CpuBackend;
import io.dmsserve.scheduler.StepExecutor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** CPU vs CPU with ulp noise on the products' outputs: how many DMS decisions flip per rounding configuration. */
public class DecisionFlips {
    public static void main(String[] args) {
        Checkpoint dms = Checkpoint.open(Path.of(args.length > 0 ? args[0] : "src/test/resources/golden/tiny-qwen3-dms"));
        int[] masks = {0xF, 0xE, 0x1, 0x0};
        for (int ulps : new int[] {1, 4}) {
        for (int mask : masks) {
            for (long seed = 1; seed <= 3; seed++) {
                run(dms, mask, ulps, seed);
            }
        }
        }
    }

    static void run(Checkpoint dms, int mask, int ulps, long noiseSeed) {
        Random random = new Random(17);
        int[] prompts = {1500, 1200, 1400};
        int decode = 300;
        EvictionPolicy policy = EvictionPolicies.create("dms", 0f, dms.config().dms());
        int layers = dms.config().numLayers();
        int kvHeads = dms.config().numKvHeads();
        int compared = 0, differ = 0, near = 0;
        float farthest = 0;
        CpuBackend.EXP_MASK = mask;
        CpuBackend.EXP_ULPS = ulps;
        Random noise = new Random(noiseSeed);
        try (StepExecutor ref = StepExecutor.allocate(new CpuBackend(dms, 2, true, true), 16, 64L << 20, 4);
                StepExecutor test = StepExecutor.allocate(new CpuBackend(dms, 2, true, true), 16, 64L << 20, 4)) {
            int[][] tokens = new int[prompts.length][];
            int[] fed = new int[prompts.length];
            for (int s = 0; s < prompts.length; s++) {
                tokens[s] = random.ints(prompts[s] + decode, 0, dms.config().vocabSize()).toArray();
                ref.open(s, policy);
                test.open(s, policy);
            }
            boolean more = true;
            while (more) {
                List<StepExecutor.Work> work = new ArrayList<>();
                for (int s = 0; s < prompts.length; s++) {
                    if (fed[s] == tokens[s].length) continue;
                    int length = fed[s] < prompts[s] ? Math.min(prompts[s] - fed[s], 1 + random.nextInt(96)) : 1;
                    work.add(new StepExecutor.Work(s, java.util.Arrays.copyOfRange(tokens[s], fed[s], fed[s] + length),
                            prompts[s], io.dmsserve.sampling.SamplingParams.GREEDY, 0, 0, null, LogitsRequest.LAST));
                }
                CpuBackend.EXP_NOISE = null;
                StepOutput want = ref.run(work);
                CpuBackend.EXP_NOISE = noise;
                StepOutput got = test.run(work);
                CpuBackend.EXP_NOISE = null;
                for (int i = 0; i < work.size(); i++) {
                    int s = (int) work.get(i).sequenceId();
                    SequenceOutput w = want.get(i), g = got.get(i);
                    int length = work.get(i).tokens().length;
                    for (int c = 0; c < length; c++) for (int l = 0; l < layers; l++) for (int h = 0; h < kvHeads; h++) {
                        compared++;
                        if (w.decisions().flagged(c, l, h) != g.decisions().flagged(c, l, h)) {
                            float logit = w.decisionLogits()[(c * layers + l) * kvHeads + h];
                            differ++;
                            near += Math.abs(logit) < 1e-3 ? 1 : 0;
                            farthest = Math.max(farthest, Math.abs(logit));
                        }
                    }
                    fed[s] += length;
                }
                more = false;
                for (int s = 0; s < prompts.length; s++) more |= fed[s] < tokens[s].length;
            }
        }
        System.out.printf("mask %x ulps %d seed %d: %d compared, %d differ (%d near), farthest %.4g%n", mask, ulps, noiseSeed,
                compared, differ, near, farthest);
    }
}
