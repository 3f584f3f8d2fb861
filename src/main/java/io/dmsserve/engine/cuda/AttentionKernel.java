package io.dmsserve.engine.cuda;

import static io.dmsserve.engine.cuda.Checks.holds;
import static io.dmsserve.engine.cuda.Checks.positive;
import static io.dmsserve.engine.cuda.Checks.require;

import java.util.ArrayList;
import java.util.List;

/**
 * native/attention.cu: GQA attention over the paged KV cache with the DMS visibility mask (cpu/ChunkAttention;
 * it runs after kv_write, so a chunk's own tokens are in the cache). A slot with position p and flag f is
 * visible to a query at position q of a sequence with window w iff p >= 0 && p <= q && !(f && q - p > w).
 *
 * <ul>
 *   <li>{@link #decode}: one block per (split, kv head, query token); the G query heads of the group share one
 *       read of K/V. For decode tokens (and correct for any token). Head_dim 64 and 128 run on tensor cores
 *       ({@code dms_attention_decode_tc_d*}, q and probabilities as bf16 high + low parts: fp32 accuracy to about
 *       2^-16), other sizes on CUDA cores in fp32 ({@code dms_attention_decode_g*}); {@value #TENSOR_DECODE_PROPERTY}
 *       {@code =false} takes the CUDA-core kernel for every size, to compare.</li>
 *   <li>{@link #chunk}: one block per (query tile, kv head, split), tiles of up to 64 / G tokens of one
 *       sequence; tensor cores (q and probabilities as bf16 high + low parts). For prefill chunks; head_dim 32, 64,
 *       128.</li>
 *   <li>Both split long page lists across blocks ({@link Split}) and merge the parts (flash-decoding).</li>
 * </ul>
 */
final class AttentionKernel {

    static final int WARPS = 4;
    static final int CHUNK_ROWS = 64;
    static final int MAX_DECODE_GROUP = 8;
    static final int MAX_DECODE_HEAD_DIM = 256;
    private static final int[] DECODE_GROUPS = {1, 2, 4, 8};
    private static final int[] TENSOR_DECODE_HEAD_DIMS = {64, 128};
    private static final int[] CHUNK_HEAD_DIMS = {32, 64, 128};
    /** System property: {@code false} decodes on CUDA cores for every head size (the tensor-core kernel's A/B). */
    static final String TENSOR_DECODE_PROPERTY = "dms.cuda.tensor-decode";

    /**
     * The paged cache of the KV contract (native/README.md).
     *
     * @param keyCache bf16 (slotCount, headDim); valueCache the same
     * @param slotPos int32 (slotCount); slotFlag uint8 (slotCount)
     * @param pageTable int32 (maxRows, layers, kvHeads, maxPagesPerHead); pageTableLen int32 (maxRows, layers, kvHeads)
     */
    record Cache(DeviceBuffer keyCache, DeviceBuffer valueCache, DeviceBuffer slotPos, DeviceBuffer slotFlag,
            int pageSize, int pageCount, DeviceBuffer pageTable, DeviceBuffer pageTableLen, int maxRows, int layers,
            int kvHeads, int maxPagesPerHead, int headDim) {

        long slotCount() {
            return (long) pageSize * pageCount;
        }
    }

    /**
     * The step's queries.
     *
     * @param q fp32 token rows of stride qStride (n, heads, headDim), after q_norm and RoPE
     * @param positions, seqOfToken int32 (n)
     * @param seqRow int32 (S): the page-table row of each sequence; seqWindow int32 (S): its DMS window
     */
    record Queries(DeviceBuffer q, int qStride, int heads, DeviceBuffer positions, DeviceBuffer seqOfToken, int n,
            DeviceBuffer seqRow, DeviceBuffer seqWindow, int sequences) {
    }

    /** out fp32 and/or outBf16 bf16, token rows of the given strides (n, heads, headDim). */
    record Output(DeviceBuffer out, int outStride, DeviceBuffer outBf16, int outBf16Stride) {
    }

    /**
     * Block {@code split} scans page entries [split * pagesPerSplit, (split + 1) * pagesPerSplit). With more
     * than one split, partialO fp32 (n, heads, splitStride, headDim) and partialML float2 (n, heads,
     * splitStride) hold the parts until the merge.
     */
    record Split(int pagesPerSplit, int splits, int splitStride, DeviceBuffer partialO, DeviceBuffer partialML) {

        static Split none(int maxPagesPerHead) {
            return new Split(Math.max(1, maxPagesPerHead), 1, 1, null, null);
        }
    }

    /** The balanced grid's most lists (tokens x kv heads) a launch: its blocks sum the page starts in shared memory. */
    static final int BALANCED_MAX_LISTS = 4096;

    private final Kernel[] decode = new Kernel[DECODE_GROUPS.length];
    private final Kernel[] tensorDecode;
    private final Kernel[] balancedDecode;
    private final Kernel[] foldedDecode;
    private final Kernel[] chunk = new Kernel[CHUNK_HEAD_DIMS.length];
    /** The chunk kernels with q and the probabilities as one bf16 each (attention.cu, dms_attention_chunk_bf16_d*). */
    private final Kernel[] chunkBf16 = new Kernel[CHUNK_HEAD_DIMS.length];
    /**
     * Each chunk kernel's dynamic shared memory: with the packed key tiles' slots where the device runs the sm_90a code
     * (the only code that packs), {@link #chunkSharedBytes}.
     */
    private final int[] chunkBytes = new int[CHUNK_HEAD_DIMS.length];
    private final Kernel merge;

    AttentionKernel(CudaContext context) {
        this(context, !"false".equals(System.getProperty(TENSOR_DECODE_PROPERTY)));
    }

    /** @param tensorDecode decode head_dim 64 and 128 on tensor cores (else CUDA cores for every size) */
    AttentionKernel(CudaContext context, boolean tensorDecode) {
        for (int i = 0; i < DECODE_GROUPS.length; i++) {
            decode[i] = context.kernel("dms_attention_decode_g" + DECODE_GROUPS[i]);
        }
        this.tensorDecode = tensorDecode ? new Kernel[TENSOR_DECODE_HEAD_DIMS.length] : null;
        this.balancedDecode = tensorDecode ? new Kernel[TENSOR_DECODE_HEAD_DIMS.length] : null;
        this.foldedDecode = tensorDecode ? new Kernel[TENSOR_DECODE_HEAD_DIMS.length] : null;
        for (int i = 0; tensorDecode && i < TENSOR_DECODE_HEAD_DIMS.length; i++) {
            this.tensorDecode[i] = context.kernel("dms_attention_decode_tc_d" + TENSOR_DECODE_HEAD_DIMS[i]);
            this.balancedDecode[i] = context.kernel("dms_attention_decode_tcb_d" + TENSOR_DECODE_HEAD_DIMS[i]);
            this.foldedDecode[i] = context.kernel("dms_attention_decode_tcq_d" + TENSOR_DECODE_HEAD_DIMS[i]);
        }
        for (int i = 0; i < CHUNK_HEAD_DIMS.length; i++) {
            chunkBytes[i] = chunkSharedBytes(CHUNK_HEAD_DIMS[i], context.info().runsSm90a());
            chunk[i] = context.kernel("dms_attention_chunk_d" + CHUNK_HEAD_DIMS[i], chunkBytes[i]);
            chunkBf16[i] = context.kernel("dms_attention_chunk_bf16_d" + CHUNK_HEAD_DIMS[i], chunkBytes[i]);
        }
        this.merge = context.kernel("dms_attention_merge");
    }

    static int decodeSharedBytes(int group, int headDim) {
        return WARPS * group * (headDim + 2) * 4;
    }

    /**
     * Two buffers (attention.cu, attention_chunk_smem) of a K and a V tile (64, headDim + 8) bf16 and 64 keys'
     * metadata, then, where the kernel packs its key tiles, the slots of the keys of a packed list part
     * (DMS_CHUNK_SEG, 8,192).
     *
     * @param packs the device runs the fatbin's sm_90a code (compute 9.0), the only code that packs: every other
     *     device runs the compute_80 code, whose blocks keep the 71 KB they had (8.6 and 8.9 devices would not
     *     launch 103 KB a block)
     */
    static int chunkSharedBytes(int headDim, boolean packs) {
        return 2 * (2 * 64 * (headDim + 8) * 2 + 3 * 64 * 4) + (packs ? CHUNK_PACKED_SLOTS * 4 : 0) + 16;
    }

    /** The longest part of a page list whose keys a chunk block packs (attention.cu, DMS_CHUNK_SEG). */
    static final int CHUNK_PACKED_SLOTS = 8_192;

    static boolean chunkSupports(int headDim, int group) {
        return (headDim == 32 || headDim == 64 || headDim == 128) && group <= CHUNK_ROWS;
    }

    /**
     * Pages per split for page lists of up to maxPages entries, so that the grid is about one wave of three
     * blocks per multiprocessor (what the decode kernel's registers allow): a second, partial wave would leave the
     * device part idle (16 x 8 blocks split 5 ways measured 184 µs a layer at 4K context on the H200, a bandwidth
     * bound under 2 waves). {@code blocks} is the grid without splitting (tokens x kv heads, or tiles x kv heads).
     */
    static int pagesPerSplit(int maxPages, int pageSize, long blocks, int multiprocessors) {
        return pagesPerSplit(maxPages, pageSize, blocks, multiprocessors, 1);
    }

    /** As above for {@code waves} waves of three blocks per multiprocessor. */
    static int pagesPerSplit(int maxPages, int pageSize, long blocks, int multiprocessors, int waves) {
        return pagesPerSplit(maxPages, pageSize, blocks, multiprocessors, waves, MIN_SPLIT_SLOTS);
    }

    /**
     * The fewest slots a split takes by default: smaller splits cost more merging. Chosen when the merge summed the
     * splits one load at a time; since it loads 8 ahead, fewer slots may pay at batch 1, where 8 kv heads x 16
     * splits of 256 slots give 128 blocks at 4K context (to measure: {@code dms.cuda.min-split-slots}).
     */
    static final int MIN_SPLIT_SLOTS = 256;

    /** As above with at least {@code minSlots} slots a split (fewer only when the list is shorter). */
    static int pagesPerSplit(int maxPages, int pageSize, long blocks, int multiprocessors, int waves, int minSlots) {
        long target = 3L * multiprocessors * waves;
        int splits = (int) Math.max(1, Math.min(maxPages, target / Math.max(1, blocks)));
        int perSplit = (maxPages + splits - 1) / splits;
        int minPages = Math.max(1, minSlots / pageSize);
        return Math.max(1, Math.max(perSplit, Math.min(minPages, maxPages)));
    }

    /**
     * Pages per split of the decode grid: as {@link #pagesPerSplit(int, int, long, int, int, int)}, with the floor
     * lowered for lists under 16 floors long, to a sixteenth of the list and at least a quarter of the floor. At
     * batch 1 on the H200 (2026-12-01, attention_bench, docs/benchmarks.md nineteenth pass) the 256-slot floor split
     * lists of 512 to 2K tokens 2 to 8 ways where 8 to 16 ways took 1.6-2.1 µs less a layer (9.1 against 11.2 µs at
     * 512 tokens, 10.7 against 12.3 at 2K); from 4K (16 ways) the floor is as before.
     */
    static int decodePagesPerSplit(int maxPages, int pageSize, long blocks, int multiprocessors, int waves,
            int minSlots) {
        int minPages = Math.max(1, minSlots / pageSize);
        int floor = Math.min(minPages, Math.max(Math.max(1, minPages / 4), (maxPages + 15) / 16));
        return pagesPerSplit(maxPages, pageSize, blocks, multiprocessors, waves, floor * pageSize);
    }

    static int splits(int maxPages, int pagesPerSplit) {
        return Math.max(1, (maxPages + pagesPerSplit - 1) / pagesPerSplit);
    }

    /**
     * Query tiles of the chunk kernel: (first token, count) pairs, count <= 64 / group, for every sequence
     * whose step length is at least {@code minLength}.
     */
    static int[] tiles(int[] seqFirst, int[] seqLength, int group, int minLength) {
        int perTile = CHUNK_ROWS / group;
        List<int[]> out = new ArrayList<>();
        for (int s = 0; s < seqFirst.length; s++) {
            if (seqLength[s] < minLength) {
                continue;
            }
            for (int t = 0; t < seqLength[s]; t += perTile) {
                out.add(new int[] {seqFirst[s] + t, Math.min(perTile, seqLength[s] - t)});
            }
        }
        int[] flat = new int[2 * out.size()];
        for (int i = 0; i < out.size(); i++) {
            flat[2 * i] = out.get(i)[0];
            flat[2 * i + 1] = out.get(i)[1];
        }
        return flat;
    }

    /** Decode attention for tokenList (int32, tokenCount entries) or, when null, tokens 0 .. tokenCount-1. */
    void decode(Cache cache, Queries queries, int layer, DeviceBuffer tokenList, int tokenCount, Split split,
            Output output) {
        int group = check(cache, queries, layer, split, output);
        require(group <= MAX_DECODE_GROUP, "decode attention takes up to " + MAX_DECODE_GROUP
                + " query heads per kv head, got " + group);
        require(cache.headDim() <= MAX_DECODE_HEAD_DIM, "decode attention takes head_dim up to " + MAX_DECODE_HEAD_DIM);
        positive(tokenCount, "tokenCount");
        require(tokenCount <= 65535, "at most 65535 tokens per launch");
        checkTokens(queries, tokenList, tokenCount);
        Kernel kernel = tensorDecodeKernel(cache.headDim());
        if (kernel == null) {
            int variant = 0;
            while (DECODE_GROUPS[variant] < group) {
                variant++;
            }
            kernel = decode[variant];
        }
        kernel.launch(split.splits(), cache.kvHeads(), tokenCount, WARPS * 32,
                decodeSharedBytes(group, cache.headDim()), common(cache, queries, layer).ptr(tokenList)
                        .i32(queries.heads()).i32(cache.headDim()).f32(scale(cache.headDim()))
                        .i32(split.pagesPerSplit()).i32(split.splits()).i32(split.splitStride())
                        .ptr(output.out()).i32(output.outStride()).ptr(output.outBf16()).i32(output.outBf16Stride())
                        .ptr(split.partialO()).ptr(split.partialML()));
        if (split.splits() > 1) {
            merge(queries.heads(), cache.headDim(), tokenList, tokenCount, split, output);
        }
    }

    /**
     * {@link #decode} on tensor cores for a decode step with the q/k norm, RoPE, DMS decision and KV write folded in
     * (attention.cu, dms_attention_decode_tcq_d*): what {@link QkNormRopeKernel#applyAndWrite} then {@link #decode}
     * give, bit for bit, in one launch fewer. queries.q() holds the q|k|v product's raw rows (left as they are);
     * {@code folded} comes from {@link QkNormRopeKernel#fold} with the same positions and seqOfToken as the queries.
     */
    void decodeFolded(Cache cache, Queries queries, int layer, DeviceBuffer tokenList, int tokenCount, Split split,
            Output output, QkNormRopeKernel.Folded folded) {
        int group = check(cache, queries, layer, split, output);
        require(foldTakes(cache.headDim(), group), "the folded decode takes head_dim 64 or 128 on tensor cores and up"
                + " to " + MAX_DECODE_GROUP + " query heads per kv head, got head_dim " + cache.headDim() + ", group "
                + group);
        positive(tokenCount, "tokenCount");
        // Every token of the step: the fold writes the cache and the decisions only for the tokens it is given.
        require(tokenCount == folded.n() && tokenCount <= 65535,
                "the folded decode takes every one of the step's tokens (at most 65535): " + tokenCount + " of "
                        + folded.n());
        require(folded.n() == queries.n() && folded.kv().sequences() == queries.sequences(),
                "the fold's tokens and sequences are the queries'");
        require(folded.kv().cache() == cache, "the fold writes the cache the attention reads");
        checkTokens(queries, tokenList, tokenCount);
        KernelArgs args = common(cache, queries, layer).ptr(tokenList).i32(queries.heads()).i32(cache.headDim())
                .f32(scale(cache.headDim())).i32(split.pagesPerSplit()).i32(split.splits()).i32(split.splitStride())
                .ptr(output.out()).i32(output.outStride()).ptr(output.outBf16()).i32(output.outBf16Stride())
                .ptr(split.partialO()).ptr(split.partialML());
        foldedDecode[tensorDecodeIndex(cache.headDim())].launch(split.splits(), cache.kvHeads(), tokenCount, WARPS * 32,
                decodeSharedBytes(group, cache.headDim()), folded.appendTo(args));
        if (split.splits() > 1) {
            merge(queries.heads(), cache.headDim(), tokenList, tokenCount, split, output);
        }
    }

    /**
     * Blocks a multiprocessor of the folded decode kernel holds: its 206 registers a thread (head_dim 128, sm_90a)
     * leave two, where the split grid is sized for three of the unfolded kernel's 168 ({@link #pagesPerSplit}).
     */
    static final int FOLDED_BLOCKS_PER_MULTIPROCESSOR = 2;

    /**
     * Whether a split grid of {@code blocks} blocks (tokens x kv heads x splits) runs folded: in one wave of the folded
     * kernel only. Past it the grid sized for three unfolded blocks a multiprocessor takes two waves: 16 x 32K without
     * eviction (384 blocks) ran 27% slower folded on the H200 (2026-12-02, docs/benchmarks.md twenty-second pass),
     * where batch 1 at 4K (128 blocks) gained 0.45%.
     */
    static boolean foldFits(long blocks, int multiprocessors) {
        return blocks <= (long) FOLDED_BLOCKS_PER_MULTIPROCESSOR * multiprocessors;
    }

    /** Whether {@link #decodeFolded} takes these: a tensor-core kernel for this head size, groups up to 8. */
    boolean foldTakes(int headDim, int group) {
        return foldedDecode != null && tensorDecodeIndex(headDim) >= 0 && group <= MAX_DECODE_GROUP;
    }

    /** Whether {@link #decodeBalanced} takes these: tensor-core kernels for this head size, and few enough lists. */
    boolean balancedTakes(int headDim, int group, int tokenCount, int kvHeads) {
        return tensorDecodeKernel(headDim) != null && group <= MAX_DECODE_GROUP
                && (long) tokenCount * kvHeads <= BALANCED_MAX_LISTS;
    }

    /**
     * The dynamic shared memory of the balanced grid (attention.cu, attention_decode_tcb_smem): the warps' merge rows,
     * then the lists' page starts.
     */
    static int balancedSharedBytes(int group, int headDim, int lists) {
        return decodeSharedBytes(group, headDim) + 4 * (lists + 1);
    }

    /**
     * The partial slots a balanced launch of {@code blocks} blocks needs in every layer whose decode lists are at most
     * {@code longestPages} long and at least {@code fewestPages} in all (the layer with the fewest): above the longest
     * list's parts, which is at most ceil(longest x blocks / pages) + 1, and at most longest + 1 (a layer of fewer
     * pages than blocks gives a block a page at most). At least 2: the balanced grid always merges.
     */
    static int balancedStride(int longestPages, long fewestPages, int blocks) {
        long byBlocks = ((long) longestPages * blocks + Math.max(1, fewestPages) - 1) / Math.max(1, fewestPages) + 1;
        return (int) Math.max(2, Math.min(longestPages + 1L, byBlocks));
    }

    /**
     * Decode attention over a balanced grid of {@code blocks} blocks (attention.cu, dms_attention_decode_tcb_d*): the
     * layer's page lists end to end, every block the same number of pages, however the lists differ in length; then
     * the merge. {@code split} has splits == splitStride >= 2, at least {@link #balancedStride} (pagesPerSplit unused).
     */
    void decodeBalanced(Cache cache, Queries queries, int layer, DeviceBuffer tokenList, int tokenCount, int blocks,
            Split split, Output output) {
        int group = check(cache, queries, layer, split, output);
        positive(tokenCount, "tokenCount");
        require(balancedTakes(cache.headDim(), group, tokenCount, cache.kvHeads()),
                "the balanced decode grid takes head_dim 64 or 128 on tensor cores, up to " + MAX_DECODE_GROUP
                        + " query heads per kv head and " + BALANCED_MAX_LISTS + " lists (tokens x kv heads); got"
                        + " head_dim " + cache.headDim() + ", group " + group + ", "
                        + (long) tokenCount * cache.kvHeads() + " lists");
        require(blocks >= 1 && blocks <= 65535, "blocks must be in [1, 65535], got " + blocks);
        require(split.splits() >= 2 && split.splits() == split.splitStride(),
                "the balanced grid merges every slot: splits == splitStride >= 2, got " + split.splits() + " and "
                        + split.splitStride());
        checkTokens(queries, tokenList, tokenCount);
        Kernel kernel = balancedDecode[tensorDecodeIndex(cache.headDim())];
        int lists = tokenCount * cache.kvHeads();
        kernel.launch(blocks, 1, 1, WARPS * 32, balancedSharedBytes(group, cache.headDim(), lists),
                common(cache, queries, layer).ptr(tokenList).i32(tokenCount).i32(queries.heads())
                        .f32(scale(cache.headDim())).i32(split.splitStride()).ptr(split.partialO())
                        .ptr(split.partialML()));
        merge(queries.heads(), cache.headDim(), tokenList, tokenCount, split, output);
    }

    /**
     * The tensor-core decode kernel for this head size, or null. Groups up to 8 (decode's own limit); the caches are
     * whole allocations, so 16-byte aligned as the kernel needs.
     */
    private Kernel tensorDecodeKernel(int headDim) {
        int i = tensorDecodeIndex(headDim);
        return tensorDecode == null || i < 0 ? null : tensorDecode[i];
    }

    /** The index of this head size in the tensor-core kernel tables (tensorDecode, balancedDecode), or -1. */
    private static int tensorDecodeIndex(int headDim) {
        for (int i = 0; i < TENSOR_DECODE_HEAD_DIMS.length; i++) {
            if (TENSOR_DECODE_HEAD_DIMS[i] == headDim) {
                return i;
            }
        }
        return -1;
    }

    /**
     * Chunk attention for query tiles (int32 pairs from {@link #tiles}); tokenList/tokenCount list every
     * token the tiles cover (needed for the merge when split).
     */
    void chunk(Cache cache, Queries queries, int layer, DeviceBuffer tiles, int tileCount, DeviceBuffer tokenList,
            int tokenCount, Split split, Output output) {
        chunk(cache, queries, layer, tiles, tileCount, tokenList, tokenCount, split, output, false);
    }

    /**
     * {@link #chunk}; {@code bf16}: q and the probabilities go to the tensor cores as one bf16 each instead of a high
     * part and its rest, half the mma work, outputs within about 2^-9 of the largest (for products on bf16
     * activations, whose error is of that order: {@link CudaBackend#CHUNK_ATTENTION_PROPERTY}).
     */
    void chunk(Cache cache, Queries queries, int layer, DeviceBuffer tiles, int tileCount, DeviceBuffer tokenList,
            int tokenCount, Split split, Output output, boolean bf16) {
        int group = check(cache, queries, layer, split, output);
        require(chunkSupports(cache.headDim(), group), "chunk attention takes head_dim 32, 64 or 128 and up to "
                + CHUNK_ROWS + " query heads per kv head");
        positive(tileCount, "tileCount");
        holds(tiles, 2L * tileCount, 4, "tiles (tileCount, 2) int32");
        if (split.splits() > 1) {
            positive(tokenCount, "tokenCount");
            require(tokenCount <= 65535, "at most 65535 tokens per merge");
            holds(tokenList, tokenCount, 4, "tokenList (tokenCount) int32");
        }
        int variant = 0;
        while (CHUNK_HEAD_DIMS[variant] != cache.headDim()) {
            variant++;
        }
        (bf16 ? chunkBf16 : chunk)[variant].launch(tileCount, cache.kvHeads(), split.splits(), WARPS * 32,
                chunkBytes[variant],
                common(cache, queries, layer).ptr(tiles).i32(queries.heads()).f32(scale(cache.headDim()))
                        .i32(split.pagesPerSplit()).i32(split.splits()).i32(split.splitStride())
                        .ptr(output.out()).i32(output.outStride()).ptr(output.outBf16()).i32(output.outBf16Stride())
                        .ptr(split.partialO()).ptr(split.partialML()));
        if (split.splits() > 1) {
            merge(queries.heads(), cache.headDim(), tokenList, tokenCount, split, output);
        }
    }

    /** The merge's block: one thread for each of two channels (D <= 256), 128 splits staged at a time. */
    private static final int MERGE_BLOCK = 128;

    private void merge(int heads, int headDim, DeviceBuffer tokenList, int tokenCount, Split split, Output output) {
        require(headDim <= 2 * MERGE_BLOCK,
                "the split merge takes head_dim up to " + 2 * MERGE_BLOCK + ", got " + headDim);
        merge.launch(heads, tokenCount, 1, MERGE_BLOCK, 0, new KernelArgs().ptr(split.partialO()).ptr(split.partialML())
                .i32(split.splits()).i32(split.splitStride()).ptr(tokenList).i32(heads).i32(headDim)
                .ptr(output.out()).i32(output.outStride()).ptr(output.outBf16()).i32(output.outBf16Stride()));
    }

    /** The CPU's scale: 1 / sqrt(head_dim) in double, rounded to fp32 (ChunkAttention). */
    static float scale(int headDim) {
        return (float) (1.0 / Math.sqrt(headDim));
    }

    /** tokenList holds tokenCount int32 token indices, or (null) the tokens 0 .. tokenCount - 1 are queries. */
    private static void checkTokens(Queries queries, DeviceBuffer tokenList, int tokenCount) {
        if (tokenList != null) {
            holds(tokenList, tokenCount, 4, "tokenList (tokenCount) int32");
        } else {
            require(tokenCount <= queries.n(), "tokenCount exceeds n");
        }
    }

    private static KernelArgs common(Cache cache, Queries queries, int layer) {
        return new KernelArgs().ptr(queries.q()).i32(queries.qStride()).ptr(cache.keyCache()).ptr(cache.valueCache())
                .ptr(cache.slotPos()).ptr(cache.slotFlag()).ptr(cache.pageTable()).ptr(cache.pageTableLen())
                .i32(cache.maxPagesPerHead()).i32(cache.layers()).i32(layer).i32(cache.kvHeads()).i32(cache.pageSize())
                .ptr(queries.positions()).ptr(queries.seqOfToken()).ptr(queries.seqRow()).ptr(queries.seqWindow());
    }

    private static int check(Cache cache, Queries queries, int layer, Split split, Output output) {
        int d = cache.headDim();
        positive(queries.heads(), "heads");
        positive(cache.kvHeads(), "kvHeads");
        require(queries.heads() % cache.kvHeads() == 0, "kvHeads must divide heads");
        require(d > 0 && d % 2 == 0, "head_dim must be even");
        require(layer >= 0 && layer < cache.layers(), "layer " + layer + " outside [0, " + cache.layers() + ")");
        positive(cache.pageSize(), "pageSize");
        positive(cache.maxPagesPerHead(), "maxPagesPerHead");
        positive(queries.n(), "n");
        positive(queries.sequences(), "sequences");
        long slots = cache.slotCount();
        holds(cache.keyCache(), slots * d, 2, "keyCache (slots, D) bf16");
        holds(cache.valueCache(), slots * d, 2, "valueCache (slots, D) bf16");
        holds(cache.slotPos(), slots, 4, "slotPos (slots) int32");
        holds(cache.slotFlag(), slots, 1, "slotFlag (slots) uint8");
        long heads = (long) cache.maxRows() * cache.layers() * cache.kvHeads();
        holds(cache.pageTable(), heads * cache.maxPagesPerHead(), 4, "pageTable (rows, layers, kvHeads, pages) int32");
        holds(cache.pageTableLen(), heads, 4, "pageTableLen (rows, layers, kvHeads) int32");
        int width = queries.heads() * d;
        require(queries.qStride() >= width, "qStride must be >= heads * head_dim");
        holds(queries.q(), Checks.rows(queries.n(), queries.qStride(), width), 4, "q (n, heads, D) fp32");
        holds(queries.positions(), queries.n(), 4, "positions (n) int32");
        holds(queries.seqOfToken(), queries.n(), 4, "seqOfToken (n) int32");
        holds(queries.seqRow(), queries.sequences(), 4, "seqRow (S) int32");
        holds(queries.seqWindow(), queries.sequences(), 4, "seqWindow (S) int32");
        require(output.out() != null || output.outBf16() != null, "attention needs out or outBf16");
        if (output.out() != null) {
            require(output.outStride() >= width, "outStride must be >= heads * head_dim");
            holds(output.out(), Checks.rows(queries.n(), output.outStride(), width), 4, "out (n, heads, D) fp32");
        }
        if (output.outBf16() != null) {
            require(output.outBf16Stride() >= width, "outBf16Stride must be >= heads * head_dim");
            holds(output.outBf16(), Checks.rows(queries.n(), output.outBf16Stride(), width), 2,
                    "outBf16 (n, heads, D) bf16");
        }
        positive(split.pagesPerSplit(), "pagesPerSplit");
        require(split.splits() >= 1 && split.splits() <= 65535, "splits must be in [1, 65535]");
        if (split.splits() > 1) {
            require(split.splitStride() >= split.splits(), "splitStride must be >= splits");
            long parts = (long) queries.n() * queries.heads() * split.splitStride();
            holds(split.partialO(), parts * d, 4, "partialO (n, heads, splitStride, D) fp32");
            holds(split.partialML(), parts * 2, 4, "partialML (n, heads, splitStride) float2");
        }
        return queries.heads() / cache.kvHeads();
    }
}
