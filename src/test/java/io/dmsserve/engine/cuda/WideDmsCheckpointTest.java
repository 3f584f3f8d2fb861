package io.dmsserve.engine.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import io.dmsserve.dms.EvictionPolicies;
import io.dmsserve.engine.Checkpoint;
import io.dmsserve.engine.LogitsRequest;
import io.dmsserve.engine.cpu.CpuBackend;
import io.dmsserve.sampling.SamplingParams;
import io.dmsserve.scheduler.StepExecutor;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The GPU tests' head_dim-64 checkpoint on the CPU: it loads, and its random decisions evict some tokens, not all. */
class WideDmsCheckpointTest {

    @Test
    void loadsAndEvictsPartOfItsTokens(@TempDir Path dir) {
        try (Checkpoint wide = Checkpoint.open(WideDmsCheckpoint.write(dir.resolve("wide")))) {
            assertThat(wide.config().headDim()).isEqualTo(64);
            assertThat(wide.config().isDms()).isTrue();
            int prompt = 200;
            int[] tokens = new SplittableRandom(5).ints(prompt, 0, WideDmsCheckpoint.SHAPE.vocab()).toArray();
            try (StepExecutor cpu = StepExecutor.allocate(new CpuBackend(wide, 1, true, false), 2, 16L << 20, 4)) {
                cpu.open(0, EvictionPolicies.create("dms", 0f, wide.config().dms()));
                cpu.run(List.of(new StepExecutor.Work(0, tokens, prompt, SamplingParams.GREEDY, 0, 0, null,
                        LogitsRequest.LAST)));
                long live = 0;
                for (int[] layer : cpu.cache().sequence(0).liveCounts()) {
                    for (int count : layer) {
                        live += count;
                    }
                }
                long held = (long) prompt * WideDmsCheckpoint.SHAPE.layers() * WideDmsCheckpoint.SHAPE.kvHeads();
                // The window (16) keeps the last tokens; of the rest, random decisions evict about half.
                assertThat(live).isBetween(held / 5, held * 4 / 5);
                cpu.release(0);
            }
        }
    }
}
