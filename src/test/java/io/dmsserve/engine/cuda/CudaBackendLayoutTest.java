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
}
