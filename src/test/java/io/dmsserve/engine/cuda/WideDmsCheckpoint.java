package io.dmsserve.engine.cuda;

import io.dmsserve.engine.cpu.GoldenCase;
import io.dmsserve.tools.RandomCheckpoint;
import java.nio.file.Path;

/**
 * A small Qwen3-DMS checkpoint with head_dim 64, written for a test: the golden checkpoints' head_dim 32 has no
 * tensor-core decode attention, so runs on them never reach the balanced grid (attention.cu,
 * dms_attention_decode_tcb_d*), which only head_dim 64 and 128 have. Random bf16 weights (seeded), unit norms, the
 * golden DMS checkpoint's tokenizer, DMS window 16: a decision logit is q · 100 − 5 with q of unit RMS, so part of
 * the tokens are evicted and few decisions lie near the threshold.
 */
final class WideDmsCheckpoint {

    static final RandomCheckpoint.Shape SHAPE = new RandomCheckpoint.Shape(256, 512, 2, 8, 2, 64, 512, false, 16);

    private WideDmsCheckpoint() {
    }

    /** Writes the checkpoint into {@code dir} (created) and returns it. */
    static Path write(Path dir) {
        return RandomCheckpoint.write(dir, SHAPE, GoldenCase.GOLDEN.resolve("tiny-qwen3-dms"), 64, 1.0);
    }
}
