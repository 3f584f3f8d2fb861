package io.dmsserve.engine.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** The decode step's page bound: stable over stretches of the context (one graph), never far above the truth. */
class CudaBackendLayoutTest {

    @Test
    void pagesRoundUpToAnEighthOfTheirPowerOfTwo() {
        assertThat(CudaBackend.roundPages(1)).isEqualTo(1);
        assertThat(CudaBackend.roundPages(7)).isEqualTo(7);
        assertThat(CudaBackend.roundPages(9)).isEqualTo(9);
        assertThat(CudaBackend.roundPages(17)).isEqualTo(18);
        assertThat(CudaBackend.roundPages(257)).isEqualTo(288);
        assertThat(CudaBackend.roundPages(260)).isEqualTo(288);
        assertThat(CudaBackend.roundPages(2048)).isEqualTo(2048);
        assertThat(CudaBackend.roundPages(2049)).isEqualTo(2304);
        for (int pages = 1; pages < 5000; pages++) {
            int rounded = CudaBackend.roundPages(pages);
            assertThat(rounded).isBetween(pages, pages + pages / 8);
            assertThat(CudaBackend.roundPages(rounded)).as("idempotent").isEqualTo(rounded);
        }
    }

    @Test
    void aScratchSizeGrowsOnlyWhenOutgrown() {
        assertThat(CudaBackend.grow(5, 0, 16)).as("first size").isEqualTo(16);
        assertThat(CudaBackend.grow(100, 0, 16)).isEqualTo(100);
        assertThat(CudaBackend.grow(16, 16, 16)).as("fits: unchanged").isEqualTo(16);
        assertThat(CudaBackend.grow(3, 512, 16)).as("fits: unchanged").isEqualTo(512);
        assertThat(CudaBackend.grow(17, 16, 16)).as("doubles").isEqualTo(32);
        assertThat(CudaBackend.grow(5000, 16, 16)).isEqualTo(5000);
        // 64 sequences arriving one resize at a time never grow the token capacity past what the steps asked for.
        int tokens = 0;
        for (int step = 1; step <= 64; step++) {
            tokens = CudaBackend.grow(512, tokens, 16);
        }
        assertThat(tokens).isEqualTo(512);
    }
}
