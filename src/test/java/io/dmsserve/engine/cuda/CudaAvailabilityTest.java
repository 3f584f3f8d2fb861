package io.dmsserve.engine.cuda;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The path every machine without a usable GPU takes (this one runs in the normal build): reasons, one line
 * each, never an exception or a stack trace; opening a context says the same reasons.
 */
class CudaAvailabilityTest {

    @Test
    void reasonsAreReadableLinesAndCheckingNeverThrows() {
        List<String> reasons = CudaAvailability.check();
        for (String reason : reasons) {
            assertThat(reason).isNotBlank().doesNotContain("\n").doesNotContain("\tat ");
        }
        assertThat(CudaAvailability.check()).isEqualTo(reasons); // probed once, same answer
    }

    @Test
    void withoutCudaOpeningAContextGivesTheReasons() {
        List<String> reasons = CudaAvailability.check();
        assumeFalse(reasons.isEmpty(), "CUDA is usable on this machine");
        assertThatThrownBy(CudaContext::open).isInstanceOf(CudaUnavailableException.class)
                .hasMessageContaining(reasons.get(0))
                .satisfies(e -> assertThat(((CudaUnavailableException) e).reasons()).isEqualTo(reasons));
    }

    @Test
    void kernelsAreEitherOnTheClasspathOrTheBuildSaidWhyNot() {
        List<String> reasons = CudaAvailability.kernelReasons();
        if (CudaAvailability.class.getResource(CudaAvailability.FATBIN_RESOURCE) != null) {
            assertThat(reasons).isEmpty();
        } else {
            assertThat(reasons).singleElement().asString().startsWith("kernels not built: ");
        }
    }

    @Test
    void aMissingDriverLibraryIsOneLine() {
        UnsatisfiedLinkError e = new UnsatisfiedLinkError("Error while loading native library \"JCudaDriver-12.6.0-linux-x86_64\"\n"
                + "Operating system name: Linux\n---(start of nested stack traces)---\n"
                + "java.lang.UnsatisfiedLinkError: /tmp/libJCudaDriver-12.6.0-linux-x86_64.so: libcuda.so.1: cannot open shared"
                + " object file: No such file or directory\n\tat java.base/jdk.internal.loader.NativeLibraries.load(Native Method)\n");
        assertThat(CudaAvailability.describeLinkError(e)).startsWith("no CUDA driver: libcuda.so.1 was not found")
                .doesNotContain("\n");
        UnsatisfiedLinkError other = new UnsatisfiedLinkError("Error while loading\n"
                + "java.lang.UnsatisfiedLinkError: /tmp/libJCudaDriver.so: wrong ELF class: ELFCLASS32\n\tat x.y(Z.java:1)\n");
        assertThat(CudaAvailability.describeLinkError(other))
                .isEqualTo("the JCuda driver binding cannot be loaded: /tmp/libJCudaDriver.so: wrong ELF class: ELFCLASS32");
    }

    @Test
    void samplingParamsHaveTheKernelsLayout() {
        SamplingKernel.Params p = new SamplingKernel.Params(0.7, 0.9, 40, 0.05, 1.1, 0.25, 0.5, -3L, 7L, 5, 11, 3, 64, 2,
                true);
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(SamplingKernel.Params.pack(p)).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        assertThat(b.capacity()).isEqualTo(96);
        assertThat(b.getDouble(0)).isEqualTo(0.7);
        assertThat(b.getDouble(8)).isEqualTo(0.9);
        assertThat(b.getDouble(16)).isEqualTo(0.05);
        assertThat(b.getDouble(24)).isEqualTo(1.1);
        assertThat(b.getDouble(32)).isEqualTo(0.25);
        assertThat(b.getDouble(40)).isEqualTo(0.5);
        assertThat(b.getLong(48)).isEqualTo(-3L);
        assertThat(b.getLong(56)).isEqualTo(7L);
        assertThat(new int[] {b.getInt(64), b.getInt(68), b.getInt(72), b.getInt(76), b.getInt(80), b.getInt(84),
            b.getInt(88)}).containsExactly(40, 5, 11, 3, 64, 2, 1);
    }

    @Test
    void theRandomStreamIsSplitMix64() {
        // SplitMix64's first output for state 0 (the published reference value), and the draw formula of
        // native/dms.cuh, which the Java sampler shares (sampling.Draws).
        assertThat(io.dmsserve.sampling.Draws.mix(0)).isEqualTo(0xE220A8397B1DCDAFL);
        double u = io.dmsserve.sampling.Draws.uniform(42, 3);
        assertThat(u).isEqualTo((io.dmsserve.sampling.Draws.mix(42 ^ io.dmsserve.sampling.Draws.mix(3)) >>> 11)
                * 0x1.0p-53).isGreaterThanOrEqualTo(0).isLessThan(1);
    }

    @Test
    void launchPlansMatchTheNativeLaunchers() {
        assertThat(MatMulKernel.rowsPerBlock(151936, 132)).isEqualTo(4);
        assertThat(MatMulKernel.rowsPerBlock(1024, 132)).isEqualTo(1);
        assertThat(MatMulKernel.gemvBlock(4096)).isEqualTo(256);
        assertThat(MatMulKernel.gemvBlock(72)).isEqualTo(32);
        assertThat(MatMulKernel.sharedBytes(128, false)).isEqualTo(81920);
        // 3 stages, A in fp32, and the high and rest tiles: two blocks of 128 tokens still fit an H100 / H200
        // multiprocessor; a device with less opt-in shared memory takes the 64-token tiles (MatMulKernel)
        assertThat(MatMulKernel.sharedBytes(128, true)).isEqualTo(112640);
        assertThat(MatMulKernel.sharedBytes(64, true)).isEqualTo(71680);
        // matmul_sm90.cu's static_asserts: 4 stages of 48 KB (bf16, 256 features), 3 of 64 KB (split), + 1 KB alignment
        assertThat(MatMulKernel.wgSharedBytes(256, false)).isEqualTo(197632);
        assertThat(MatMulKernel.wgSharedBytes(128, false)).isEqualTo(132096);
        assertThat(MatMulKernel.wgSharedBytes(256, true)).isEqualTo(197632);
        assertThat(MatMulKernel.wgSharedBytes(128, true)).isEqualTo(197632);
        // the warp-specialised kernels: those stages and two mbarriers of 8 bytes a stage (matmul_ws_smem_bytes)
        assertThat(MatMulKernel.wsSharedBytes(false)).isEqualTo(197696);
        assertThat(MatMulKernel.wsSharedBytes(true)).isEqualTo(197680);
        // matmul_sm90_bulk.cu's matmul_bk_smem_bytes: the same stages, the alignment and two mbarriers a stage
        assertThat(MatMulKernel.bulkSharedBytes(true)).isEqualTo(197680);
        assertThat(MatMulKernel.bulkSharedBytes(false)).isEqualTo(197696);
        // matmul_bk_image_bytes: whole tiles of 64 k, partial ones padded (300 rows: two tiles of 256, k 72: two of 64)
        assertThat(MatMulKernel.imageBytes(300, 72, 256, false)).isEqualTo(2L * 2 * 256 * 64 * 2);
        assertThat(MatMulKernel.imageBytes(2048, 12288, 128, true)).isEqualTo(2048L * 12288 * 4);
        // attention.cu's attention_chunk_smem: two K/V buffers and metadata, then, in the sm_90a code that packs key
        // tiles, 8,192 slots (two blocks a multiprocessor on an H100 / H200); the compute_80 code keeps 71,184 bytes,
        // which 8.6 / 8.9 devices (99 KB a block at most) launch and an A100 runs two to a multiprocessor
        assertThat(AttentionKernel.chunkSharedBytes(128, true)).isEqualTo(103_952);
        assertThat(AttentionKernel.chunkSharedBytes(128, false)).isEqualTo(71_184);
        assertThat(AttentionKernel.chunkSharedBytes(64, false)).isEqualTo(38_416);
        // the warpgroup kernels' feature tile: 256 where those tiles give 132 multiprocessors one each, else 128, else
        // none (mma.sync with split-K)
        assertThat(MatMulKernel.wgTile(2048, 4096, 132)).isEqualTo(256);
        assertThat(MatMulKernel.wgTile(1024, 4096, 132)).isEqualTo(128);
        assertThat(MatMulKernel.wgTile(1024, 6144, 132)).isEqualTo(256);
        assertThat(MatMulKernel.wgTile(256, 4096, 132)).isZero();
        assertThat(MatMulKernel.wgTile(128, 151936, 132)).isEqualTo(256);
        // from 33 tokens, too few tiles split k into the most ways whose blocks fit one wave (tiles of 128 features):
        // 173 tokens on 4096 x 12288 is 64 tiles, 2 ways; 6144 wide is 96 tiles, 1; 100 tokens on 4096 x 4096 is 32
        // tiles, 4; a short k caps it at 4 tiles of 64 a split; tiles that fill the device are split only as below
        assertThat(MatMulKernel.wgSplits(173, 4096, 12288, 128, 132)).isEqualTo(2);
        assertThat(MatMulKernel.wgSplits(173, 6144, 4096, 128, 132)).isEqualTo(1);
        assertThat(MatMulKernel.wgSplits(100, 4096, 4096, 128, 132)).isEqualTo(4);
        assertThat(MatMulKernel.wgSplits(100, 256, 4096, 128, 132)).isEqualTo(16);
        assertThat(MatMulKernel.wgSplits(100, 256, 520, 128, 132)).isEqualTo(2);
        assertThat(MatMulKernel.wgSplits(2048, 4096, 4096, 256, 132)).isEqualTo(1);
        // tiles that fill the device: 1, but for a decode batch of up to 64 tokens whose tiles fill one wave and part
        // of a second, 2 where two splits fill the last wave better (gate|up at 64 tokens: 192 tiles of 128 leave the
        // second wave 45% full, 384 fill 97% of three)
        assertThat(MatMulKernel.wgSplits(64, 24576, 4096, 128, 132)).isEqualTo(2);
        assertThat(MatMulKernel.wgSplits(33, 24576, 4096, 128, 132)).isEqualTo(2);
        assertThat(MatMulKernel.wgSplits(64, 24576, 400, 128, 132)).isEqualTo(1);  // 7 k tiles: too few for 2
        assertThat(MatMulKernel.wgSplits(64, 151936, 4096, 256, 132)).isEqualTo(1);  // the lm_head: 594 tiles
        assertThat(MatMulKernel.wgSplits(65, 24576, 4096, 128, 132)).isEqualTo(1);  // past 64 tokens: not measured so
        assertThat(MatMulKernel.wgSplits(173, 24576, 4096, 256, 132)).isEqualTo(1);  // the 173-token step, as before
        assertThat(MatMulKernel.wgSplits(256, 24576, 4096, 256, 132)).isEqualTo(1);  // a prompt chunk of 256, as before
        assertThat(MatMulKernel.wgSplits(3000, 6144, 4096, 256, 132)).isEqualTo(1);  // prefill
        // from how many tokens the warpgroup kernel with k split goes ahead of the skinny kernel
        assertThat(MatMulKernel.wgSplitKFrom("")).isEqualTo(33);
        assertThat(MatMulKernel.wgSplitKFrom(" 65 ")).isEqualTo(65);
        assertThatThrownBy(() -> MatMulKernel.wgSplitKFrom("1")).hasMessageContaining("dms.cuda.wg-split-k-from");
        assertThatThrownBy(() -> MatMulKernel.wgSplitKFrom("x")).hasMessageContaining("a whole number from 2");
        // matmul_sm90_skinny.cu's static_asserts: 10 stages of 10 KB (bf16), 5 of 12 KB and 3 pairs of 4 KB (split)
        assertThat(MatMulKernel.wgsSharedBytes(false, 16)).isEqualTo(103424);
        assertThat(MatMulKernel.wgsSharedBytes(true, 16)).isEqualTo(74752);
        // tiles of 32 tokens: 10 stages of 12 KB (bf16, one block a multiprocessor), 5 of 16 KB and 3 pairs of 8 KB
        // (split, two)
        assertThat(MatMulKernel.wgsSharedBytes(false, 32)).isEqualTo(123904);
        assertThat(MatMulKernel.wgsSharedBytes(true, 32)).isEqualTo(107520);
        assertThat(2 * (MatMulKernel.wgsSharedBytes(true, 32) + 1024)).isLessThanOrEqualTo(228 * 1024);
        assertThat(MatMulKernel.wgsTile(16)).isEqualTo(16);
        assertThat(MatMulKernel.wgsTile(17)).isEqualTo(32);
        assertThat(MatMulKernel.wgsTile(32)).isEqualTo(32);
        // its splits of k at Qwen3-8B's shapes on 132 multiprocessors, the fastest of each measured on the H200
        // (skinny_bench wgs, 2026-11-30; split o 3% behind it): q|k|v, o, gate|up, down, lm_head; bf16 (a
        // wave of 132 blocks), then split (396)
        int[][] shapes = {{6144, 4096}, {4096, 4096}, {24576, 4096}, {4096, 12288}, {151936, 4096}};
        int[] bf16 = new int[5];
        int[] split = new int[5];
        for (int i = 0; i < 5; i++) {
            bf16[i] = MatMulKernel.wgsSplits(shapes[i][0], shapes[i][1], 132, false);
            split[i] = MatMulKernel.wgsSplits(shapes[i][0], shapes[i][1], 132, true);
        }
        assertThat(bf16).containsExactly(1, 2, 1, 2, 1);
        assertThat(split).containsExactly(4, 6, 1, 6, 1);
        // 17 to 32 tokens: the same for bf16 (one block a multiprocessor either way); split waves of 264 (kernel_test
        // matmul_wgs checks matmul_wgs_splits gives these too)
        int[] bf16Wide = new int[5];
        int[] splitWide = new int[5];
        for (int i = 0; i < 5; i++) {
            bf16Wide[i] = MatMulKernel.wgsSplits(shapes[i][0], shapes[i][1], 132, false, 32);
            splitWide[i] = MatMulKernel.wgsSplits(shapes[i][0], shapes[i][1], 132, true, 17);
        }
        assertThat(bf16Wide).containsExactly(1, 2, 1, 2, 1);
        assertThat(splitWide).containsExactly(2, 4, 2, 4, 1);
        assertThat(MatMulKernel.wgsSplits(100, 64, 132, true)).isEqualTo(1);  // one k tile: at most 8, 4 tiles a split
        assertThat(MatMulKernel.wgsSplits(64, 4096, 132, true)).isEqualTo(8);
    }

    @Test
    void chosenSplitsAreParsedAndChecked() {
        assertThat(MatMulKernel.parseWgsSplits("")).isEmpty();
        assertThat(MatMulKernel.parseWgsSplits("4096x4096=3, 6144x4096=1,4096x12288=192"))
                .containsExactlyInAnyOrderEntriesOf(java.util.Map.of(4096L << 32 | 4096, 3, 6144L << 32 | 4096, 1,
                        4096L << 32 | 12288, 192));
        for (String bad : new String[] {"4096x4096", "4096*4096=3", "4096x4096=0", "4096x4096=65", "0x64=1",
            "4096x4096=3,4096x4096=2", "300000x64=1,300000x128=2", "4096x4096=3,"}) {
            org.assertj.core.api.Assertions.assertThatThrownBy(() -> MatMulKernel.parseWgsSplits(bad)).as(bad)
                    .isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith(
                            MatMulKernel.WGS_SPLITS_PROPERTY);
        }
        assertThat(RmsNormKernel.block(1, 4096)).isEqualTo(512);
        assertThat(RmsNormKernel.block(127, 4096)).isEqualTo(512);
        assertThat(RmsNormKernel.block(128, 4096)).isEqualTo(256);
        assertThat(RmsNormKernel.block(17, 72)).isEqualTo(32);
        assertThat(AttentionKernel.tiles(new int[] {0, 3}, new int[] {3, 40}, 4, 2))
                .containsExactly(0, 3, 3, 16, 19, 16, 35, 8);
        assertThat(AttentionKernel.tiles(new int[] {0, 1}, new int[] {1, 5}, 4, 2)).containsExactly(1, 5);
        int perSplit = AttentionKernel.pagesPerSplit(2048, 16, 8, 132);
        assertThat(AttentionKernel.splits(2048, perSplit)).isBetween(2, 66);
        // Two waves: twice the splits for the same lists (16 x 8 blocks of 2,048 pages: 3 then 6 a list).
        assertThat(AttentionKernel.splits(2048, AttentionKernel.pagesPerSplit(2048, 16, 128, 132))).isEqualTo(3);
        assertThat(AttentionKernel.splits(2048, AttentionKernel.pagesPerSplit(2048, 16, 128, 132, 2))).isEqualTo(6);
        // The balanced grid's partial slots: the longest list's parts at most, never below 2.
        assertThat(AttentionKernel.balancedStride(400, 36_000, 396)).isEqualTo(6);   // ceil(400 x 396 / 36,000) + 1
        assertThat(AttentionKernel.balancedStride(400, 100, 396)).isEqualTo(401);    // fewer pages than blocks
        assertThat(AttentionKernel.balancedStride(1, 1_000_000, 396)).isEqualTo(2);
        assertThat(AttentionKernel.balancedStride(5, 0, 396)).isEqualTo(6);
        assertThat(CudaBackend.roundPagesDown(36_000)).isEqualTo(32_768);  // a multiple of 32,768 / 8 = 4,096
        assertThat(CudaBackend.roundPagesDown(41_000)).isEqualTo(40_960);
        assertThat(CudaBackend.roundPagesDown(7)).isEqualTo(7);
        assertThat(CudaBackend.roundPagesDown(0)).isZero();
        assertThat(CudaBackend.balancedBlocks("false", 132)).isZero();
        assertThat(CudaBackend.balancedBlocks("true", 132)).isEqualTo(396);
        assertThat(CudaBackend.balancedBlocks("auto", 132)).isEqualTo(396);
        // auto: uneven lists (2 waves or more) with 16 pages or more a block in every layer.
        assertThat(CudaBackend.balanceHelps(2, 396L * 16, 396, 16)).isTrue();
        assertThat(CudaBackend.balanceHelps(2, 396L * 16 - 1, 396, 16)).isFalse();   // batch 1: too few pages
        assertThat(CudaBackend.balanceHelps(1, 1_000_000, 396, 16)).isFalse();       // even lists: the split grid
        // The H200 runs of 2026-11-30: 16 x 32K with DMS (longest 696 pages, mean 400) is uneven, 4K (189, 172.6) not.
        assertThat(CudaBackend.autoWaves(696, 400L * 4608, 4608)).isEqualTo(2);
        assertThat(CudaBackend.autoWaves(189, 172_600L * 4608 / 1000, 4608)).isEqualTo(1);
        assertThat(CudaBackend.balancedBlocks("800", 132)).isEqualTo(800);
        assertThatThrownBy(() -> CudaBackend.balancedBlocks("0", 132)).hasMessageContaining("attention-balance");
        assertThat(QkNormRopeKernel.ropeTable(4, 10000, 2)).containsExactly(1f, 0f, 1f, 0f, (float) Math.cos(1),
                (float) Math.sin(1), (float) Math.cos(0.01), (float) Math.sin(0.01));
    }

    @Test
    void kernelsLaunchedPlainlyArePickedByWholeName() {
        assertThat(CudaContext.pdlPlain("")).isNull();
        java.util.regex.Pattern plain = CudaContext.pdlPlain("dms_matmul_wgs_split_n16|dms_attention_merge");
        assertThat(plain.matcher("dms_matmul_wgs_split_n16").matches()).isTrue();
        assertThat(plain.matcher("dms_attention_merge").matches()).isTrue();
        // Whole names only: the norm-folded product keeps its programmatic launch.
        assertThat(plain.matcher("dms_matmul_wgs_split_norm_n16").matches()).isFalse();
        assertThatThrownBy(() -> CudaContext.pdlPlain("dms_matmul_(")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(CudaContext.PDL_PLAIN_PROPERTY).hasMessageContaining("dms_matmul_(");
    }

    @Test
    void theAttentionReadsItsListsBeforeItsWaitUnlessSetOff() {
        assertThat(SystemProperty.with(CudaContext.ATTENTION_EARLY_PROPERTY, null, CudaContext::attentionEarlySetting))
                .isEqualTo("lists");
        assertThat(SystemProperty.with(CudaContext.ATTENTION_EARLY_PROPERTY, "off", CudaContext::attentionEarlySetting))
                .isEqualTo("off");
        // A bad value fails before any device work, also where CUDA cannot run (as here in CI).
        assertThatThrownBy(() -> SystemProperty.with(CudaContext.ATTENTION_EARLY_PROPERTY, "prefetch",
                () -> CudaContext.open(0, false))).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("dms.cuda.attention-early must be one of [off, lists, slots], got 'prefetch'");
    }

    @Test
    void programmaticLaunchIsOnUnlessSetToFalse() {
        assertThat(SystemProperty.with(CudaContext.PDL_PROPERTY, null, CudaContext::pdlWanted)).isTrue();
        assertThat(SystemProperty.with(CudaContext.PDL_PROPERTY, "false", CudaContext::pdlWanted)).isFalse();
        assertThatThrownBy(() -> SystemProperty.with(CudaContext.PDL_PROPERTY, "yes", CudaContext::pdlWanted))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("must be true or false, got 'yes'");
    }
}
