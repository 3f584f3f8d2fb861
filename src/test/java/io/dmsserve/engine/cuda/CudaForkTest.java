package io.dmsserve.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.dmsserve.engine.Checkpoint;
import io.dmsserve.engine.cpu.GoldenCase;
import io.dmsserve.scheduler.ForkedSequences;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Forks on the CUDA backend (ForkedSequences): the delta's page copies run on the device (dms_page_copy_bf16, in two
 * rounds where a copy of a copy reads pages the first round writes), before the fresh pages are emptied, and every
 * copy then decodes as its source, token for token, with the same live tokens per (layer, kv head).
 */
@Tag("gpu")
class CudaForkTest {

    @Test
    void copiesDecodeAsTheirSourceOnTheDevice() {
        GpuTest.requireCuda();
        try (Checkpoint checkpoint = Checkpoint.open(GoldenCase.GOLDEN.resolve("tiny-qwen3-dms"));
                CudaBackend backend = new CudaBackend(checkpoint, CudaContext.open())) {
            ForkedSequences.Outcome outcome = ForkedSequences.check(backend, 0f);
            assertTrue(outcome.evictedBeforeFork() > 0, "the source evicted before the fork");
            System.out.printf("[gpu] forks: 4 copies (one of a copy before any step, one mid-decode) decoded %d steps"
                    + " as their source; %d pages a copy, %d tokens evicted before the fork%n", outcome.steps(),
                    outcome.pagesCopied(), outcome.evictedBeforeFork());
        }
    }
}
