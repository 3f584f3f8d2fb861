package io.dmsserve.engine.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import io.dmsserve.dms.EvictionPolicies;
import io.dmsserve.engine.Checkpoint;
import io.dmsserve.engine.LogitsRequest;
import io.dmsserve.engine.cpu.GoldenCase;
import io.dmsserve.scheduler.StepExecutor;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * With {@code dms.cuda.kernel-timing}, every launch of a decode step is timed on the device: as many RMSNorm
 * launches as the forward pass makes (the final one, and two a layer as their own launches or folded into the q|k|v and
 * gate|up GEMVs, {@code dms.cuda.fused-norm}), each kernel with device time, the products
 * apart by their shape, all of them together within the steps' wall time, and no step graph (a graph's kernels
 * cannot be timed one by one).
 */
@Tag("gpu")
class CudaKernelTimingTest {

    private static final int STEPS = 12;

    @Test
    void everyLaunchOfADecodeStepIsTimed() {
        GpuTest.requireCuda();
        try (Checkpoint dms = Checkpoint.open(GoldenCase.GOLDEN.resolve("tiny-qwen3-dms"))) {
            CudaBackend backend = SystemProperty.with(CudaBackend.KERNEL_TIMING_PROPERTY, "true",
                    () -> new CudaBackend(dms, CudaContext.open(0, false), true, 0));
            int layers = dms.config().numLayers();
            try (StepExecutor engine = StepExecutor.allocate(backend, 2, 16L << 20, 4)) {
                engine.open(0, EvictionPolicies.create("dms", 0f, dms.config().dms()));
                int[] prompt = new SplittableRandom(5).ints(30, 0, dms.config().vocabSize()).toArray();
                int token = engine.run(List.of(StepExecutor.Work.greedy(0, prompt, true, LogitsRequest.NONE)))
                        .get(0).token();
                backend.takeKernelTimes();  // the prompt's
                long start = System.nanoTime();
                for (int t = 0; t < STEPS; t++) {
                    token = engine.run(List.of(StepExecutor.Work.greedy(0, new int[] {token}, true,
                            LogitsRequest.NONE))).get(0).token();
                }
                long wallNanos = System.nanoTime() - start;
                List<CudaBackend.KernelTime> times = backend.takeKernelTimes();
                Map<String, CudaBackend.KernelTime> byName = times.stream()
                        .collect(Collectors.toMap(CudaBackend.KernelTime::kernel, k -> k));
                boolean folded = !"false".equals(System.getProperty(CudaBackend.FUSED_NORM_PROPERTY));
                long foldedLaunches = times.stream().filter(k -> k.kernel().contains("_norm_"))
                        .mapToLong(CudaBackend.KernelTime::launches).sum();
                assertThat(byName.get("dms_rmsnorm_f32").launches()).as("RMSNorm launches")
                        .isEqualTo(STEPS * (folded ? 1L : 2L * layers + 1));
                assertThat(foldedLaunches).as("GEMVs with the norm folded in").isEqualTo(folded ? STEPS * 2L * layers : 0);
                assertThat(times).allSatisfy(k -> {
                    assertThat(k.shortestNanos()).as(k.kernel()).isPositive();
                    assertThat(k.shortestNanos() * k.launches()).as(k.kernel()).isLessThanOrEqualTo(k.nanos());
                });
                // The products share kernels and are timed apart by their shape (m x k): q|k|v reads the hidden state.
                assertThat(byName.keySet()).anyMatch(k -> k.endsWith("x" + dms.config().hiddenSize()));
                long total = times.stream().mapToLong(CudaBackend.KernelTime::nanos).sum();
                assertThat(total).isLessThan(wallNanos);
                assertThat(backend.graphCounts()[0]).as("steps run as a graph").isZero();
                assertThat(backend.takeKernelTimes()).as("taken").isEmpty();
                System.out.printf("[gpu] kernel timing: %d kernels, %.1f µs of device time a decode step (wall %.1f"
                        + " µs), the longest %s%n", times.size(), total / 1e3 / STEPS, wallNanos / 1e3 / STEPS,
                        times.get(0).kernel());
            }
        }
    }
}
