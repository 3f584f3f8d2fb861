package io.dmsserve.engine.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** embedding.cu against bf16 widening (exact): odd hidden sizes, n 1/3/17, an out-of-range id giving NaN. */
class EmbeddingKernelTest extends GpuTest {

    @Test
    void gathersRowsExactly() {
        SplittableRandom random = new SplittableRandom(1);
        EmbeddingKernel kernel = new EmbeddingKernel(context);
        int vocab = 77;
        for (int hidden : new int[] {72, 100, 4096}) {
            short[] table = randomBf16(random, vocab * hidden, 1f);
            DeviceBuffer embedding = upload(table);
            for (int n : new int[] {1, 3, 17}) {
                int[] ids = new int[n];
                for (int i = 0; i < n; i++) {
                    ids[i] = random.nextInt(vocab);
                }
                if (n == 17) {
                    ids[5] = vocab; // out of range: NaN row
                }
                DeviceBuffer x = poisoned(4L * n * hidden);
                kernel.gather(embedding, vocab, hidden, upload(ids), n, x);
                float[] got = x.toFloats();
                for (int i = 0; i < n; i++) {
                    for (int j = 0; j < hidden; j++) {
                        float value = got[i * hidden + j];
                        if (ids[i] == vocab) {
                            assertThat(value).as("row %d of a bad id", i).isNaN();
                        } else {
                            assertThat(value).as("hidden %d, token %d, element %d", hidden, i, j)
                                    .isEqualTo(bf16(table[ids[i] * hidden + j]));
                        }
                    }
                }
            }
        }
    }
}
