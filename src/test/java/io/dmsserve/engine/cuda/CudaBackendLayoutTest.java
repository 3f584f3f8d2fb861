package io.dmsserve.engine.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.dmsserve.kvcache.PageTableDelta;
import org.junit.jupiter.api.Test;

/**
 * The decode step's page bound: stable over stretches of the context (one graph), never far above the truth; the
 * attention waves chosen from the page lists; the message a step fails with when its page-table delta is refused.
 */
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
    void attentionWavesFollowTheLongestListOverTheMeanInPowersOfTwo() {
        assertThat(CudaBackend.autoWaves(100, 100L * 288, 288)).as("equal lists: one wave").isEqualTo(1);
        assertThat(CudaBackend.autoWaves(100, 90L * 288, 288)).as("longest 1.1x the mean").isEqualTo(1);
        assertThat(CudaBackend.autoWaves(100, 60L * 288, 288)).as("longest 1.7x the mean").isEqualTo(2);
        assertThat(CudaBackend.autoWaves(100, 50L * 288, 288)).isEqualTo(2);
        assertThat(CudaBackend.autoWaves(300, 100L * 288, 288)).as("3x: the power of two above").isEqualTo(4);
        assertThat(CudaBackend.autoWaves(700, 100L * 288, 288)).as("7x").isEqualTo(8);
        assertThat(CudaBackend.autoWaves(1000, 100L * 288, 288)).as("at most 8").isEqualTo(8);
        assertThat(CudaBackend.autoWaves(5, 0, 288)).as("nothing listed yet").isEqualTo(1);
        assertThat(CudaBackend.attentionWaves("auto")).isZero();
        assertThat(CudaBackend.attentionWaves("2")).isEqualTo(2);
        assertThat(CudaBackend.attentionWaves("16")).isEqualTo(16);
        for (String bad : new String[] {"0", "17", "two", ""}) {
            assertThatThrownBy(() -> CudaBackend.attentionWaves(bad)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("dms.cuda.attention-waves must be auto or 1 to 16");
        }
    }

    /** Batch 1 at 4K (256 pages of 16 per head, 8 kv heads): 16 splits of 256 slots by default, more when smaller. */
    @Test
    void theFewestSlotsASplitTakesIsAWholeNumberThatSizesTheSplits() {
        assertThat(AttentionKernel.splits(256, AttentionKernel.pagesPerSplit(256, 16, 8, 132, 1))).isEqualTo(16);
        assertThat(AttentionKernel.splits(256, AttentionKernel.pagesPerSplit(256, 16, 8, 132, 1, 64)))
                .as("64 slots: the one-wave target of 396 blocks decides").isEqualTo(43);
        assertThat(AttentionKernel.pagesPerSplit(3, 16, 8, 132, 1, 1024)).as("never more than the list").isEqualTo(3);
        // The decode grid's floor for short lists at batch 1 (8 lists, 132 multiprocessors, pages of 16, 256 slots):
        // 512 tokens 8 ways, 1K and 2K 16 ways, from 4K as the plain floor (16 and 32 ways).
        int[][] decode = {{32, 8}, {36, 9}, {64, 16}, {128, 16}, {256, 16}, {512, 32}, {2048, 49}, {3, 1}};
        for (int[] c : decode) {
            int perSplit = AttentionKernel.decodePagesPerSplit(c[0], 16, 8, 132, 1, 256);
            assertThat(AttentionKernel.splits(c[0], perSplit)).as("%d pages", c[0]).isEqualTo(c[1]);
        }
        assertThat(AttentionKernel.splits(32, AttentionKernel.pagesPerSplit(32, 16, 8, 132, 1, 256)))
                .as("the plain floor at 512 tokens").isEqualTo(2);
        // 16 lists of 128 pages: the target's 3 splits a list are longer than either floor.
        assertThat(AttentionKernel.decodePagesPerSplit(128, 16, 128, 132, 1, 256))
                .isEqualTo(AttentionKernel.pagesPerSplit(128, 16, 128, 132, 1, 256));
        assertThat(CudaBackend.minSplitSlots("256")).isEqualTo(256);
        assertThat(CudaBackend.minSplitSlots(" 64 ")).isEqualTo(64);
        for (String bad : new String[] {"8", "-1", "many", ""}) {
            assertThatThrownBy(() -> CudaBackend.minSplitSlots(bad)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("dms.cuda.min-split-slots must be a whole number from 16");
        }
        // dms.cuda.short-splits: the short-list floor for no step, one-token steps (the default) or every decode step.
        assertThat(CudaBackend.shortSplits("false").lowers(1)).isFalse();
        assertThat(CudaBackend.shortSplits("true").lowers(1)).isTrue();
        assertThat(CudaBackend.shortSplits("true").lowers(2)).isFalse();
        assertThat(CudaBackend.shortSplits("all").lowers(8)).isTrue();
        for (String bad : new String[] {"yes", "", "ALL"}) {
            assertThatThrownBy(() -> CudaBackend.shortSplits(bad)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("dms.cuda.short-splits must be true, false or all, got '" + bad + "'");
        }
        // dms.cuda.sample-splits: auto (0) or 1 to 64 blocks a plain greedy row; auto about a block a multiprocessor,
        // at most 32 a row, and steps of more than 8 rows one block a row.
        assertThat(CudaBackend.sampleSplits("auto")).isZero();
        assertThat(CudaBackend.sampleSplits(" 16 ")).isEqualTo(16);
        for (String bad : new String[] {"0", "65", "some", ""}) {
            assertThatThrownBy(() -> CudaBackend.sampleSplits(bad)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("dms.cuda.sample-splits must be auto or a whole number from 1 to 64");
        }
        assertThat(SamplingKernel.splitsFor(1, 0, 132)).isEqualTo(32);
        assertThat(SamplingKernel.splitsFor(8, 0, 132)).isEqualTo(16);
        assertThat(SamplingKernel.splitsFor(8, 4, 132)).isEqualTo(4);
        assertThat(SamplingKernel.splitsFor(9, 0, 132)).isEqualTo(1);
        assertThat(SamplingKernel.splitsFor(9, 8, 132)).isEqualTo(1);
    }

    @Test
    void theQkNormIsFoldedIntoTheAttentionOnlyWhenAsked() {
        assertThat(CudaBackend.fold("true")).isEqualTo(CudaBackend.Fold.ONE_WAVE);
        assertThat(CudaBackend.fold(" false ")).isEqualTo(CudaBackend.Fold.NONE);
        assertThat(CudaBackend.fold("always")).as("past one wave too").isEqualTo(CudaBackend.Fold.ALWAYS);
        assertThat(CudaBackend.Fold.NONE.folds(1, 132)).isFalse();
        assertThat(CudaBackend.Fold.ONE_WAVE.folds(8 * 16, 132)).isTrue();
        assertThat(CudaBackend.Fold.ONE_WAVE.folds(16 * 8 * 3, 132)).isFalse();
        assertThat(CudaBackend.Fold.ALWAYS.folds(16 * 8 * 3, 132)).isTrue();
        // The split grid folds within one wave of the folded kernel (two blocks a multiprocessor): batch 1 at 4K, 8 kv
        // heads x 16 splits, on 132 multiprocessors; not 16 tokens x 8 kv heads x 3 splits (16 x 32K without eviction).
        assertThat(AttentionKernel.foldFits(8 * 16, 132)).isTrue();
        assertThat(AttentionKernel.foldFits(264, 132)).isTrue();
        assertThat(AttentionKernel.foldFits(265, 132)).isFalse();
        assertThat(AttentionKernel.foldFits(16 * 8 * 3, 132)).isFalse();
        for (String bad : new String[] {"yes", "", "TRUE", "1"}) {
            assertThatThrownBy(() -> CudaBackend.fold(bad)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("dms.cuda.fold-qknorm must be true, always or false, got '" + bad + "'");
        }
    }

    @Test
    void theProductsActivationsAreSplitOrBf16OrAutosChoice() {
        assertThat(CudaBackend.splitActivations("split", false)).isTrue();
        assertThat(CudaBackend.splitActivations(" bf16 ", true)).isFalse();
        assertThat(CudaBackend.splitActivations("auto", true)).as("a DMS checkpoint").isTrue();
        assertThat(CudaBackend.splitActivations("auto", false)).as("a dense one").isFalse();
        for (String bad : new String[] {"fp32", "", "BF16"}) {
            assertThatThrownBy(() -> CudaBackend.splitActivations(bad, true)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("dms.cuda.activations must be auto, split or bf16, got '" + bad + "'");
        }
    }

    @Test
    void theChunkAttentionIsSplitOrBf16OrAsTheProducts() {
        assertThat(CudaBackend.chunkAttentionSplit("split", false)).isTrue();
        assertThat(CudaBackend.chunkAttentionSplit(" bf16 ", true)).isFalse();
        assertThat(CudaBackend.chunkAttentionSplit("auto", true)).as("split products").isTrue();
        assertThat(CudaBackend.chunkAttentionSplit("auto", false)).as("bf16 products").isFalse();
        for (String bad : new String[] {"fp32", "", "Split"}) {
            assertThatThrownBy(() -> CudaBackend.chunkAttentionSplit(bad, true))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("dms.cuda.chunk-attention must be auto, split or bf16, got '" + bad + "'");
        }
    }

    @Test
    void theGraphCheckIntervalIsAWholeNumber() {
        assertThat(CudaBackend.graphCheckEvery("256")).isEqualTo(256);
        assertThat(CudaBackend.graphCheckEvery("0")).as("never").isZero();
        assertThat(CudaBackend.graphCheckEvery(" 1 ")).isEqualTo(1);
        for (String bad : new String[] {"-1", "often", "", "1.5"}) {
            assertThatThrownBy(() -> CudaBackend.graphCheckEvery(bad)).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("dms.cuda.graph-check-every must be a whole number from 0");
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

    /** Each error bit of native/page_table.cu and page_copy.cu names its kernel and what was out of range. */
    @Test
    void aRefusedDeltaNamesTheKernelOfEachErrorBit() {
        assertThat(CudaBackend.tableErrorMessage(2)).contains("dms_page_table_apply: a page out of range")
                .doesNotContain("dms_page_copy_bf16").doesNotContain("dms_slot_move_bf16");
        assertThat(CudaBackend.tableErrorMessage(1 | 8 | 32)).contains("a page-table entry out of range")
                .contains("a fresh page out of range").contains("dms_slot_move_bf16: a slot run out of range")
                .doesNotContain("a table or its length");
        assertThat(CudaBackend.tableErrorMessage(16)).contains("dms_page_copy_bf16: a page out of range");
        assertThat(CudaBackend.tableErrorMessage(4 | 64)).contains("a table or its length out of range")
                .contains("unknown error bits 1000000");
    }

    /**
     * The host refuses what the device kernel cannot see: an entry past its table (which would land in the next
     * table's first entry, a valid flat index) and a length past the entries; in-range writes and holes pass.
     */
    @Test
    void aPageTableWriteOutsideItsTableIsRefusedBeforeTheStep() {
        int tables = 6;
        int entries = 4;
        CudaBackend.checkTableWrites(new PageTableDelta(new int[] {0, 0, 7, 5, 3, -1}, new int[] {5, 4, 0, 0},
                new int[0]), tables, entries);
        assertThatThrownBy(() -> CudaBackend.checkTableWrites(new PageTableDelta(new int[] {0, 0, 7, 2, 4, 9},
                new int[0], new int[0]), tables, entries)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("write 1 sets entry 4 of table 2, outside the 6 tables of 4 entries each");
        assertThatThrownBy(() -> CudaBackend.checkTableWrites(new PageTableDelta(new int[] {6, 0, 7}, new int[0],
                new int[0]), tables, entries)).hasMessageContaining("entry 0 of table 6");
        assertThatThrownBy(() -> CudaBackend.checkTableWrites(new PageTableDelta(new int[] {1, -1, 7}, new int[0],
                new int[0]), tables, entries)).hasMessageContaining("entry -1 of table 1");
        assertThatThrownBy(() -> CudaBackend.checkTableWrites(new PageTableDelta(new int[0], new int[] {3, 5},
                new int[0]), tables, entries)).hasMessageContaining("length write 0 gives table 3 length 5");
        assertThatThrownBy(() -> CudaBackend.checkTableWrites(new PageTableDelta(new int[0], new int[] {0, 1, -1, 1},
                new int[0]), tables, entries)).hasMessageContaining("length write 1 gives table -1 length 1");
    }
}
