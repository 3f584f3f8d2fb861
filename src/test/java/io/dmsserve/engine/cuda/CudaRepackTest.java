package io.dmsserve.engine.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.dmsserve.engine.Checkpoint;
import io.dmsserve.engine.cpu.GoldenCase;
import io.dmsserve.scheduler.RepackedSequencesTest;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Repacking on the CUDA backend (the workload of RepackedSequencesTest): the repacks' slot moves run on the device
 * (dms_slot_move_bf16) before anything reads the moved slots, and in this workload a run with repacking on decodes as
 * one with it off, token for token, with the same live tokens per (layer, kv head), in fewer pages.
 */
@Tag("gpu")
class CudaRepackTest {

    @Test
    void repackedAndUnrepackedRunsDecodeAlikeOnTheDevice() {
        if (!CudaAvailability.check().isEmpty()) {
            fail("CUDA is not available: " + String.join("; ", CudaAvailability.check()));
        }
        try (Checkpoint checkpoint = Checkpoint.open(GoldenCase.GOLDEN.resolve("tiny-qwen3-dms"))) {
            RepackedSequencesTest.Run on;
            RepackedSequencesTest.Run off;
            try (CudaBackend backend = new CudaBackend(checkpoint, CudaContext.open())) {
                on = RepackedSequencesTest.run(backend, true);
            }
            try (CudaBackend backend = new CudaBackend(checkpoint, CudaContext.open())) {
                off = RepackedSequencesTest.run(backend, false);
            }
            assertEquals(off.tokens().size(), on.tokens().size());
            for (int t = 0; t < on.tokens().size(); t++) {
                assertArrayEquals(off.tokens().get(t), on.tokens().get(t), "step " + t);
                for (int l = 0; l < on.live().get(t).length; l++) {
                    assertArrayEquals(off.live().get(t)[l], on.live().get(t)[l], "step " + t + ", row " + l);
                }
            }
            assertTrue(on.pagesAfterPrefill() < off.pagesAfterPrefill());
            System.out.printf("[gpu] repack: %d decode steps of 3 sequences identical with repacking on and off; %d"
                    + " pages after the prefill against %d%n", on.tokens().size(), on.pagesAfterPrefill(),
                    off.pagesAfterPrefill());
        }
    }
}
