package io.dmsserve.engine.cuda;

import static io.dmsserve.engine.cuda.Checks.holds;
import static io.dmsserve.engine.cuda.Checks.positive;
import static io.dmsserve.engine.cuda.Checks.require;

import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * native/matmul.cu: y = x · Wᵀ for bf16 weights W (out_features, in_features) as the checkpoint stores them
 * (wq wk wv wo, w1 = gate_proj, w2 = down_proj, w3 = up_proj, lm_head; cpu/MatMul).
 *
 * <ul>
 *   <li>{@link #gemv}: n <= 8 tokens (decode), fp32 activations, bandwidth-bound: blocks of R rows, 16-byte
 *       loads of W, 2R loads in flight per thread, x through L1.</li>
 *   <li>{@link #matmul} for 9 to 64 tokens (decode batches), k a multiple of 32: the skinny kernel, bf16
 *       activations on the tensor cores with W streamed from memory straight into the mma fragments (no
 *       shared-memory tiles), 8 warps splitting k inside the block and summed in warp order.</li>
 *   <li>{@link #matmul} otherwise: any n (prefill, large decode batches), bf16 activations on the tensor cores
 *       (mma.sync m16n8k16, fp32 accumulators), 4-stage cp.async pipeline. When the tiles of 128 features do not
 *       fill the device (a decode batch: 32 tiles for a 4096-wide product) k is split across blocks whose sums
 *       a reduce kernel adds in split order: deterministic, the same for the same shape.</li>
 *   <li>{@link #matmulSplit}: the two tensor-core paths above on fp32 activations, each value a bf16 high part plus
 *       its bf16 rest, multiplied by W in two mma (the split kernels, {@code dms_matmul_*split*}): the fp32 products
 *       to about 2^-17 of each activation instead of bf16's 2^-9, for twice the mma work and twice the activation
 *       bytes (3 pipeline stages instead of 4 for the tiled kernel, its fp32 tiles being twice as large; each
 *       stage converted once into high and rest tiles that the warps read by ldmatrix). Its 128-token tiles take
 *       110 KB of shared memory (two blocks a multiprocessor on an H100 / H200); a device that cannot give a block
 *       that much takes tiles of 64 tokens (70 KB) for every n.</li>
 *   <li>On compute 9.0 (H100, H200), the products whose tiles fill the device (prefill) take the
 *       warpgroup kernels of native/matmul_sm90.cu instead ({@code dms_matmul_wg_*}): wgmma.mma_async with both tiles
 *       read from shared memory in the 128-byte swizzle, tiles of 128 tokens x 256 features (128 where 256 would not
 *       give every multiprocessor a tile), bf16 or split activations as above. Past 32 tokens (the warpgroup decode
 *       product's), the products whose tiles are fewer (decode batches of 33 and more, the server's prompt chunks of
 *       256) take them too, on tiles of 128 features with k split ({@link #wgSplits}) and the splits added in order by
 *       the reduce kernel ({@link #WG_SPLIT_K_FROM_PROPERTY}).
 *       {@link #WGMMA_PROPERTY} {@code =false} keeps the mma.sync kernels, to compare; {@link #WG_SPLIT_K_PROPERTY}
 *       {@code =false} keeps them for the split-K cases only. {@link #WG_WS_PROPERTY} {@code =true} runs the tiles
 *       of 256 features warp-specialised ({@code dms_matmul_ws_*}: a producer warpgroup filling the stages, two
 *       consumer warpgroups issuing the wgmma, mbarriers between them; the same bits).</li>
 *   <li>Where the warpgroup kernel would run on tiles of 256 features with k unsplit (the 8B model's prompt chunks),
 *       or where the tiles of 256 fill at least 7/8 of the device with k unsplit ({@link #bulkFills}), and the weight
 *       has a tile image ({@link #tileWeights}, made at load: a second copy of the weight, each
 *       128-byte-swizzled 256 x 64 tile contiguous), the bulk-copy kernels of native/matmul_sm90_bulk.cu take it
 *       instead ({@code dms_matmul_bk_*}): the activations laid out as images the same way first
 *       ({@code dms_tile_split_f32} or {@code dms_tile_rows_bf16}), then one producer thread fills each stage with two
 *       cp.async.bulk copies while two consumer warpgroups only issue wgmma; the same sums in the same order, so the
 *       same bits, 1.4x the 256-thread kernel's rate on the H200 ({@link #BULK_PROPERTY}).</li>
 *   <li>On compute 9.0, decode batches of up to 32 tokens take the warpgroup decode product of
 *       native/matmul_sm90_skinny.cu instead of the skinny kernel ({@code dms_matmul_wgs_*}, tiles of 16 tokens up
 *       to 16, of 32 past: {@link #WGS_WIDE_PROPERTY}): W streamed through
 *       shared memory by cp.async into wgmma as its 64-feature side, the tokens its N side, k split across blocks
 *       ({@link #wgsSplits}) and the splits added in order by the last block of each feature tile (deterministic);
 *       3.5 TB/s for a layer's four products at 16 tokens on the H200, where the skinny kernel reads 2.8.
 *       {@link #matmulSplitSwiGlu}: its gate|up product ending in SwiGLU, one launch where the product and
 *       {@link SwiGluKernel} take two (the same bits).</li>
 * </ul>
 */
final class MatMulKernel implements AutoCloseable {

    /**
     * The RMSNorm a product's input comes from, folded into the product (native/matmul.cu's gemv NORM,
     * native/matmul_sm90_skinny.cu's norm kernel): the product reads the residual stream x itself and computes
     * rmsnorm(x) · Wᵀ, the norm's launch saved ({@link #normFolds}).
     *
     * @param weight bf16 (k): input_layernorm / post_attention_layernorm
     */
    record Norm(DeviceBuffer weight, float eps) {
        Norm {
            require(weight != null, "a folded norm needs its weight");
            require(eps >= 0, "eps must be >= 0");
        }
    }

    static final int MAX_GEMV_TOKENS = 8;
    /**
     * The largest k a product takes: the kernels index k tiles in int (a tile's start plus its 63 or 127 columns), so
     * k stays well inside it (native DMS_MAX_K).
     */
    static final int MAX_K = 1 << 30;
    static final int MATMUL_BLOCK = 256;
    static final int MATMUL_BN = 128;
    static final int K_TILE = 32;
    private static final int[] TOKENS = {1, 2, 4, 8};
    private static final int[] ROWS = {1, 2, 4};

    private final Kernel[][] gemv = new Kernel[TOKENS.length][ROWS.length];
    private final Kernel[][] gemvSwiGlu = new Kernel[TOKENS.length][2];  // rows 2, 4: one or two (gate, up) pairs
    private final Kernel[][] gemvNorm = new Kernel[TOKENS.length][ROWS.length];  // with the norm folded in
    private final Kernel[][] gemvSwiGluNorm = new Kernel[TOKENS.length][2];
    private final Kernel wide;    // 128 tokens per block
    private final Kernel narrow;  // 64 tokens per block
    private final Kernel splitWide;    // fp32 activations as high + rest, 128 tokens per block; null where the device
                                       // cannot give a block its 110 KB (99 KB opt-in on compute 8.6 / 8.9)
    private final Kernel splitNarrow;  // the same, 64 tokens per block
    private final Kernel reduce;
    /**
     * System property: {@code false} keeps the mma.sync tiled kernels where the warpgroup (wgmma) kernels would run;
     * {@code always} gives the warpgroup kernels every product past the skinny kernel's that they can take, however
     * few its tiles (a test's way to run them on a small model); default {@code true}: the products whose tiles fill
     * the device, and past 32 tokens those whose tiles do not, with k split ({@link #WG_SPLIT_K_PROPERTY}).
     */
    static final String WGMMA_PROPERTY = "dms.cuda.wgmma";
    /**
     * System property: {@code false} keeps the mma.sync kernels (skinny up to 64 tokens, tiled with split-K past) for
     * the products past 32 tokens whose warpgroup tiles do not fill the device (decode batches of 33 and more, the
     * server's prompt chunks of 256), to compare. The default gives them the warpgroup kernels with k split ({@link #wgSplits}): on the
     * H200 a 173-token decode step's 4096 x 12288 product took 337 us on the tiled mma.sync kernel, and 173 x 32K DMS
     * decode went from 2,687-2,700 to 3,355 tokens/s, 64 HTTP streams of 511-token prompts from 537 to 743
     * (docs/benchmarks.md, seventeenth pass).
     */
    static final String WG_SPLIT_K_PROPERTY = "dms.cuda.wg-split-k";
    /**
     * System property: the fewest tokens of a product the warpgroup kernel takes with k split where the skinny kernel
     * would take it: by default 33, past the warpgroup decode product's 32 (on the H200 a decode batch of 64 with DMS
     * ran 4,003 tokens/s so against 3,299 on the skinny kernel, and each Qwen3-8B product at 48 and 64 tokens was
     * faster, skinny_bench wgs, 2026-12-01); 65 keeps the skinny kernel up to its 64 tokens. A whole number from 2
     * (below the warpgroup decode product's tokens it has no effect).
     */
    static final String WG_SPLIT_K_FROM_PROPERTY = "dms.cuda.wg-split-k-from";
    private final int wgSplitKFrom;  // WG_SPLIT_K_FROM_PROPERTY
    static final int WG_BM = 128;
    static final int WG_BK = 64;
    private final Kernel[] wg;       // bf16 activations: tiles of 256, 128 features; null off compute 9.0
    private final Kernel[] wgSplit;  // split activations
    /**
     * System property: {@code true} runs the products on tiles of 256 features on the warp-specialised kernels
     * ({@code dms_matmul_ws_{bf16,split}_n256}: a producer warpgroup filling the stages, two consumer warpgroups
     * issuing only wgmma, mbarriers between them; the same tiles and sums as the 256-thread kernels, the same bits),
     * {@code persistent} on their persistent form ({@code dms_matmul_wsp_*}: a block a multiprocessor and split, each
     * taking every grid-th tile, the same bits). The default, {@code false}, keeps the 256-thread warpgroup kernels
     * ({@code dms_matmul_wg_*_n256}, whose threads all load and multiply): on the H200 the first warp-specialised form
     * was 40-45% slower (docs/benchmarks.md, twenty-sixth pass).
     */
    static final String WG_WS_PROPERTY = "dms.cuda.wg-ws";
    static final int WS_THREADS = 384;
    private final Kernel[] ws;       // {bf16, split} warp-specialised, tiles of 256 features; null when not taken
    private final boolean wsPersistent;
    /**
     * System property: {@code true} (the default) gives the products whose weights have tile images
     * ({@link #tileWeights}; CudaBackend makes them at load for the products its largest step would give these
     * kernels, {@link #bulkWanted}) to the bulk-copy kernels where the warpgroup kernel would run on tiles of 256
     * features with k unsplit, or their tiles fill 7/8 of the device ({@link #bulkFills}); {@code always} wherever
     * the warpgroup kernels take them (the tests' small models); {@code false} keeps the 256-thread kernels and makes
     * no images (the weights' memory once, not twice). On the H200 the bulk kernels ran Qwen3-8B's prompt-chunk
     * products at 350-405 TFLOP/s split (252-274 on the 256-thread kernels) and 612-759 bf16 (429-497), the same bits
     * (docs/benchmarks.md, thirtieth pass).
     */
    static final String BULK_PROPERTY = "dms.cuda.bulk";
    static final int BULK_THREADS = 384;
    static final int BULK_BN = 256;
    private final Kernel[] bulk;       // {bf16, split}: dms_matmul_bk_*_n256; null when not taken
    private final Kernel tileRows;     // dms_tile_rows_bf16 (null with bulk)
    private final Kernel tileSplit;    // dms_tile_split_f32
    private final boolean bulkAlways;
    /** A weight's tile image ({@link #tileWeights}): the buffer and the (m, k) it was made for. */
    private record Image(DeviceBuffer buffer, int m, int k) {
    }
    private final Map<DeviceBuffer, Image> images = new IdentityHashMap<>();
    private final Set<Long> imageShapes = new HashSet<>();  // (m << 32 | k) of the images
    private final boolean wgAlways;
    private final boolean wgSplitK;  // WG_SPLIT_K_PROPERTY
    /**
     * System property: {@code false} runs the skinny product single-buffered (a warp loads 4 chunks of W, waits, then
     * multiplies), to compare. The default, double-buffered (a warp's next 2 chunks loaded before its current 2 are
     * multiplied, the same bits), measured 0.10-0.13 ms a batch-16 step faster on the H200 (run 3, 2026-11-29).
     */
    static final String SKINNY_PIPELINE_PROPERTY = "dms.cuda.skinny-pipeline";
    /** Tokens the warpgroup decode product takes: kernels {@code _n16} for 1 to 16, {@code _n32} for 17 to 32. */
    static final int MAX_WGS_TOKENS = 32;
    /**
     * System property: {@code false} leaves decode batches of 17 to 32 tokens to the mma.sync skinny kernel, to
     * compare; by default the warpgroup decode product takes them (its {@code _n32} kernels: W through shared memory,
     * 32 tokens a wgmma, two split blocks a multiprocessor).
     */
    static final String WGS_WIDE_PROPERTY = "dms.cuda.wgs-wide";
    private final boolean wgsWide;
    /**
     * System property: the warpgroup decode product's split of k for given shapes instead of {@link #wgsSplits}'s,
     * as comma-separated {@code MxK=S} (the product's features and inner size, as kernel timing labels them), e.g.
     * {@code 4096x4096=3,6144x4096=2}: the splits were chosen alone in skinny_bench (L2 warm), and in a step they may
     * do otherwise. Checked when the products are made ({@link #parseWgsSplits}). A shape's split holds for every
     * token count, both tiles of tokens (whose waves differ: 396 split blocks of 16 tokens on an H200, 264 of 32).
     */
    static final String WGS_SPLITS_PROPERTY = "dms.cuda.wgs-splits";
    private static final Pattern SPLITS_ENTRY = Pattern.compile("\\s*(\\d{1,9})x(\\d{1,9})=(\\d{1,9})\\s*");
    /** The largest inter of a gate|up product ending in SwiGLU ({@link #matmulSplitSwiGlu}): 2 inter stays an int. */
    static final int MAX_WGS_INTER = (1 << 30) - 1;
    static final int WGS_BM = 64;
    static final int WGS_BK = 64;
    /** Feature tiles a split warpgroup decode product may have: one counter each. */
    static final int WGS_COUNTERS = 4096;
    private final Kernel[][] wgs;           // decode batches on wgmma, [_n16, _n32] x [bf16, split and split with the
                                            // norm folded in, then split ending in SwiGLU without and with the norm];
                                            // null off compute 9.0
    private final DeviceBuffer wgsCounters;  // int (WGS_COUNTERS): zero between launches (the last block resets its)
    private final Kernel[][] skinny = new Kernel[3][2];  // (16, 32, 64 tokens) x (16, 32 features a block)
    private final Kernel[][] skinnySplit = new Kernel[3][2];
    private final CudaContext context;
    private final int multiprocessors;
    private final Map<Long, Integer> splitsByShape;  // WGS_SPLITS_PROPERTY: (m << 32 | k) to splits
    private DeviceBuffer workspace;  // fp32 (splits, n, m) of split-K products; grown on demand

    MatMulKernel(CudaContext context) {
        this(context, !"false".equals(System.getProperty(SKINNY_PIPELINE_PROPERTY)));
    }

    /** @param pipelined the double-buffered skinny kernels ({@code dms_matmul_skinny_p_*}) */
    MatMulKernel(CudaContext context, boolean pipelined) {
        this(context, pipelined, System.getProperty(WGMMA_PROPERTY, "true"));
    }

    /**
     * @param pipelined the double-buffered skinny kernels ({@code dms_matmul_skinny_p_*})
     * @param wgmma {@code true}, {@code false} or {@code always}: {@link #WGMMA_PROPERTY}
     */
    MatMulKernel(CudaContext context, boolean pipelined, String wgmma) {
        this(context, pipelined, wgmma, System.getProperty(WG_WS_PROPERTY, "false"));
    }

    /**
     * @param pipelined the double-buffered skinny kernels ({@code dms_matmul_skinny_p_*})
     * @param wgmma {@code true}, {@code false} or {@code always}: {@link #WGMMA_PROPERTY}
     * @param specialised {@code true}, {@code false} or {@code persistent}: {@link #WG_WS_PROPERTY}
     */
    MatMulKernel(CudaContext context, boolean pipelined, String wgmma, String specialised) {
        require(specialised.equals("true") || specialised.equals("false") || specialised.equals("persistent"),
                WG_WS_PROPERTY + " must be true, false or persistent, got '" + specialised + "'");
        this.wsPersistent = specialised.equals("persistent");
        require(wgmma.equals("true") || wgmma.equals("false") || wgmma.equals("always"),
                WGMMA_PROPERTY + " must be true, false or always, got '" + wgmma + "'");
        this.wgAlways = wgmma.equals("always");
        String bulkMode = System.getProperty(BULK_PROPERTY, "true");
        require(bulkMode.equals("true") || bulkMode.equals("false") || bulkMode.equals("always"),
                BULK_PROPERTY + " must be true, false or always, got '" + bulkMode + "'");
        this.bulkAlways = bulkMode.equals("always");
        this.wgSplitK = !"false".equals(System.getProperty(WG_SPLIT_K_PROPERTY));
        this.wgsWide = !"false".equals(System.getProperty(WGS_WIDE_PROPERTY));
        this.wgSplitKFrom = wgSplitKFrom(System.getProperty(WG_SPLIT_K_FROM_PROPERTY, ""));
        this.splitsByShape = parseWgsSplits(System.getProperty(WGS_SPLITS_PROPERTY, ""));  // before any allocation
        for (int t = 0; t < TOKENS.length; t++) {
            for (int r = 0; r < ROWS.length; r++) {
                gemv[t][r] = context.kernel(gemvName(TOKENS[t], ROWS[r]));
                gemvNorm[t][r] = context.kernel("dms_gemv_norm_bf16_t" + TOKENS[t] + "_r" + ROWS[r]);
            }
            for (int r = 0; r < 2; r++) {
                gemvSwiGlu[t][r] = context.kernel("dms_gemv_swiglu_bf16_t" + TOKENS[t] + "_r" + (2 << r));
                gemvSwiGluNorm[t][r] = context.kernel("dms_gemv_swiglu_norm_bf16_t" + TOKENS[t] + "_r" + (2 << r));
            }
        }
        this.wide = context.kernel("dms_matmul_bf16_bm128", sharedBytes(128, false));
        this.narrow = context.kernel("dms_matmul_bf16_bm64", sharedBytes(64, false));
        this.splitWide = context.info().sharedMemoryPerBlockOptin() >= sharedBytes(128, true)
                ? context.kernel("dms_matmul_split_bm128", sharedBytes(128, true)) : null;
        this.splitNarrow = context.kernel("dms_matmul_split_bm64", sharedBytes(64, true));
        this.reduce = context.kernel("dms_matmul_reduce");
        if (!wgmma.equals("false") && hasWgmma(context.info())) {
            wg = new Kernel[] {context.kernel("dms_matmul_wg_bf16_n256", wgSharedBytes(256, false)),
                context.kernel("dms_matmul_wg_bf16_n128", wgSharedBytes(128, false))};
            wgSplit = new Kernel[] {context.kernel("dms_matmul_wg_split_n256", wgSharedBytes(256, true)),
                context.kernel("dms_matmul_wg_split_n128", wgSharedBytes(128, true))};
            String prefix = wsPersistent ? "dms_matmul_wsp_" : "dms_matmul_ws_";
            ws = specialised.equals("false") ? null
                    : new Kernel[] {context.kernel(prefix + "bf16_n256", wsSharedBytes(false)),
                        context.kernel(prefix + "split_n256", wsSharedBytes(true))};
            wgs = new Kernel[2][];
            for (int b = 0; b < 2; b++) {
                int bn = 16 << b;
                String suffix = "_n" + bn;
                wgs[b] = new Kernel[] {context.kernel("dms_matmul_wgs_bf16" + suffix, wgsSharedBytes(false, bn)),
                    context.kernel("dms_matmul_wgs_split" + suffix, wgsSharedBytes(true, bn)),
                    context.kernel("dms_matmul_wgs_split_norm" + suffix, wgsSharedBytes(true, bn)),
                    context.kernel("dms_matmul_wgs_split_swiglu" + suffix, wgsSharedBytes(true, bn)),
                    context.kernel("dms_matmul_wgs_split_swiglu_norm" + suffix, wgsSharedBytes(true, bn))};
            }
            wgsCounters = context.upload(new int[WGS_COUNTERS]);
        } else {
            wg = null;
            wgSplit = null;
            ws = null;
            wgs = null;
            wgsCounters = null;
        }
        if (wg != null && !bulkMode.equals("false")
                && context.info().sharedMemoryPerBlockOptin() >= bulkSharedBytes(false)) {
            bulk = new Kernel[] {context.kernel("dms_matmul_bk_bf16_n256", bulkSharedBytes(false)),
                context.kernel("dms_matmul_bk_split_n256", bulkSharedBytes(true))};
            tileRows = context.kernel("dms_tile_rows_bf16");
            tileSplit = context.kernel("dms_tile_split_f32");
        } else {
            bulk = null;
            tileRows = null;
            tileSplit = null;
        }
        for (int i = 0; i < skinny.length; i++) {
            for (int j = 0; j < 2; j++) {
                String shape = (pipelined ? "p_" : "") + "m" + (1 << i) + "_n" + (2 << j);
                skinny[i][j] = context.kernel("dms_matmul_skinny_" + shape);
                skinnySplit[i][j] = context.kernel("dms_matmul_skinny_split_" + shape);
            }
        }
        this.context = context;
        this.multiprocessors = context.info().multiprocessors();
    }

    static String gemvName(int tokens, int rows) {
        return "dms_gemv_bf16_t" + tokens + "_r" + rows;
    }

    /**
     * The stages of an A tile (bm, 32 + 8) and a W tile (128, 32 + 8), bf16: 4 of them; split, 3 with the A tile
     * fp32, and the current stage's A converted to a bf16 high and a bf16 rest tile (native/matmul.cu,
     * matmul_smem_bytes).
     */
    static int sharedBytes(int bm, boolean split) {
        return split ? 3 * (bm * 40 * 4 + MATMUL_BN * 40 * 2) + 2 * bm * 40 * 2 : 4 * (bm + MATMUL_BN) * 40 * 2;
    }

    /**
     * Whether the device runs the warpgroup kernels: compute 9.0 (their sm_90a code; elsewhere the fatbin's builds of
     * them trap) with room for their shared memory.
     */
    static boolean hasWgmma(DeviceInfo info) {
        return info.runsSm90a() && info.sharedMemoryPerBlockOptin() >= wgSharedBytes(256, false);
    }

    /**
     * A warpgroup kernel's stages (4; split with tiles of 256 features, 3) of a 128 x 64 bf16 A tile (split: a high and
     * a rest tile) and a (bn x 64) bf16 W tile, plus 1024 bytes to align them (native/matmul_sm90.cu,
     * matmul_wg_smem_bytes).
     */
    static int wgSharedBytes(int bn, boolean split) {
        return wgStages(bn, split) * ((split ? 2 : 1) * WG_BM * 64 * 2 + bn * 64 * 2) + 1024;
    }

    private static int wgStages(int bn, boolean split) {
        return split && bn == 256 ? 3 : 4;
    }

    /**
     * The warp-specialised kernel's shared memory: the 256-feature warpgroup kernel's stages and, after them, a full
     * and an empty mbarrier of 8 bytes a stage (native/matmul_sm90.cu, matmul_ws_smem_bytes).
     */
    static int wsSharedBytes(boolean split) {
        return wgSharedBytes(256, split) + 2 * wgStages(256, split) * 8;
    }

    /**
     * The bulk-copy kernel's shared memory: its stages (3 of a split A k tile and a W k tile, 64 KB; 4 of 48 KB bf16),
     * 1024 bytes to align them, then a full and an empty mbarrier of 8 bytes a stage (native/matmul_sm90_bulk.cu,
     * matmul_bk_smem_bytes).
     */
    static int bulkSharedBytes(boolean split) {
        int stages = split ? 3 : 4;
        return stages * ((split ? 2 : 1) * WG_BM * WG_BK * 2 + BULK_BN * WG_BK * 2) + 1024 + 2 * stages * 8;
    }

    /**
     * Bytes of the tile image of {@code rows} rows of k columns in tiles of {@code tileRows} rows by 64, bf16 (twice
     * that split: the high image and the rest image), partial tiles padded (matmul_bk_image_bytes).
     */
    static long imageBytes(long rows, long k, int tileRows, boolean split) {
        return (long) Checks.ceilDiv(rows, tileRows) * Checks.ceilDiv(k, WG_BK) * tileRows * WG_BK * 2 * (split ? 2 : 1);
    }

    /** Whether a weight of inner size k can have a tile image: k a multiple of 8, at most 65535 k tiles of 64. */
    static boolean tileable(int k) {
        return k >= 8 && k % 8 == 0 && Checks.ceilDiv(k, WG_BK) <= 65535;
    }

    /** Whether products may take the bulk-copy kernels here (compute 9.0, {@link #BULK_PROPERTY} not false). */
    boolean bulkEnabled() {
        return bulk != null;
    }

    /**
     * Makes the tile image of the weight w (m, k) bf16 that the bulk-copy kernels read in its place, on the device
     * (its bytes once more: {@link #imageBytes} with tiles of 256 rows); the image lives as long as this object. A
     * weight given twice keeps its first image.
     *
     * @return the image's bytes
     */
    long tileWeights(DeviceBuffer w, int m, int k) {
        require(bulk != null, "tile images are for the bulk-copy products (compute 9.0, " + BULK_PROPERTY
                + " not false)");
        positive(m, "m");
        kRange(k);
        require(tileable(k), "a tile image needs k a multiple of 8 and at most 65535 tiles of 64, got k = " + k);
        require(w.aligned(16), "a tile image needs a 16-byte aligned weight");
        holds(w, (long) m * k, 2, "w (m, k) bf16");
        Image known = images.get(w);
        if (known != null) {
            require(known.m() == m && known.k() == k, "the weight already has an image of " + known.m() + " x "
                    + known.k() + ", not " + m + " x " + k);
            return 0;
        }
        long bytes = imageBytes(m, k, BULK_BN, false);
        DeviceBuffer image = context.allocate(bytes);
        tileRows.launch(Checks.ceilDiv(m, BULK_BN), Checks.ceilDiv(k, WG_BK), 1, 256, 0,
                new KernelArgs().ptr(w).i32(k).i32(m).i32(k).i32(BULK_BN).ptr(image));
        images.put(w, new Image(image, m, k));
        imageShapes.add((long) m << 32 | k);
        return bytes;
    }

    /**
     * Whether the bulk-copy kernels take a product of this shape once its weight has an image (aligned operands
     * assumed): where the warpgroup kernel would run on tiles of 256 features with k unsplit, where those tiles fill
     * 7/8 of the device ({@link #bulkFills}), or wherever it runs under {@code always}.
     */
    private boolean bulkRule(int n, int m, int k, int lda) {
        return bulk != null && wgTakes(n, m, k, lda) && tileable(k)
                && (bulkAlways || wgTileFor(n, m) == BULK_BN && wgSplitsFor(n, m, k) == 1 || bulkFills(n, m, k));
    }

    /**
     * Whether the bulk kernel's tiles of 128 tokens by 256 features fill at least 7/8 of the multiprocessors, though
     * fewer than all of them (where the warpgroup kernel takes tiles of 128 features): o and down of the 8B model at
     * 1,024 tokens a step (8 x 16 = 128 tiles on 132). On the H200 a 4K DMS prompt in chunks of 1,024 ran 13,260-13,688
     * tokens/s with them on the bulk kernels against 11,265-11,665 on the warpgroup kernel (docs/benchmarks.md,
     * thirty-first pass). Only where the warpgroup kernel would not split k (a decode batch's product that it splits
     * stays there: not measured on the bulk kernels).
     */
    private boolean bulkFills(int n, int m, int k) {
        long tiles = (long) Checks.ceilDiv(n, WG_BM) * Checks.ceilDiv(m, BULK_BN);
        return tiles < multiprocessors && 8 * tiles >= 7L * multiprocessors && wgSplitsFor(n, m, k) == 1;
    }

    /**
     * The fewest tokens a step must be able to take for {@link #bulkWanted} to make an image: eight token tiles. An
     * image is the weight's bytes again, taken from the KV pool, so short steps do not get one even where their tiles
     * would fill the device (gate|up of the 8B model from 129 tokens: 2 x 96 tiles; 7.25 GB at the server's default
     * 256-token steps).
     */
    static final int MIN_IMAGE_STEP = 8 * WG_BM;

    /**
     * Whether a step of up to {@code tokens} tokens would give a product of this shape to the bulk-copy kernels once its
     * weight had a tile image, and is long enough ({@link #MIN_IMAGE_STEP}) that one is worth making
     * ({@link #tileWeights}): on an H200 all four of the 8B model's products from 1,024 tokens a step (o and down: 8
     * token tiles x 16 feature tiles, {@link #bulkFills}), none at the server's default 256.
     */
    boolean bulkWanted(int tokens, int m, int k) {
        return tokens >= MIN_IMAGE_STEP && tileable(k) && bulkRule(tokens, m, k, k);
    }

    /** Whether {@link #matmul} and {@link #matmulSplit} give this product to the bulk-copy kernels. */
    boolean bulkTakes(int n, int m, int k, int lda, DeviceBuffer w) {
        Image image = images.get(w);
        return image != null && image.m() == m && image.k() == k && bulkRule(n, m, k, lda);
    }

    /**
     * The feature tile of the warpgroup kernel for a product of these sizes: 256 when those tiles give every
     * multiprocessor one, else 128 when those do, else 0 (too few tiles: the warpgroup kernel splits k from
     * {@link #WG_SPLIT_K_FROM_PROPERTY}'s 33 tokens, {@link #wgSplits}, and below the warpgroup decode product, the
     * skinny kernels or the mma.sync ones take it).
     */
    static int wgTile(int n, int m, int multiprocessors) {
        long rows = Checks.ceilDiv(n, WG_BM);
        if (rows * Checks.ceilDiv(m, 256) >= multiprocessors) {
            return 256;
        }
        return rows * Checks.ceilDiv(m, 128) >= multiprocessors ? 128 : 0;
    }

    /**
     * How many ways the warpgroup kernel splits k for a product whose tiles of {@code bn} features do not fill the
     * device: the most splits whose blocks still fit in one wave (one block a multiprocessor: the kernel's shared
     * memory), each split at least 4 tiles of 64, at most 16. With one block a multiprocessor, blocks past a wave would
     * run a second one: 96 tiles unsplit take as long as 192 half-length blocks in two waves, without the reduce.
     * Tiles that fill the device: 1, but for a decode batch of up to 64 tokens whose tiles fill one wave and part of a
     * second, 2 where two splits fill the last wave strictly better (192 tiles on 132 multiprocessors leave the second
     * wave 45% full, 384 half-length blocks fill 97% of three: gate|up at 64 tokens, 159 us against 184 on the H200,
     * skinny_bench wgs 64, 2026-12-01). Larger batches and prefill, not measured so, keep 1.
     */
    static int wgSplits(int n, int m, int k, int bn, int multiprocessors) {
        long tiles = (long) Checks.ceilDiv(n, WG_BM) * Checks.ceilDiv(m, bn);
        int most = Math.max(1, Checks.ceilDiv(k, WG_BK) / 4);
        if (tiles >= multiprocessors) {
            if (n > MAX_SKINNY_TOKENS || tiles >= 2L * multiprocessors || most < 2) {
                return 1;
            }
            // fill of the last wave, one split against two: tiles / (waves wave) as fractions, cross-multiplied
            long one = Checks.ceilDiv(tiles, multiprocessors);
            long two = Checks.ceilDiv(2 * tiles, multiprocessors);
            return 2 * tiles * one > tiles * two ? 2 : 1;
        }
        return (int) Math.max(1, Math.min(Math.min(most, 16), multiprocessors / tiles));
    }

    /** The warpgroup decode product's tile of tokens for n tokens: 16 up to 16, else 32. */
    static int wgsTile(int n) {
        return n <= 16 ? 16 : 32;
    }

    /**
     * The warpgroup decode product's stages (10 bf16, 5 split) of a 64 x 64 bf16 W tile and the tokens' bn x 64 tile
     * (bf16, or fp32 when split), split's three pairs of bf16 high and rest tiles, plus 1024 bytes to align them
     * (native/matmul_sm90_skinny.cu, matmul_wgs_smem_bytes): on an H100 / H200 two bf16 blocks or three split ones a
     * multiprocessor for tiles of 16 tokens, one bf16 or two split for tiles of 32.
     */
    static int wgsSharedBytes(boolean split, int bn) {
        int stages = split ? 5 : 10;
        return stages * (WGS_BM * WGS_BK * 2 + bn * WGS_BK * (split ? 4 : 2))
                + (split ? 3 * 2 * bn * WGS_BK * 2 : 0) + 1024;
    }

    /**
     * Blocks of the warpgroup decode product a multiprocessor runs at once, a wave for {@link #wgsSplits}
     * (native/matmul_sm90_skinny.cu, matmul_wgs_wave_blocks): bf16 one (they measured fastest so), split three for
     * tiles of 16 tokens and two for tiles of 32 (their shared memory).
     */
    static int wgsWaveBlocks(boolean split, int bn) {
        return split ? (bn == 16 ? 3 : 2) : 1;
    }

    /**
     * How many ways the warpgroup decode product splits k (native/matmul_sm90_skinny.cu, matmul_wgs_splits), at most 8
     * with at least 4 tiles of 64 each. A wave is {@link #wgsWaveBlocks} a multiprocessor: one for bf16 activations,
     * three for split ones in tiles of 16 tokens, two in tiles of 32. Fewer feature tiles than a wave: the most splits
     * whose blocks fit in one wave; otherwise the split whose blocks fill the last of their waves best, the fewest among
     * equals. On the H200 this picks the fastest split of
     * each Qwen3-8B product at 16 tokens but split o, 3% slower than its best (skinny_bench wgs, 2026-11-30).
     */
    static int wgsSplits(int m, int k, int multiprocessors, boolean split) {
        return wgsSplits(m, k, multiprocessors, split, 16);
    }

    /** As above for a product of n tokens (a wave of {@link #wgsWaveBlocks} of its tile). */
    static int wgsSplits(int m, int k, int multiprocessors, boolean split, int n) {
        long tiles = Checks.ceilDiv(m, WGS_BM);
        int kTiles = Checks.ceilDiv(k, WGS_BK);
        int most = Math.max(1, Math.min(8, kTiles / 4));
        long wave = (long) multiprocessors * wgsWaveBlocks(split, wgsTile(n));
        if (tiles <= wave) {
            return (int) Math.max(1, Math.min(most, wave / tiles));
        }
        int best = 1;
        long bestNum = 0;
        long bestDen = 1;
        for (int s = 1; s <= most; s++) {
            long blocks = tiles * s;
            long den = (blocks + wave - 1) / wave * wave;
            if (blocks * bestDen > bestNum * den) {
                best = s;
                bestNum = blocks;
                bestDen = den;
            }
        }
        return best;
    }

    /**
     * This device's split of k for the warpgroup decode product of n tokens on m x k: {@link #WGS_SPLITS_PROPERTY}'s,
     * else {@link #wgsSplits}'s.
     */
    int wgsSplitsFor(int m, int k, boolean split, int n) {
        Integer chosen = splitsByShape.get((long) m << 32 | k);
        return chosen != null ? chosen : wgsSplits(m, k, multiprocessors, split, n);
    }

    /**
     * {@link #WGS_SPLITS_PROPERTY}'s value as (m << 32 | k) to splits: empty for an empty value.
     *
     * @throws IllegalArgumentException naming the property and the entry: not {@code MxK=S} with positive whole
     *     numbers, S past ceil(K / 64), more than one split of a product with more than {@link #WGS_COUNTERS} tiles of
     *     64 features, or a shape named twice
     */
    static Map<Long, Integer> parseWgsSplits(String value) {
        Map<Long, Integer> splits = new HashMap<>();
        if (value.isBlank()) {
            return splits;
        }
        for (String entry : value.split(",", -1)) {
            Matcher match = SPLITS_ENTRY.matcher(entry);
            if (!match.matches()) {
                throw new IllegalArgumentException(WGS_SPLITS_PROPERTY + ": '" + entry.strip()
                        + "' is not MxK=S (for example 4096x4096=3)");
            }
            int m = Integer.parseInt(match.group(1));
            int k = Integer.parseInt(match.group(2));
            int s = Integer.parseInt(match.group(3));
            if (m < 1 || k < 1 || s < 1 || s > Checks.ceilDiv(k, WGS_BK)) {
                throw new IllegalArgumentException(WGS_SPLITS_PROPERTY + ": '" + entry.strip()
                        + "' needs M, K >= 1 and S in [1, ceil(K / 64)]");
            }
            if (s > 1 && Checks.ceilDiv(m, WGS_BM) > WGS_COUNTERS) {
                throw new IllegalArgumentException(WGS_SPLITS_PROPERTY + ": '" + entry.strip() + "' splits a product of"
                        + " more than " + WGS_COUNTERS + " tiles of 64 features");
            }
            if (splits.put((long) m << 32 | k, s) != null) {
                throw new IllegalArgumentException(WGS_SPLITS_PROPERTY + ": " + m + "x" + k + " is named twice");
            }
        }
        return splits;
    }

    /**
     * Whether the warpgroup decode product takes this product (aligned operands assumed): compute 9.0, 1 to
     * {@link #MAX_WGS_TOKENS} tokens (17 and more only under {@link #WGS_WIDE_PROPERTY}), k and lda >= k multiples of 8,
     * and a counter for every feature tile when it splits k.
     */
    boolean wgsTakes(boolean split, int n, int m, int k, int lda) {
        return wgs != null && n >= 1 && n <= wgsMaxTokens() && k >= 8 && k % 8 == 0 && lda >= k
                && lda % 8 == 0 && (Checks.ceilDiv(m, WGS_BM) <= WGS_COUNTERS || wgsSplitsFor(m, k, split, n) == 1);
    }

    /** Whether the warpgroup kernels take this product (aligned operands assumed). */
    boolean wgTakes(int n, int m, int k, int lda) {
        return wg != null && k % 8 == 0 && lda % 8 == 0
                && (wgAlways || wgTile(n, m, multiprocessors) > 0
                        || wgSplitK && n >= Math.min(wgSplitKFrom, MAX_SKINNY_TOKENS + 1));
    }

    /**
     * The warpgroup kernel's feature tile for a product it takes: 128 where its tiles do not fill the device (k split
     * from {@link #WG_SPLIT_K_FROM_PROPERTY}'s tokens, or {@code always}): more, shorter blocks.
     */
    int wgTileFor(int n, int m) {
        int bn = wgTile(n, m, multiprocessors);
        return bn > 0 ? bn : 128;
    }

    /** The warpgroup kernel's split of k for a product it takes ({@link #wgSplits}; 1 under wg-split-k=false). */
    int wgSplitsFor(int n, int m, int k) {
        return wgSplitK ? wgSplits(n, m, k, wgTileFor(n, m), multiprocessors) : 1;
    }

    /**
     * y (n, m) = x (n, k) · Wᵀ, or y += when accumulate (the residual add of wo and w2).
     *
     * @param x fp32 rows of stride ldx
     * @param w bf16 (m, k)
     * @param y fp32 rows of stride ldy
     */
    void gemv(DeviceBuffer x, int ldx, DeviceBuffer w, DeviceBuffer y, int ldy, int n, int m, int k,
            boolean accumulate) {
        gemv(x, ldx, w, y, ldy, n, m, k, accumulate, null);
    }

    /**
     * As above on rmsnorm(x) when {@code norm} is given: x is then the residual stream, normed inside the product
     * (the last bits differ from {@link RmsNormKernel} then the product: the scale comes after the sums).
     */
    void gemv(DeviceBuffer x, int ldx, DeviceBuffer w, DeviceBuffer y, int ldy, int n, int m, int k,
            boolean accumulate, Norm norm) {
        require(n >= 1 && n <= MAX_GEMV_TOKENS, "gemv takes 1 to " + MAX_GEMV_TOKENS + " tokens, got " + n);
        positive(m, "m");
        kRange(k);
        require(ldx >= k && ldy >= m, "row strides must cover the rows (ldx >= k, ldy >= m)");
        holds(x, Checks.rows(n, ldx, k), 4, "x (n, k) fp32");
        holds(w, (long) m * k, 2, "w (m, k) bf16");
        holds(y, Checks.rows(n, ldy, m), 4, "y (n, m) fp32");
        int rows = rowsPerBlock(m, multiprocessors);
        int tokens = n <= 1 ? 1 : n <= 2 ? 2 : n <= 4 ? 4 : 8;
        holdsNorm(norm, k);
        Kernel kernel = (norm != null ? gemvNorm : gemv)[index(TOKENS, tokens)][index(ROWS, rows)];
        KernelArgs args = new KernelArgs().ptr(x).i32(ldx).ptr(w).ptr(y).i32(ldy).i32(n).i32(m).i32(k)
                .i32(accumulate ? 1 : 0);
        kernel.launch(Checks.ceilDiv(m, rows), 1, 1, gemvBlock(k), 0, norm != null ? normArgs(args, norm) : args);
    }

    private static void kRange(int k) {
        require(k >= 1 && k <= MAX_K, "k must be in [1, " + MAX_K + "], got " + k);
    }

    private static void holdsNorm(Norm norm, int k) {
        if (norm != null) {
            holds(norm.weight(), k, 2, "norm weight (k) bf16");
        }
    }

    private static KernelArgs normArgs(KernelArgs args, Norm norm) {
        return args.ptr(norm.weight()).f32(norm.eps());
    }

    /**
     * h (n, inter) = silu(x · W1ᵀ) ⊙ (x · W3ᵀ) for the fused w1|w3 (2 inter, k): {@link #gemv} of the 2 inter rows and
     * then {@link SwiGluKernel}'s formula, bit for bit, in one launch (each block sums a feature's gate and up rows).
     *
     * @param x fp32 rows of stride ldx
     * @param w13 bf16 (2 inter, k): gate rows, then up rows
     * @param h fp32 rows of stride ldh
     */
    void gemvSwiGlu(DeviceBuffer x, int ldx, DeviceBuffer w13, DeviceBuffer h, int ldh, int n, int inter, int k) {
        gemvSwiGlu(x, ldx, w13, h, ldh, n, inter, k, null);
    }

    /** As above on rmsnorm(x) when {@code norm} is given, as {@link #gemv(DeviceBuffer, int, DeviceBuffer,
     * DeviceBuffer, int, int, int, int, boolean, Norm)}. */
    void gemvSwiGlu(DeviceBuffer x, int ldx, DeviceBuffer w13, DeviceBuffer h, int ldh, int n, int inter, int k,
            Norm norm) {
        require(n >= 1 && n <= MAX_GEMV_TOKENS, "gemv takes 1 to " + MAX_GEMV_TOKENS + " tokens, got " + n);
        positive(inter, "inter");
        kRange(k);
        require(ldx >= k && ldh >= inter, "row strides must cover the rows (ldx >= k, ldh >= inter)");
        holds(x, Checks.rows(n, ldx, k), 4, "x (n, k) fp32");
        holds(w13, 2L * inter * k, 2, "w13 (2 inter, k) bf16");
        holds(h, Checks.rows(n, ldh, inter), 4, "h (n, inter) fp32");
        int rows = Math.max(2, rowsPerBlock(2 * inter, multiprocessors));
        int tokens = n <= 1 ? 1 : n <= 2 ? 2 : n <= 4 ? 4 : 8;
        holdsNorm(norm, k);
        Kernel kernel = (norm != null ? gemvSwiGluNorm : gemvSwiGlu)[index(TOKENS, tokens)][rows == 2 ? 0 : 1];
        KernelArgs args = new KernelArgs().ptr(x).i32(ldx).ptr(w13).ptr(h).i32(ldh).i32(n).i32(inter).i32(k);
        kernel.launch(Checks.ceilDiv(inter, rows / 2), 1, 1, gemvBlock(k), 0,
                norm != null ? normArgs(args, norm) : args);
    }

    /**
     * c (n, m) = a (n, k) · Wᵀ on the tensor cores, or c += when accumulate.
     *
     * @param a bf16 rows of stride lda
     * @param w bf16 (m, k)
     * @param c fp32 rows of stride ldc
     */
    void matmul(DeviceBuffer a, int lda, DeviceBuffer w, DeviceBuffer c, int ldc, int n, int m, int k,
            boolean accumulate) {
        product(false, a, lda, w, c, ldc, n, m, k, accumulate);
    }

    /**
     * As {@link #matmul} on fp32 activations, each split into a bf16 high part and its bf16 rest.
     *
     * @param a fp32 rows of stride lda
     */
    void matmulSplit(DeviceBuffer a, int lda, DeviceBuffer w, DeviceBuffer c, int ldc, int n, int m, int k,
            boolean accumulate) {
        product(true, a, lda, w, c, ldc, n, m, k, accumulate);
    }

    /**
     * Whether a product of these sizes on this input can take its RMSNorm folded in: the GEMV ({@code small}), or on
     * split activations the warpgroup decode product (compute 9.0, 1 to 32 tokens, a and w 16-byte aligned). The
     * other kernels take a normed input.
     */
    boolean normFolds(boolean small, boolean split, DeviceBuffer a, int lda, DeviceBuffer w, int n, int m, int k,
            DeviceBuffer weight) {
        return weight.aligned(16) && (small ? n >= 1 && n <= MAX_GEMV_TOKENS
                : split && wgsTakes(true, n, m, k, lda) && a.aligned(16) && w.aligned(16));
    }

    /**
     * {@link #matmulSplit} on rmsnorm(a), a the residual stream, the norm folded into the warpgroup decode product
     * (where {@link #normFolds} holds).
     */
    void matmulSplit(DeviceBuffer a, int lda, DeviceBuffer w, DeviceBuffer c, int ldc, int n, int m, int k,
            boolean accumulate, Norm norm) {
        require(norm != null && normFolds(false, true, a, lda, w, n, m, k, norm.weight()),
                "the norm folds only into the warpgroup decode product of 1 to " + MAX_WGS_TOKENS + " tokens");
        warpgroupSkinny(true, a, lda, w, c, ldc, n, m, k, accumulate, wgsSplitsFor(m, k, true, n), norm);
    }

    /**
     * Whether {@link #matmulSplitSwiGlu} takes the gate|up product of these sizes: where {@link #matmulSplit} of its
     * 2 inter rows takes the warpgroup decode product (compute 9.0, 1 to 32 tokens, k and ldx >= k multiples of 8, x
     * and w13 16-byte aligned), with the norm where {@link #normFolds} holds for that product. Elsewhere the product
     * and {@link SwiGluKernel} run apart.
     */
    boolean wgsSwiGluTakes(DeviceBuffer x, int ldx, DeviceBuffer w13, int n, int inter, int k, Norm norm) {
        return inter >= 1 && inter <= MAX_WGS_INTER && wgsTakes(true, n, 2 * inter, k, ldx) && x.aligned(16)
                && w13.aligned(16) && (norm == null || normFolds(false, true, x, ldx, w13, n, 2 * inter, k,
                        norm.weight()));
    }

    /**
     * h (n, inter) = silu(x · W1ᵀ) ⊙ (x · W3ᵀ) for the fused w1|w3 on split activations: {@link #matmulSplit} of the
     * 2 inter rows (on rmsnorm(x) when {@code norm} is given) then {@link SwiGluKernel}, bit for bit, in one launch of
     * the warpgroup decode product (where {@link #wgsSwiGluTakes} holds) with the same split of k and workspace.
     *
     * @param x fp32 rows of stride ldx (the residual stream when {@code norm} is given)
     * @param w13 bf16 (2 inter, k): gate rows, then up rows
     * @param h fp32 rows of stride ldh: the gate|up buffer's first half (ldh = 2 inter) in the forward pass
     * @param norm the RMSNorm folded in, or null
     */
    void matmulSplitSwiGlu(DeviceBuffer x, int ldx, DeviceBuffer w13, DeviceBuffer h, int ldh, int n, int inter, int k,
            Norm norm) {
        require(wgsSwiGluTakes(x, ldx, w13, n, inter, k, norm), "the gate|up product ends in SwiGLU only in the"
                + " warpgroup decode product of 1 to " + MAX_WGS_TOKENS + " split tokens (compute 9.0), got n = " + n
                + ", inter = " + inter + ", k = " + k + ", ldx = " + ldx);
        warpgroupSkinnySwiGlu(x, ldx, w13, h, ldh, n, inter, k, wgsSplitsFor(2 * inter, k, true, n), norm);
    }

    /**
     * The warpgroup decode product of the fused w1|w3 ending in SwiGLU alone (compute 9.0), k split {@code splits}
     * ways: {@link #warpgroupSkinny} of the 2 inter rows on split activations then {@link SwiGluKernel}, bit for bit
     * (each block takes 32 features' gate and up rows, so a thread holds both sums of a feature). No accumulate.
     *
     * @param splits 1 to ceil(k / 64), as for the plain product of 2 inter rows
     */
    void warpgroupSkinnySwiGlu(DeviceBuffer x, int ldx, DeviceBuffer w13, DeviceBuffer h, int ldh, int n, int inter,
            int k, int splits, Norm norm) {
        require(norm == null || norm.weight().aligned(16), "a folded norm's weight must be 16-byte aligned");
        require(wgs != null, "the warpgroup products need a compute 9.0 device (and " + WGMMA_PROPERTY + " not false)");
        require(n >= 1 && n <= MAX_WGS_TOKENS, "the warpgroup decode product takes 1 to " + MAX_WGS_TOKENS
                + " tokens, got " + n);
        require(inter >= 1 && inter <= MAX_WGS_INTER, "inter must be in [1, " + MAX_WGS_INTER + "], got " + inter);
        int m = 2 * inter;
        require(ldh >= inter, "h's row stride must cover its rows (ldh >= inter), got " + ldh);
        requireWarpgroupLayout(x, ldx, w13, ldh, inter, k);
        int tiles = Checks.ceilDiv(m, WGS_BM);
        require(splits >= 1 && splits <= Checks.ceilDiv(k, WGS_BK),
                "splits must be in [1, ceil(k / 64)], got " + splits);
        require(splits == 1 || tiles <= WGS_COUNTERS, "a split product takes at most " + WGS_COUNTERS + " tiles of 64");
        holds(x, Checks.rows(n, ldx, k), 4, "x (n, k) fp32");
        holds(w13, (long) m * k, 2, "w13 (2 inter, k) bf16");
        holds(h, Checks.rows(n, ldh, inter), 4, "h (n, inter) fp32");
        holdsNorm(norm, k);
        DeviceBuffer partial = splits > 1 ? workspace(wgsWorkspaceBytes(m, splits)) : null;
        KernelArgs args = new KernelArgs().ptr(x).i32(ldx).ptr(w13).ptr(h).i32(ldh).i32(n).i32(inter).i32(k)
                .i32(splits).ptr(partial).ptr(splits > 1 ? wgsCounters : null);
        wgsKernel(n, norm != null ? 4 : 3).launch(tiles * splits, 1, 1, 128, wgsSharedBytes(true, wgsTile(n)),
                norm != null ? normArgs(args, norm) : args);
    }

    private void product(boolean split, DeviceBuffer a, int lda, DeviceBuffer w, DeviceBuffer c, int ldc, int n, int m,
            int k, boolean accumulate) {
        if (wgsTakes(split, n, m, k, lda) && a.aligned(16) && w.aligned(16)) {
            warpgroupSkinny(split, a, lda, w, c, ldc, n, m, k, accumulate, wgsSplitsFor(m, k, split, n));
        } else if (skinnyTakes(n, k, lda) && !splitKBeforeSkinny(n, m, k, lda) && a.aligned(16) && w.aligned(16)) {
            skinny(split, a, lda, w, c, ldc, n, m, k, accumulate);
        } else if (bulkTakes(n, m, k, lda, w) && a.aligned(16) && w.aligned(16)) {
            bulk(split, a, lda, w, c, ldc, n, m, k, accumulate);
        } else if (wgTakes(n, m, k, lda) && a.aligned(16) && w.aligned(16)) {
            warpgroup(split, a, lda, w, c, ldc, n, m, k, accumulate, wgTileFor(n, m), wgSplitsFor(n, m, k));
        } else {
            matmul(split, a, lda, w, c, ldc, n, m, k, accumulate, splits(n, m, k, multiprocessors));
        }
    }

    static final int MAX_SKINNY_TOKENS = 64;

    /** Feature tiles of 8 a skinny block takes: 4, or 2 when blocks of 32 would not give two per multiprocessor. */
    static int skinnyTiles(int m, int multiprocessors) {
        return Checks.ceilDiv(m, 32) < 2 * multiprocessors ? 2 : 4;
    }

    /** {@link #WG_SPLIT_K_FROM_PROPERTY}'s value: 33 when empty. */
    static int wgSplitKFrom(String value) {
        if (value.isBlank()) {
            return MAX_WGS_TOKENS + 1;
        }
        try {
            int from = Integer.parseInt(value.strip());
            if (from >= 2) {
                return from;
            }
        } catch (NumberFormatException e) {
            // below
        }
        throw new IllegalArgumentException(WG_SPLIT_K_FROM_PROPERTY + " must be a whole number from 2, got '" + value
                + "'");
    }

    /** Whether a product the skinny kernel could take goes to the warpgroup kernel with k split instead. */
    private boolean splitKBeforeSkinny(int n, int m, int k, int lda) {
        return wgSplitK && n >= wgSplitKFrom && wgTakes(n, m, k, lda);
    }

    /** Whether {@link #matmul} takes the skinny kernel for these sizes (given 16-byte aligned a and w). */
    static boolean skinnyTakes(int n, int k, int lda) {
        return n <= MAX_SKINNY_TOKENS && k % 32 == 0 && lda % 8 == 0;
    }

    /**
     * The skinny kernel alone: n <= 64, k % 32 == 0, lda % 8 == 0, a and w 16-byte aligned.
     *
     * @param split a is fp32 (the split kernel), else bf16
     */
    void skinny(boolean split, DeviceBuffer a, int lda, DeviceBuffer w, DeviceBuffer c, int ldc, int n, int m, int k,
            boolean accumulate) {
        require(n >= 1 && n <= MAX_SKINNY_TOKENS, "the skinny product takes 1 to 64 tokens, got " + n);
        positive(m, "m");
        require(k >= 32 && k % 32 == 0, "the skinny product needs k a multiple of 32, got " + k);
        kRange(k);
        require(lda >= k && lda % 8 == 0 && ldc >= m,
                "row strides must cover the rows (lda >= k, lda % 8 == 0, ldc >= m)");
        require(a.aligned(16) && w.aligned(16), "the skinny product needs 16-byte aligned a and w");
        holdsOperands(split, a, lda, w, c, ldc, n, m, k);
        int tiles = skinnyTiles(m, multiprocessors);
        Kernel kernel = (split ? skinnySplit : skinny)[n <= 16 ? 0 : n <= 32 ? 1 : 2][tiles == 2 ? 0 : 1];
        kernel.launch(Checks.ceilDiv(m, 8 * tiles), 1, 1, 256, 0, new KernelArgs().ptr(a).i32(lda).ptr(w).ptr(c)
                .i32(ldc).i32(n).i32(m).i32(k).i32(accumulate ? 1 : 0));
    }

    /**
     * The warpgroup kernel alone (compute 9.0): k % 8 == 0, lda % 8 == 0, a and w 16-byte aligned.
     *
     * @param split a is fp32 (the split kernel), else bf16
     * @param bn the feature tile, 256 or 128
     */
    void warpgroup(boolean split, DeviceBuffer a, int lda, DeviceBuffer w, DeviceBuffer c, int ldc, int n, int m, int k,
            boolean accumulate, int bn) {
        warpgroup(split, a, lda, w, c, ldc, n, m, k, accumulate, bn, 1);
    }

    /**
     * As above with k split {@code splits} ways (fewer when k has fewer tiles of 64): each split's sums go to the
     * workspace and {@code dms_matmul_reduce} adds them in split order (deterministic).
     */
    void warpgroup(boolean split, DeviceBuffer a, int lda, DeviceBuffer w, DeviceBuffer c, int ldc, int n, int m, int k,
            boolean accumulate, int bn, int splits) {
        require(wg != null, "the warpgroup products need a compute 9.0 device (and " + WGMMA_PROPERTY + " not false)");
        require(bn == 256 || bn == 128, "the warpgroup products take tiles of 256 or 128 features, got " + bn);
        require(splits >= 1 && splits <= 65535, "splits must be in [1, 65535], got " + splits);
        positive(n, "n");
        positive(m, "m");
        requireWarpgroupLayout(a, lda, w, ldc, m, k);
        long tiles = (long) Checks.ceilDiv(n, WG_BM) * Checks.ceilDiv(m, bn);
        require(tiles <= Integer.MAX_VALUE, "too many tiles for one launch: " + tiles);
        holdsOperands(split, a, lda, w, c, ldc, n, m, k);
        int kTiles = Checks.ceilDiv(k, WG_BK);
        int perSplit = Checks.ceilDiv(kTiles, splits);
        splits = splitsUsed(kTiles, splits);
        DeviceBuffer partial = splits > 1 ? workspace(splitBytes(splits, n, m)) : null;
        boolean specialised = bn == 256 && ws != null;
        Kernel kernel = specialised ? ws[split ? 1 : 0] : (split ? wgSplit : wg)[bn == 256 ? 0 : 1];
        int blocks = specialised && wsPersistent ? (int) Math.min(tiles, multiprocessors) : (int) tiles;
        kernel.launch(blocks, splits, 1, specialised ? WS_THREADS : 256,
                specialised ? wsSharedBytes(split) : wgSharedBytes(bn, split),  // x 1-D: the kernel orders its tiles
                new KernelArgs().ptr(a).i32(lda).ptr(w).ptr(c).i32(ldc).i32(n).i32(m).i32(k).i32(accumulate ? 1 : 0)
                        .i32(perSplit).ptr(partial));
        reduceSplits(partial, splits, c, ldc, n, m, accumulate);
    }

    /**
     * The bulk-copy kernel alone (compute 9.0, w with its image from {@link #tileWeights}): the activations' image made
     * in the workspace, then the product on at most a block a multiprocessor. k % 8 == 0, lda % 8 == 0, a 16-byte
     * aligned; the same bits as {@link #warpgroup} with tiles of 256 features and k unsplit.
     *
     * @param split a is fp32 (each value a bf16 high part and its rest), else bf16
     */
    void bulk(boolean split, DeviceBuffer a, int lda, DeviceBuffer w, DeviceBuffer c, int ldc, int n, int m, int k,
            boolean accumulate) {
        Image image = bulkImage(w, m, k);
        positive(n, "n");
        requireWarpgroupLayout(a, lda, w, ldc, m, k);
        long tiles = (long) Checks.ceilDiv(n, WG_BM) * Checks.ceilDiv(m, BULK_BN);
        require(tiles <= Integer.MAX_VALUE, "too many tiles for one launch: " + tiles);
        holdsOperands(split, a, lda, w, c, ldc, n, m, k);
        DeviceBuffer aImage = workspace(imageBytes(n, k, WG_BM, split));
        int kTiles = Checks.ceilDiv(k, WG_BK);
        if (split) {
            tileSplit.launch(Checks.ceilDiv(n, WG_BM), kTiles, 1, 256, 0,
                    new KernelArgs().ptr(a).i32(lda).i32(n).i32(k).ptr(aImage));
        } else {
            tileRows.launch(Checks.ceilDiv(n, WG_BM), kTiles, 1, 256, 0,
                    new KernelArgs().ptr(a).i32(lda).i32(n).i32(k).i32(WG_BM).ptr(aImage));
        }
        launchBulk(split, aImage, image, c, ldc, n, m, k, accumulate);
    }

    /**
     * Whether {@link #matmul} ({@code split} false) or {@link #matmulSplit} of these sizes, on activations in rows of
     * k, would run on the bulk-copy kernels: then the activations' producer may write their tile image itself
     * ({@link #activationImage}, {@link RmsNormKernel#applyToImage}, {@link SwiGluKernel#applyToImage}) and
     * {@link #bulkFromImage} multiply it, a launch and a pass over the activations fewer than the tile launch of
     * {@link #bulk}.
     */
    boolean imageTakes(boolean split, int n, int m, int k, DeviceBuffer w) {
        return !wgsTakes(split, n, m, k, k) && !(skinnyTakes(n, k, k) && !splitKBeforeSkinny(n, m, k, k))
                && bulkTakes(n, m, k, k, w) && w.aligned(16);
    }

    /**
     * The workspace as the tile image of n rows of k activations (bf16, or split: {@link #imageBytes} with tiles of
     * 128 rows) for its producer to write and {@link #bulkFromImage} to read next; valid until the next product that
     * takes workspace.
     */
    DeviceBuffer activationImage(int n, int k, boolean split) {
        positive(n, "n");
        require(tileable(k), "an activation image needs k a multiple of 8 and at most 65535 tiles of 64, got k = " + k);
        return workspace(imageBytes(n, k, WG_BM, split));
    }

    /**
     * {@link #bulk} with the activations' image already made by their producer (where {@link #imageTakes} holds):
     * the bulk-copy kernel alone, the same bits as the tile launch's image would give.
     *
     * @param aImage the image of a (n, k), bf16 or split: {@link #activationImage}
     */
    void bulkFromImage(boolean split, DeviceBuffer aImage, DeviceBuffer w, DeviceBuffer c, int ldc, int n, int m,
            int k, boolean accumulate) {
        Image image = bulkImage(w, m, k);
        positive(n, "n");
        require(ldc >= m, "ldc must be >= m");
        require(aImage.aligned(16), "an activation image must be 16-byte aligned");
        holds(aImage, imageBytes(n, k, WG_BM, split), 1, "the activations' image");
        holds(c, Checks.rows(n, ldc, m), 4, "c (n, m) fp32");
        launchBulk(split, aImage, image, c, ldc, n, m, k, accumulate);
    }

    /**
     * w's tile image, of (m, k), where the bulk-copy kernels are there: refused otherwise, with the reason
     * ({@link #bulk}, {@link #bulkFromImage}).
     */
    private Image bulkImage(DeviceBuffer w, int m, int k) {
        require(bulk != null, "the bulk-copy products need a compute 9.0 device (and " + WGMMA_PROPERTY + " and "
                + BULK_PROPERTY + " not false)");
        Image image = images.get(w);
        require(image != null, "the weight has no tile image (tileWeights)");
        require(image.m() == m && image.k() == k, "the weight's image is " + image.m() + " x " + image.k()
                + ", not " + m + " x " + k);
        return image;
    }

    /** The persistent bulk-copy kernel, a block a multiprocessor at most, on both images. */
    private void launchBulk(boolean split, DeviceBuffer aImage, Image image, DeviceBuffer c, int ldc, int n, int m,
            int k, boolean accumulate) {
        long tiles = (long) Checks.ceilDiv(n, WG_BM) * Checks.ceilDiv(m, BULK_BN);
        require(tiles <= Integer.MAX_VALUE, "too many tiles for one launch: " + tiles);
        bulk[split ? 1 : 0].launch((int) Math.min(tiles, multiprocessors), 1, 1, BULK_THREADS, bulkSharedBytes(split),
                new KernelArgs().ptr(aImage).ptr(image.buffer()).ptr(c).i32(ldc).i32(n).i32(m).i32(k)
                        .i32(accumulate ? 1 : 0));
    }

    /** The splits of k a split-K product runs when asked for {@code splits} over {@code kTiles} tiles: none empty. */
    private static int splitsUsed(int kTiles, int splits) {
        return Checks.ceilDiv(kTiles, Checks.ceilDiv(kTiles, splits));
    }

    /** Workspace bytes of a split-K product's partial sums, fp32 (splits, n, m); 0 unsplit. */
    private static long splitBytes(int splits, int n, int m) {
        return splits > 1 ? (long) splits * n * m * 4 : 0;
    }

    /** c = (accumulate ? c : 0) + the splits' partial sums in split order (dms_matmul_reduce); nothing unsplit. */
    private void reduceSplits(DeviceBuffer partial, int splits, DeviceBuffer c, int ldc, int n, int m,
            boolean accumulate) {
        if (partial != null) {
            reduce.launch(Checks.ceilDiv((long) n * m, 256), 1, 1, 256, 0, new KernelArgs().ptr(partial)
                    .i32(splits).i32(n).i32(m).ptr(c).i32(ldc).i32(accumulate ? 1 : 0));
        }
    }

    /**
     * The warpgroup decode product alone (compute 9.0): W streamed through shared memory into wgmma with the tokens as
     * its N side, k split {@code splits} ways and the splits added in order by the last block of each feature tile.
     * 1 to 32 tokens (tiles of 16 up to 16, of 32 past), k % 8 == 0, lda % 8 == 0, a and w 16-byte aligned.
     *
     * @param split a is fp32 (the split kernel), else bf16
     * @param splits 1 to ceil(k / 64); more than 1 takes workspace (and at most {@link #WGS_COUNTERS} feature tiles)
     */
    void warpgroupSkinny(boolean split, DeviceBuffer a, int lda, DeviceBuffer w, DeviceBuffer c, int ldc, int n, int m,
            int k, boolean accumulate, int splits) {
        warpgroupSkinny(split, a, lda, w, c, ldc, n, m, k, accumulate, splits, null);
    }

    /** As above with the norm folded in when {@code norm} is given (split activations only). */
    void warpgroupSkinny(boolean split, DeviceBuffer a, int lda, DeviceBuffer w, DeviceBuffer c, int ldc, int n, int m,
            int k, boolean accumulate, int splits, Norm norm) {
        require(norm == null || split, "the norm folds into the split kernel only");
        require(norm == null || norm.weight().aligned(16), "a folded norm's weight must be 16-byte aligned");
        require(wgs != null, "the warpgroup products need a compute 9.0 device (and " + WGMMA_PROPERTY + " not false)");
        require(n >= 1 && n <= MAX_WGS_TOKENS, "the warpgroup decode product takes 1 to " + MAX_WGS_TOKENS
                + " tokens, got " + n);
        positive(m, "m");
        requireWarpgroupLayout(a, lda, w, ldc, m, k);
        int tiles = Checks.ceilDiv(m, WGS_BM);
        require(splits >= 1 && splits <= Checks.ceilDiv(k, WGS_BK),
                "splits must be in [1, ceil(k / 64)], got " + splits);
        require(splits == 1 || tiles <= WGS_COUNTERS, "a split product takes at most " + WGS_COUNTERS + " tiles of 64");
        holdsOperands(split, a, lda, w, c, ldc, n, m, k);
        holdsNorm(norm, k);
        DeviceBuffer partial = splits > 1 ? workspace(wgsWorkspaceBytes(m, splits)) : null;
        KernelArgs args = new KernelArgs().ptr(a).i32(lda).ptr(w).ptr(c).i32(ldc).i32(n).i32(m).i32(k)
                .i32(accumulate ? 1 : 0).i32(splits).ptr(partial).ptr(splits > 1 ? wgsCounters : null);
        wgsKernel(n, norm != null ? 2 : split ? 1 : 0).launch(tiles * splits, 1, 1, 128,
                wgsSharedBytes(split, wgsTile(n)), norm != null ? normArgs(args, norm) : args);
    }

    /** The buffers of a product hold its operands: a (n, k) with rows of lda (fp32 when split, else bf16), w, c. */
    private static void holdsOperands(boolean split, DeviceBuffer a, int lda, DeviceBuffer w, DeviceBuffer c, int ldc,
            int n, int m, int k) {
        holds(a, Checks.rows(n, lda, k), split ? 4 : 2, split ? "a (n, k) fp32" : "a (n, k) bf16");
        holds(w, (long) m * k, 2, "w (m, k) bf16");
        holds(c, Checks.rows(n, ldc, m), 4, "c (n, m) fp32");
    }

    /** What both warpgroup kernels' cp.async tiles need: k and lda multiples of 8, 16-byte aligned a and w. */
    private static void requireWarpgroupLayout(DeviceBuffer a, int lda, DeviceBuffer w, int ldc, int m, int k) {
        require(k >= 8 && k % 8 == 0, "the warpgroup products need k a multiple of 8, got " + k);
        kRange(k);
        require(lda >= k && lda % 8 == 0 && ldc >= m,
                "row strides must cover the rows (lda >= k, lda % 8 == 0, ldc >= m)");
        require(a.aligned(16) && w.aligned(16), "the warpgroup products need 16-byte aligned a and w");
    }

    /**
     * Each tile and split's 64 x bn partial sums, then (the norm kernel's) its bn tokens' sums of squares: reserved for
     * the larger tile, bn = 32, so that a buffer sized for a product serves it at any token count.
     */
    private static long wgsWorkspaceBytes(int m, int splits) {
        return (long) splits * Checks.ceilDiv(m, WGS_BM) * (WGS_BM + 1) * MAX_WGS_TOKENS * 4;
    }

    /**
     * The warpgroup decode product's kernel for n tokens: its tile's ({@link #wgsTile}) of {@code variant} 0 bf16, 1
     * split, 2 split with the norm, 3 split ending in SwiGLU, 4 that with the norm.
     */
    private Kernel wgsKernel(int n, int variant) {
        return wgs[wgsTile(n) == 16 ? 0 : 1][variant];
    }

    /** The most tokens the warpgroup decode product takes here: 32, or 16 under {@link #WGS_WIDE_PROPERTY} false. */
    int wgsMaxTokens() {
        return wgsWide ? MAX_WGS_TOKENS : 16;
    }

    /** Whether this device runs the warpgroup kernels (compute 9.0, and not switched off). */
    boolean warpgroupKernels() {
        return wg != null;
    }

    /** Whether the products on tiles of 256 features take the warp-specialised kernels ({@link #WG_WS_PROPERTY}). */
    boolean warpSpecialised() {
        return ws != null;
    }

    /**
     * The tiled tensor-core kernel with k split {@code splits} ways (1: no split; fewer when k has fewer tiles of 32).
     *
     * @param split a is fp32 (the split kernels), else bf16
     */
    void matmul(boolean split, DeviceBuffer a, int lda, DeviceBuffer w, DeviceBuffer c, int ldc, int n, int m, int k,
            boolean accumulate, int splits) {
        positive(n, "n");
        positive(m, "m");
        kRange(k);
        require(lda >= k && ldc >= m, "row strides must cover the rows (lda >= k, ldc >= m)");
        holdsOperands(split, a, lda, w, c, ldc, n, m, k);
        boolean useWide = n > 64 && (!split || splitWide != null);  // else tiles of 64 tokens for any n
        int bm = useWide ? 128 : 64;
        require((n + bm - 1) / bm <= 65535, "too many rows for one launch: " + n);
        require(splits >= 1 && splits <= 65535, "splits must be in [1, 65535], got " + splits);
        int kTiles = Checks.ceilDiv(k, K_TILE);
        int perSplit = Checks.ceilDiv(kTiles, splits);
        splits = splitsUsed(kTiles, splits);
        DeviceBuffer partial = splits > 1 ? workspace(splitBytes(splits, n, m)) : null;
        Kernel kernel = split ? (useWide ? splitWide : splitNarrow) : (useWide ? wide : narrow);
        kernel.launch(Checks.ceilDiv(m, MATMUL_BN), Checks.ceilDiv(n, bm), splits, MATMUL_BLOCK,
                sharedBytes(bm, split), new KernelArgs().ptr(a).i32(lda).ptr(w).ptr(c).i32(ldc).i32(n).i32(m).i32(k)
                        .i32(accumulate ? 1 : 0).i32(perSplit).ptr(partial));
        reduceSplits(partial, splits, c, ldc, n, m, accumulate);
    }

    /**
     * How many ways to split k: enough blocks for about three per multiprocessor (a bm64 block takes 60 KB of
     * shared memory, 70 KB split, so three fit on an H100 / H200), each split at least 4 tiles of 32; 1 when the tiles
     * already fill the device (prefill, the lm_head).
     */
    static int splits(int n, int m, int k, int multiprocessors) {
        long blocks = (long) Checks.ceilDiv(m, MATMUL_BN) * Checks.ceilDiv(n, n > 64 ? 128 : 64);
        long target = 3L * multiprocessors;
        if (blocks >= target) {
            return 1;
        }
        int most = Math.max(1, Checks.ceilDiv(k, K_TILE) / 4);
        return (int) Math.max(1, Math.min(Math.min(most, 32), (target + blocks - 1) / blocks));
    }

    /**
     * Bytes of workspace {@link #matmul} or {@link #matmulSplit} needs for this product on this device, on the kernel
     * they would choose for 16-byte aligned operands (0: none).
     */
    long workspaceBytes(boolean split, int n, int m, int k, int lda) {
        if (wgsTakes(split, n, m, k, lda)) {
            int splits = wgsSplitsFor(m, k, split, n);
            return splits > 1 ? wgsWorkspaceBytes(m, splits) : 0;
        }
        if (skinnyTakes(n, k, lda) && !splitKBeforeSkinny(n, m, k, lda)) {
            return 0;
        }
        if (wgTakes(n, m, k, lda)) {
            // Operands that are not 16-byte aligned fall back to the tiled kernel (product): room for its split too,
            // so that a step recorded as a graph never grows the workspace. A weight of this shape with a tile image:
            // room for the activations' image.
            int splits = splitsUsed(Checks.ceilDiv(k, WG_BK), wgSplitsFor(n, m, k));
            long bytes = Math.max(splitBytes(splits, n, m), tiledWorkspaceBytes(n, m, k, multiprocessors));
            return imageShapes.contains((long) m << 32 | k) && bulkRule(n, m, k, lda)
                    ? Math.max(bytes, imageBytes(n, k, WG_BM, split)) : bytes;
        }
        return tiledWorkspaceBytes(n, m, k, multiprocessors);
    }

    /** Bytes of workspace the tiled kernel needs for this product with the automatic split (0: no split). */
    private static long tiledWorkspaceBytes(int n, int m, int k, int multiprocessors) {
        return splitBytes(splitsUsed(Checks.ceilDiv(k, K_TILE), splits(n, m, k, multiprocessors)), n, m);
    }

    int multiprocessors() {
        return multiprocessors;
    }

    /**
     * Grows the workspace to at least {@code bytes} now. A step recorded for a graph must reserve first: its
     * launches run after the recording, so the workspace cannot be replaced (and freed) while it records.
     */
    void reserve(long bytes) {
        if (bytes > 0) {
            workspace(bytes);
        }
    }

    /** The split-K workspace now, or null (a step graph's shape names it). */
    DeviceBuffer workspace() {
        return workspace;
    }

    private DeviceBuffer workspace(long bytes) {
        if (workspace == null || workspace.bytes() < bytes) {
            if (context.recording() != null) {
                throw new IllegalStateException("the split-K workspace (" + (workspace == null ? 0 : workspace.bytes())
                        + " bytes) must be reserved before a step is recorded; " + bytes + " needed");
            }
            if (workspace != null) {
                context.synchronize();  // launches queued before may still use it
                workspace.close();
            }
            workspace = context.allocate(Math.max(bytes, workspace == null ? 0 : 2 * workspace.bytes()));
        }
        return workspace;
    }

    @Override
    public void close() {
        if (workspace != null) {
            workspace.close();
            workspace = null;
        }
        if (wgsCounters != null) {
            wgsCounters.close();
        }
        for (Image image : images.values()) {
            image.buffer().close();
        }
        images.clear();
        imageShapes.clear();
    }

    /** Most rows per block (4, 2, 1) that still give at least 4 blocks per multiprocessor. */
    static int rowsPerBlock(int m, int multiprocessors) {
        int target = 4 * multiprocessors;
        if ((m + 3) / 4 >= target) {
            return 4;
        }
        if ((m + 1) / 2 >= target) {
            return 2;
        }
        return 1;
    }

    /** About two 8-element chunks of k per thread, 32 to 256 threads. */
    static int gemvBlock(int k) {
        int chunks = (k + 7) / 8;
        int threads = (chunks / 2 + 31) / 32 * 32;
        return Math.max(32, Math.min(256, threads));
    }

    private static int index(int[] values, int value) {
        for (int i = 0; i < values.length; i++) {
            if (values[i] == value) {
                return i;
            }
        }
        throw new IllegalStateException("no variant for " + value);
    }
}
