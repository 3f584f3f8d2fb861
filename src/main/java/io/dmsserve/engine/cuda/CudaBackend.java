package io.dmsserve.engine.cuda;

import io.dmsserve.dms.Decisions;
import io.dmsserve.dms.DmsRule;
import io.dmsserve.engine.Backend;
import io.dmsserve.engine.Checkpoint;
import io.dmsserve.engine.DeviceMemory;
import io.dmsserve.engine.KvGeometry;
import io.dmsserve.engine.LogitsRequest;
import io.dmsserve.engine.ModelConfig;
import io.dmsserve.engine.PendingStep;
import io.dmsserve.engine.SequenceOutput;
import io.dmsserve.engine.SequenceStep;
import io.dmsserve.engine.StepOutput;
import io.dmsserve.engine.StepPlan;
import io.dmsserve.engine.Tensor;
import io.dmsserve.engine.WeightUpload;
import io.dmsserve.kvcache.PageTableDelta;
import io.dmsserve.sampling.LogitBias;
import io.dmsserve.sampling.Logprobs;
import io.dmsserve.sampling.SamplingParams;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import jcuda.driver.JCudaDriver;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Qwen3 forward pass with DMS on our CUDA kernels (native/), the same step as {@code CpuBackend}: weights
 * bf16 on the device, q|k|v and gate|up fused into one product each, the residual stream in fp32, the KV
 * cache in bf16 pages with per-slot position and flag (docs/architecture.md, "The KV contract of a device").
 *
 * <p>A step is one packed upload (tokens, positions, slots, page-table delta, thresholds, sampling
 * parameters), kernels only, and one copy back (token ids, decision bytes, logprobs) followed by the step's
 * one synchronisation; no host work per layer. Full logits come back only when the plan asks for them.
 * Up to {@value MatMulKernel#MAX_GEMV_TOKENS} tokens a step, products take the bandwidth-bound fp32 path;
 * more, the tensor-core path, on fp32 activations split into bf16 high parts and rests (DMS checkpoints, by
 * default) or on bf16 activations ({@link #ACTIVATIONS_PROPERTY}).
 */
public final class CudaBackend implements Backend {

    private static final Logger log = LoggerFactory.getLogger(CudaBackend.class);
    /** System property: {@code false} runs every step launch by launch (no CUDA graphs), to compare or debug. */
    public static final String GRAPHS_PROPERTY = "dms.cuda.graphs";
    /**
     * System property: every n-th decode step replayed by its shape alone is recorded anyway and checked against its
     * graph (default 256; 1 checks every one, as the GPU tests do; 0 never).
     */
    public static final String GRAPH_CHECK_PROPERTY = "dms.cuda.graph-check-every";
    /**
     * System property: waves of decode attention blocks the page lists are split for, 1 to 16, or {@code auto} (the
     * default): the power of two (up to 8) at or above the step's longest page list over its mean one (less a
     * quarter). DMS heads keep different numbers of tokens, and a grid sized by the longest list leaves the blocks
     * of the shorter ones idle inside the one wave; smaller splits let the block scheduler even that out, at the cost
     * of more partials to merge. Dense lists are all about as long: one wave, as before. At 16 x 32K with DMS (85.9%
     * evicted) 8 waves gave 1,615 tokens/s where the earlier rule's 4 at most gave 1,488 (H200, 2026-11-30).
     */
    public static final String ATTENTION_WAVES_PROPERTY = "dms.cuda.attention-waves";
    /**
     * System property: how decode attention lays out its blocks. {@code auto} (the default) takes the balanced grid
     * (attention.cu, dms_attention_decode_tcb_d*: every block the same number of pages, the lists laid end to end;
     * three blocks a multiprocessor) when the step's lists are uneven enough that the split grid would take more than
     * one wave ({@link #autoWaves} of 2 or more) and every layer has at least {@code minSplitSlots} of pages a block,
     * else the split grid, which gives every list as many blocks as the longest needs. {@code true} takes the balanced
     * grid whenever it can, {@code false} never, a whole number the balanced grid with that many blocks. Measured on
     * the H200 (2026-11-30, docs/benchmarks.md "tenth pass"): 16 x 32K with DMS 1,749 tokens/s balanced against 1,603
     * split (lists 1.66 times as long as their mean at most); at 4K, where the lists are even, balanced lost 3-7%
     * (batch 1: 188 against 204 tokens/s with DMS; 16: 2,294 against 2,352).
     */
    public static final String ATTENTION_BALANCE_PROPERTY = "dms.cuda.attention-balance";
    /**
     * System property: {@code false} runs the w1|w3 product and SwiGLU as two launches, to compare; the default fuses
     * them where the product's kernel takes SwiGLU in its epilogue (the GEMV of up to 8 tokens, the warpgroup decode
     * product of up to 32 on split activations: {@link MatMulKernel#wgsSwiGluTakes}): the same bits, one launch a layer
     * fewer.
     */
    public static final String FUSED_SWIGLU_PROPERTY = "dms.cuda.fused-swiglu";
    /**
     * System property: {@code false} has the bulk-copy products make their activations' tile image with a launch of
     * its own from the rows, to compare; the default has the RMSNorm before q|k|v and gate|up and the SwiGLU before
     * down write the image themselves where the product takes the bulk kernels ({@link MatMulKernel#imageTakes}): the
     * same bytes, a launch and a pass over the activations fewer each.
     */
    public static final String PRODUCER_IMAGES_PROPERTY = "dms.cuda.producer-images";
    /**
     * System property: {@code false} writes a decode step's keys and values with their own kernel after RoPE, to
     * compare; the default writes them from the RoPE kernel (the same bits, one launch a layer fewer).
     */
    public static final String FUSED_KV_WRITE_PROPERTY = "dms.cuda.fused-kv-write";
    /**
     * System property: {@code true} (the default) folds a decode step's q/k norm, RoPE, DMS decision and KV write into
     * the tensor-core decode attention on the split grid (attention.cu, dms_attention_decode_tcq_d*: each block
     * normalises its own query heads and key; the same bits), one launch a layer fewer; {@code false} launches
     * {@link QkNormRopeKernel#applyAndWrite} before the attention, to compare. Steps on the balanced grid, with prompt
     * chunks, with {@link #FUSED_KV_WRITE_PROPERTY} off or on the CUDA-core decode are never folded, nor grids past
     * one wave of the folded kernel ({@link AttentionKernel#foldFits}) unless {@code always} (the tests' setting).
     * Measured on the H200 (2026-12-02, docs/benchmarks.md "twenty-second pass", same-run pairs, steady): batch 1 at
     * 4K +0.45%, at 512 tokens +0.7%, batch 8 at 2K +0.25%; 16 x 32K without eviction (384 blocks, two waves of the
     * folded kernel) 27% slower, hence the one-wave rule.
     */
    public static final String FOLD_QKNORM_PROPERTY = "dms.cuda.fold-qknorm";
    /**
     * System property: {@code false} runs the RMSNorm before q|k|v and before gate|up as its own launch, to compare;
     * the default folds it into the product where the product's kernel takes it (the GEMV of up to 8 tokens, the
     * warpgroup decode product of up to 32 on split activations: {@link MatMulKernel#normFolds}), two launches a layer
     * fewer. The last bits differ: the scale multiplies the sums instead of the inputs.
     */
    public static final String FUSED_NORM_PROPERTY = "dms.cuda.fused-norm";
    /**
     * System property: {@code true} times every step's forward pass on the device with CUDA events, and the device's
     * idle gap before it ({@link StepEvents}), for gpubench's {@code device_ms_per_step} and
     * {@code device_gap_ms_per_step}. Off by default (two more events a step).
     */
    public static final String STEP_TIMING_PROPERTY = "dms.cuda.step-timing";
    /**
     * System property: {@code true} times every kernel launch on the device ({@link KernelTimer}) and runs every step
     * launch by launch (a graph's kernels cannot be timed one by one), for gpubench's {@code kernels} line. A
     * diagnostic: the events between launches slow the step itself. Off by default.
     */
    public static final String KERNEL_TIMING_PROPERTY = "dms.cuda.kernel-timing";
    /**
     * System property: the fewest slots an attention split takes (default 256), to compare smaller splits now that
     * the merge loads splits ahead; a whole number from 16.
     */
    public static final String MIN_SPLIT_SLOTS_PROPERTY = "dms.cuda.min-split-slots";
    /**
     * System property: {@code true} (default) lets the decode attention of a one-token step split lists shorter than
     * 16 floors of {@link #MIN_SPLIT_SLOTS_PROPERTY} into smaller parts ({@link AttentionKernel#decodePagesPerSplit});
     * {@code false} keeps the floor for every list, {@code all} lowers it for decode steps of any size too. Batch 1
     * with 512-token prompts: 218.1 against 213.6-213.7 tokens/s steady (H200, 2026-12-01, docs/benchmarks.md
     * nineteenth pass), with 1K and 2K DMS prompts +2.0-2.1%; {@code all} made steps of 4 and 8 tokens 2.3-2.6% slower
     * with 2K prompts (twentieth pass), so larger steps keep the floor.
     */
    public static final String SHORT_SPLITS_PROPERTY = "dms.cuda.short-splits";
    /**
     * System property: what the tensor-core products (steps of more than 8 tokens) take as activations. {@code split}:
     * fp32, each value a bf16 high part plus its bf16 rest, twice the mma work, the CPU's fp32 products to about
     * 2^-17, so the DMS decisions follow the CPU reference's (H200, 2026-11-29: 0 of 30,000 differ in the long golden
     * run; prefill at about three quarters of bf16's tokens/s with the warpgroup products, half with mma.sync).
     * {@code bf16}: rounded to bf16 (2^-9), which sends a decision logit near the threshold to the other side now and
     * then (9 of 30,000, the farthest 0.56 from it). {@code auto} (the default): split for a DMS checkpoint, whose
     * decisions depend on it, bf16 for a dense one.
     */
    public static final String ACTIVATIONS_PROPERTY = "dms.cuda.activations";
    /**
     * System property: how the prefill chunk attention gives q and the probabilities to the tensor cores.
     * {@code split}: a bf16 high part and its rest each, about fp32's accuracy (2^-16), what the DMS decisions need;
     * {@code bf16}: one bf16 each (2^-9), half the mma work (docs/benchmarks.md, thirty-second pass). {@code auto}
     * (the default): as the products' activations ({@link #ACTIVATIONS_PROPERTY}), bf16 where they are bf16 (a dense
     * checkpoint), split where they are split.
     */
    public static final String CHUNK_ATTENTION_PROPERTY = "dms.cuda.chunk-attention";
    /**
     * System property: blocks a plain greedy row of a step of up to {@value SamplingKernel#MAX_SPLIT_ROWS} rows takes
     * in sampling, each a slice of the vocabulary ({@link SamplingKernel.Splits}): {@code auto} (the default, about a
     * block a multiprocessor for the launch, at most 32 a row) or 1 to {@value SamplingKernel#MAX_SPLITS} (1: one
     * block a row, as before). The token is the same either way.
     */
    public static final String SAMPLE_SPLITS_PROPERTY = "dms.cuda.sample-splits";
    private static final long STAGING_BYTES = 64L << 20;
    private static final int TOP = SamplingKernel.TOP;

    private final CudaContext cuda;
    private final WeightUpload weightUpload;
    private final ModelConfig config;
    private final int hidden;
    private final int heads;
    private final int kvHeads;
    private final int headDim;
    private final int group;
    private final int layers;
    private final int inter;
    private final int vocab;
    private final int qDim;
    private final int kvDim;
    private final int qkvDim;
    private final float eps;
    private final boolean dms;

    private final EmbeddingKernel embeddingKernel;
    private final RmsNormKernel rmsNorm;
    private final QkNormRopeKernel qkNormRope;
    private final KvWriteKernel kvWrite;
    private final MatMulKernel matMul;
    private final AttentionKernel attention;
    private final SwiGluKernel swiGlu;
    private final PageTableKernel pageTableKernel;
    private final PageCopyKernel pageCopyKernel;
    private final SamplingKernel sampling;
    private final StepGraphs graphs;
    private final boolean graphsEnabled;
    private final int attentionWaves;  // 0: auto
    private final int balancedBlocks;  // 0: the split grid
    private final boolean balanceAuto;  // the balanced grid only where the lists are uneven (balanceHelps)
    private long balancedSteps;  // steps whose decode attention took the balanced grid (tests ask)
    private final boolean fusedSwiGlu;
    private final boolean producerImages;
    private final boolean fusedNorm;
    private final boolean fusedKvWrite;
    private final Fold fold;
    private long foldedSteps;  // steps whose decode attention folded the q/k norm in (tests ask)
    private final int minSplitSlots;
    private final ShortSplits shortSplits;
    private final boolean splitActivations;
    private final boolean bf16ChunkAttention;  // CHUNK_ATTENTION_PROPERTY
    private final int sampleSplits;  // per row; 0: auto (SamplingKernel.splitsFor)
    private final DeviceBuffer sampleSplitBest;  // SamplingKernel.Splits' scratch, MAX_SPLIT_ROWS rows
    private final DeviceBuffer sampleSplitArrivals;

    private final DeviceBuffer embedding;  // bf16 (vocab, hidden)
    private final DeviceBuffer lmHead;     // bf16 (vocab, hidden): the embedding when tied
    private final DeviceBuffer finalNorm;  // bf16 (hidden)
    private final DeviceBuffer rope;       // float2 (ropePositions, headDim / 2)
    private final int ropePositions;
    private final Layer[] weights;
    private final List<DeviceBuffer> owned = new ArrayList<>();

    private KvGeometry geometry;
    private AttentionKernel.Cache cache;
    private DeviceBuffer tableErrors;      // int32 (1): bad page-table writes, reported by the kernel
    private int[] tableLength;             // (rows, layers, kvHeads): the host's copy of pageTableLen, from the deltas
    private DeviceBuffer promptBits;       // uint32 (rows, vocab / 32), when a sequence asks for penalties
    private DeviceBuffer outputCounts;     // int32 (rows, vocab)
    private Scratch scratch;
    private StepUpload upload;
    private int uploadBytes;
    private final StepEvents stepEvents;
    private final KernelTimer kernelTimer;  // null unless every launch is timed
    private final ArrayDeque<Pending> pending = new ArrayDeque<>(2); // submitted, not yet awaited; oldest first
    private int slot;                      // the host-memory slot (0, 1) of the next step: result and upload
    private long[] sampledIds = new long[0]; // (sampled rows) sequence ids of the step submitted last
    private Scratch sampledScratch;        // whose result holds that step's tokens

    /** One layer's weights on the device, bf16. */
    private record Layer(DeviceBuffer attnNorm, DeviceBuffer wqkv, DeviceBuffer qNorm, DeviceBuffer kNorm,
            DeviceBuffer wo, DeviceBuffer ffnNorm, DeviceBuffer w13, DeviceBuffer w2) {
    }

    /**
     * Every reason this backend cannot serve the model here (not only the first): no driver, no device, no
     * kernels in this build, or shapes the kernels do not take.
     */
    public static List<String> problems(ModelConfig config) {
        List<String> reasons = new ArrayList<>(CudaAvailability.check());
        int d = config.headDim();
        int g = config.groupSize();
        if (!AttentionKernel.chunkSupports(d, g)) {
            reasons.add("head_dim " + d + ": the prefill attention kernel takes head_dim 32, 64 or 128");
        }
        if (g > AttentionKernel.MAX_DECODE_GROUP) {
            reasons.add(g + " query heads per KV head: the decode attention kernel takes up to "
                    + AttentionKernel.MAX_DECODE_GROUP);
        }
        if (d > QkNormRopeKernel.MAX_HEAD_DIM || d > AttentionKernel.MAX_DECODE_HEAD_DIM) {
            reasons.add("head_dim " + d + " is larger than the kernels take (" + AttentionKernel.MAX_DECODE_HEAD_DIM
                    + ")");
        }
        return List.copyOf(reasons);
    }

    /**
     * Streams the checkpoint's weights to the device through a pinned staging buffer (never whole on the
     * Java heap), converting f16/f32 tensors to bf16 on the way.
     */
    /** {@link CudaContext#profiler}: gpubench's {@code --profile-steps}. */
    public void profiler(boolean on) {
        cuda.profiler(on);
    }

    public CudaBackend(Checkpoint checkpoint, CudaContext cuda) {
        this(checkpoint, cuda, Integer.MAX_VALUE);
    }

    /**
     * As above for an engine whose steps take at most {@code largestStep} tokens (the scheduler's step budget): the
     * bulk-copy products' tile images of the weights (their bytes once more, made before the KV pool is sized) are made
     * only for the products that a step of that many tokens gives them ({@link MatMulKernel#bulkWanted}); the
     * two-argument form assumes steps of any size.
     */
    public CudaBackend(Checkpoint checkpoint, CudaContext cuda, int largestStep) {
        this(checkpoint, cuda, !"false".equals(System.getProperty(GRAPHS_PROPERTY)),
                graphCheckEvery(System.getProperty(GRAPH_CHECK_PROPERTY, "256")), largestStep);
    }

    /** As above; {@code graphs} false runs every step launch by launch. */
    CudaBackend(Checkpoint checkpoint, CudaContext cuda, boolean graphs) {
        this(checkpoint, cuda, graphs, graphCheckEvery(System.getProperty(GRAPH_CHECK_PROPERTY, "256")));
    }

    /** As above; every {@code graphCheckEvery}-th step replayed by shape is checked against its graph (0: never). */
    CudaBackend(Checkpoint checkpoint, CudaContext cuda, boolean graphs, int graphCheckEvery) {
        this(checkpoint, cuda, graphs, graphCheckEvery, Integer.MAX_VALUE);
    }

    /** As above for steps of at most {@code largestStep} tokens (the weights' tile images: see above). */
    CudaBackend(Checkpoint checkpoint, CudaContext cuda, boolean graphs, int graphCheckEvery, int largestStep) {
        Checks.require(largestStep >= 1, "largestStep must be at least 1, got " + largestStep);
        this.cuda = cuda;
        this.kernelTimer = Boolean.parseBoolean(System.getProperty(KERNEL_TIMING_PROPERTY)) ? new KernelTimer() : null;
        this.graphsEnabled = graphs && kernelTimer == null;
        this.attentionWaves = attentionWaves(System.getProperty(ATTENTION_WAVES_PROPERTY, "auto"));
        String balance = System.getProperty(ATTENTION_BALANCE_PROPERTY, "auto");
        this.balanceAuto = "auto".equals(balance);
        this.balancedBlocks = balancedBlocks(balance, cuda.info().multiprocessors());
        this.fusedSwiGlu = !"false".equals(System.getProperty(FUSED_SWIGLU_PROPERTY));
        this.producerImages = !"false".equals(System.getProperty(PRODUCER_IMAGES_PROPERTY));
        this.fusedNorm = !"false".equals(System.getProperty(FUSED_NORM_PROPERTY));
        this.fusedKvWrite = !"false".equals(System.getProperty(FUSED_KV_WRITE_PROPERTY));
        this.fold = fold(System.getProperty(FOLD_QKNORM_PROPERTY, "true"));
        this.minSplitSlots = minSplitSlots(System.getProperty(MIN_SPLIT_SLOTS_PROPERTY,
                String.valueOf(AttentionKernel.MIN_SPLIT_SLOTS)));
        this.shortSplits = shortSplits(System.getProperty(SHORT_SPLITS_PROPERTY, "true"));
        this.sampleSplits = sampleSplits(System.getProperty(SAMPLE_SPLITS_PROPERTY, "auto"));
        this.splitActivations = splitActivations(System.getProperty(ACTIVATIONS_PROPERTY, "auto"),
                checkpoint.config().isDms());
        this.bf16ChunkAttention = !chunkAttentionSplit(System.getProperty(CHUNK_ATTENTION_PROPERTY, "auto"),
                splitActivations);
        this.config = checkpoint.config();
        this.hidden = config.hiddenSize();
        this.heads = config.numHeads();
        this.kvHeads = config.numKvHeads();
        this.headDim = config.headDim();
        this.group = config.groupSize();
        this.layers = config.numLayers();
        this.inter = config.intermediateSize();
        this.vocab = config.vocabSize();
        this.qDim = config.qDim();
        this.kvDim = config.kvDim();
        this.qkvDim = qDim + 2 * kvDim;
        this.eps = (float) config.rmsNormEps();
        this.dms = config.isDms();
        List<String> reasons = problems(config);
        if (!reasons.isEmpty()) {
            throw new CudaUnavailableException(reasons);
        }
        cuda.makeCurrent();
        this.embeddingKernel = new EmbeddingKernel(cuda);
        this.rmsNorm = new RmsNormKernel(cuda);
        this.qkNormRope = new QkNormRopeKernel(cuda);
        this.kvWrite = new KvWriteKernel(cuda);
        this.matMul = new MatMulKernel(cuda);
        this.attention = new AttentionKernel(cuda);
        this.swiGlu = new SwiGluKernel(cuda);
        this.pageTableKernel = new PageTableKernel(cuda);
        this.pageCopyKernel = new PageCopyKernel(cuda);
        this.sampling = new SamplingKernel(cuda);
        this.graphs = new StepGraphs(cuda, graphCheckEvery);
        this.stepEvents = new StepEvents(cuda, Boolean.parseBoolean(System.getProperty(STEP_TIMING_PROPERTY)));
        if (kernelTimer != null) {
            cuda.kernelTimer(kernelTimer);  // (a backend without one leaves the context's as it is)
        }
        boolean tied = config.tieWordEmbeddings() && !checkpoint.has("lm_head.weight");
        long uploadStart = System.nanoTime();
        long uploadBytes = totalBytes(checkpoint, tied);
        try (PinnedBuffer staging = cuda.allocatePinned(STAGING_BYTES)) {
            Uploader uploader = new Uploader(staging, uploadBytes);
            this.embedding = uploader.put(checkpoint.tensor("model.embed_tokens.weight"));
            this.lmHead = tied ? embedding : uploader.put(checkpoint.tensor("lm_head.weight"));
            this.finalNorm = uploader.put(checkpoint.tensor("model.norm.weight"));
            this.weights = new Layer[layers];
            for (int l = 0; l < layers; l++) {
                String p = "model.layers." + l + ".";
                weights[l] = new Layer(uploader.put(checkpoint.tensor(p + "input_layernorm.weight")),
                        uploader.put(checkpoint.tensor(p + "self_attn.q_proj.weight"),
                                checkpoint.tensor(p + "self_attn.k_proj.weight"),
                                checkpoint.tensor(p + "self_attn.v_proj.weight")),
                        uploader.put(checkpoint.tensor(p + "self_attn.q_norm.weight")),
                        uploader.put(checkpoint.tensor(p + "self_attn.k_norm.weight")),
                        uploader.put(checkpoint.tensor(p + "self_attn.o_proj.weight")),
                        uploader.put(checkpoint.tensor(p + "post_attention_layernorm.weight")),
                        uploader.put(checkpoint.tensor(p + "mlp.gate_proj.weight"),
                                checkpoint.tensor(p + "mlp.up_proj.weight")),
                        uploader.put(checkpoint.tensor(p + "mlp.down_proj.weight")));
            }
        }
        this.weightUpload = new WeightUpload(uploadBytes, (System.nanoTime() - uploadStart) / 1e9);
        long imageBytes = 0;
        if (matMul.bulkEnabled()) {
            // The bulk-copy products' tile images of the layers' weights: their bytes once more, for prompt chunks
            // 1.4x faster (MatMulKernel.BULK_PROPERTY=false saves the memory).
            for (Layer w : weights) {
                imageBytes += tile(w.wqkv(), qkvDim, hidden, largestStep) + tile(w.wo(), hidden, qDim, largestStep)
                        + tile(w.w13(), 2 * inter, hidden, largestStep) + tile(w.w2(), hidden, inter, largestStep);
            }
            cuda.synchronize();
        }
        this.sampleSplitBest = own(cuda.allocate(SamplingKernel.Splits.bestBytes()));
        this.sampleSplitArrivals = own(cuda.allocate(4L * SamplingKernel.MAX_SPLIT_ROWS));
        sampleSplitArrivals.fill(0);
        this.ropePositions = config.maxPositionEmbeddings();
        this.rope = own(cuda.upload(QkNormRopeKernel.ropeTable(headDim, config.ropeTheta(), ropePositions)));
        log.info("CUDA backend on {}: {} of bf16 weights on the device and {} of their tile images ({}, steps of up"
                + " to {} tokens), {} free; programmatic dependent launch {}", cuda.info(),
                gb(totalBytes(checkpoint, tied)), gb(imageBytes),
                MatMulKernel.BULK_PROPERTY + "=" + System.getProperty(MatMulKernel.BULK_PROPERTY, "true"),
                largestStep == Integer.MAX_VALUE ? "any number of" : largestStep, gb(freeMemory()), cuda.pdlState());
    }

    /**
     * A weight's tile image for the bulk-copy products where a step of up to {@code largestStep} tokens gives them
     * its product; its bytes (0: none).
     */
    private long tile(DeviceBuffer w, int m, int k, int largestStep) {
        return matMul.bulkWanted(largestStep, m, k) && w.aligned(16) ? matMul.tileWeights(w, m, k) : 0;
    }

    /** The check interval of {@link #GRAPH_CHECK_PROPERTY}: a whole number from 0. */
    static int graphCheckEvery(String value) {
        return wholeNumber(value, 0, Integer.MAX_VALUE,
                GRAPH_CHECK_PROPERTY + " must be a whole number from 0 (0: never check)");
    }

    /** Which decode steps take the short-list floor ({@link #SHORT_SPLITS_PROPERTY}: false, true, all). */
    enum ShortSplits {
        NONE, ONE_TOKEN, ALL;

        boolean lowers(int decodeTokens) {
            return this == ALL || this == ONE_TOKEN && decodeTokens == 1;
        }
    }

    /** {@link #SHORT_SPLITS_PROPERTY}'s value; anything but true, false or all is refused. */
    static ShortSplits shortSplits(String value) {
        int at = List.of("false", "true", "all").indexOf(value);
        if (at < 0) {
            throw new IllegalArgumentException(SHORT_SPLITS_PROPERTY + " must be true, false or all, got '" + value
                    + "'");
        }
        return ShortSplits.values()[at];
    }

    /** {@link #SAMPLE_SPLITS_PROPERTY}'s value: 0 for auto, else a whole number from 1 to the kernel's most. */
    static int sampleSplits(String value) {
        return "auto".equals(value.trim()) ? 0 : wholeNumber(value, 1, SamplingKernel.MAX_SPLITS,
                SAMPLE_SPLITS_PROPERTY + " must be auto or a whole number from 1 to " + SamplingKernel.MAX_SPLITS);
    }

    /** The fewest slots an attention split takes: a whole number from 16. */
    static int minSplitSlots(String value) {
        return wholeNumber(value, 16, Integer.MAX_VALUE, MIN_SPLIT_SLOTS_PROPERTY + " must be a whole number from 16");
    }

    /** {@link #FOLD_QKNORM_PROPERTY}: never, within one wave of the folded kernel, or always. */
    enum Fold {
        NONE, ONE_WAVE, ALWAYS;

        /** Whether a split grid of {@code blocks} blocks folds ({@link AttentionKernel#foldFits}). */
        boolean folds(long blocks, int multiprocessors) {
            return this == ALWAYS || this == ONE_WAVE && AttentionKernel.foldFits(blocks, multiprocessors);
        }
    }

    /** {@link #FOLD_QKNORM_PROPERTY}'s value: false, true or always (trimmed); anything else is refused. */
    static Fold fold(String value) {
        return switch (value.trim()) {
            case "false" -> Fold.NONE;
            case "true" -> Fold.ONE_WAVE;
            case "always" -> Fold.ALWAYS;
            default -> throw new IllegalArgumentException(FOLD_QKNORM_PROPERTY + " must be true, always or false, got '"
                    + value + "'");
        };
    }

    /** {@code split} (true), {@code bf16} (false), or {@code auto}: split for a DMS checkpoint. */
    static boolean splitActivations(String value, boolean dmsCheckpoint) {
        return switch (value.trim()) {
            case "split" -> true;
            case "bf16" -> false;
            case "auto" -> dmsCheckpoint;
            default -> throw new IllegalArgumentException(ACTIVATIONS_PROPERTY + " must be auto, split or bf16, got '"
                    + value + "'");
        };
    }

    /** {@link #CHUNK_ATTENTION_PROPERTY}: {@code split} (true), {@code bf16} (false), or {@code auto} (as the products). */
    static boolean chunkAttentionSplit(String value, boolean splitActivations) {
        return switch (value.trim()) {
            case "split" -> true;
            case "bf16" -> false;
            case "auto" -> splitActivations;
            default -> throw new IllegalArgumentException(CHUNK_ATTENTION_PROPERTY
                    + " must be auto, split or bf16, got '" + value + "'");
        };
    }

    /** 0 for {@code auto}, else the waves asked for. */
    static int attentionWaves(String value) {
        return "auto".equals(value) ? 0
                : wholeNumber(value, 1, 16, ATTENTION_WAVES_PROPERTY + " must be auto or 1 to 16");
    }

    /**
     * 0 for {@code false}, three blocks a multiprocessor for {@code true} and {@code auto}, else the blocks asked for.
     */
    static int balancedBlocks(String value, int multiprocessors) {
        return "false".equals(value) ? 0 : "true".equals(value) || "auto".equals(value) ? 3 * multiprocessors
                : wholeNumber(value, 1, 65535,
                        ATTENTION_BALANCE_PROPERTY + " must be auto, false, true or 1 to 65535");
    }

    /**
     * Whether {@code auto} takes the balanced grid: the split grid would take 2 or more waves for lists this uneven
     * ({@code waves}, {@link #autoWaves}) and the layer with the fewest pages still gives every one of the
     * {@code blocks} blocks {@code minPages} (the split grid's smallest split) or more.
     */
    static boolean balanceHelps(int waves, long fewestPages, int blocks, int minPages) {
        return waves >= 2 && fewestPages >= (long) blocks * minPages;
    }

    /** {@code value} as a whole number in [min, max], or an error that starts with {@code rule}. */
    private static int wholeNumber(String value, int min, int max, String rule) {
        try {
            int number = Integer.parseInt(value.trim());
            if (number >= min && number <= max) {
                return number;
            }
        } catch (NumberFormatException e) {
            // the message below
        }
        throw new IllegalArgumentException(rule + ", got '" + value + "'");
    }

    /**
     * Waves of decode blocks for page lists whose longest is {@code longest} and whose sum over {@code lists} lists is
     * {@code total}: the power of two at or above longest / mean - 1/4, 1 to 8, so that about a wave of blocks has
     * pages to read (the blocks of a list as long as the mean one have a 1 / ratio share of its splits). A power of
     * two, so that the split (a launch argument of the step graph) changes rarely; the quarter keeps lists of about
     * equal length in one wave.
     */
    static int autoWaves(int longest, long total, long lists) {
        if (total <= 0 || lists <= 0) {
            return 1;
        }
        double ratio = (double) longest * lists / total;
        int waves = 1;
        while (waves < 8 && waves < ratio - 0.25) {
            waves <<= 1;
        }
        return waves;
    }

    private static long totalBytes(Checkpoint checkpoint, boolean tied) {
        long bytes = 0;
        for (String name : checkpoint.tensorNames()) {
            if (!(tied && name.equals("lm_head.weight"))) {
                bytes += checkpoint.tensor(name).numel() * 2;
            }
        }
        return bytes;
    }

    /** Streams tensors row by row into device buffers, logging progress every tenth. */
    private final class Uploader {
        private final PinnedBuffer staging;
        private final long total;
        private long done;
        private int reported;

        Uploader(PinnedBuffer staging, long total) {
            this.staging = staging;
            this.total = total;
        }

        /** The tensors' rows one after the other in one buffer (a fused product's weight). */
        DeviceBuffer put(Tensor... parts) {
            long bytes = 0;
            for (Tensor t : parts) {
                bytes += (long) t.rows() * t.cols() * 2;
            }
            DeviceBuffer device = own(cuda.allocate(bytes));
            long at = 0;
            for (Tensor t : parts) {
                int rowBytes = t.cols() * 2;
                int perCopy = (int) Math.max(1, STAGING_BYTES / rowBytes);
                for (int row = 0; row < t.rows(); row += perCopy) {
                    int count = Math.min(perCopy, t.rows() - row);
                    ByteBuffer buffer = staging.buffer().duplicate().order(ByteOrder.LITTLE_ENDIAN);
                    buffer.clear();
                    t.copyRowsAsBf16(row, count, buffer);
                    device.copyFromAsync(staging, 0, at, (long) count * rowBytes);
                    cuda.synchronize(); // the staging buffer is reused by the next copy
                    at += (long) count * rowBytes;
                    progress((long) count * rowBytes);
                }
            }
            return device;
        }

        private void progress(long bytes) {
            done += bytes;
            int tenth = (int) (done * 10 / Math.max(1, total));
            if (tenth > reported) {
                reported = tenth;
                log.info("weights to the device: {} of {} ({}%)", gb(done), gb(total), tenth * 10);
            }
        }
    }

    private DeviceBuffer own(DeviceBuffer buffer) {
        owned.add(buffer);
        return buffer;
    }

    @Override
    public String name() {
        return "cuda";
    }

    @Override
    public ModelConfig config() {
        return config;
    }

    /** Steps so far whose decode attention folded the q/k norm in ({@link #FOLD_QKNORM_PROPERTY}). */
    long foldedSteps() {
        return foldedSteps;
    }

    /** Steps so far whose decode attention took the balanced grid ({@link #ATTENTION_BALANCE_PROPERTY}). */
    long balancedSteps() {
        return balancedSteps;
    }

    /** Keys and values in bf16, a position (int32) and a flag (byte) per slot. */
    @Override
    public long kvBytesPerPage(int pageSize) {
        return (long) pageSize * (2L * headDim * 2 + Integer.BYTES + 1);
    }

    /** Free device memory now, weights already loaded. */
    @Override
    public long kvMemoryAvailable() {
        return freeMemory();
    }

    private long freeMemory() {
        cuda.makeCurrent();
        long[] free = {0};
        long[] total = {0};
        CudaContext.check(JCudaDriver.cuMemGetInfo(free, total), "cuMemGetInfo");
        return free[0];
    }

    @Override
    public void allocateKv(KvGeometry geometry) {
        if (cache != null) {
            throw new IllegalStateException("the KV store is already allocated");
        }
        cuda.makeCurrent();
        long slots = geometry.slots();
        long tables = (long) geometry.rows() * layers * kvHeads;
        DeviceBuffer keyCache = own(cuda.allocate(slots * headDim * 2));
        DeviceBuffer valueCache = own(cuda.allocate(slots * headDim * 2));
        DeviceBuffer slotPos = own(cuda.allocate(slots * Integer.BYTES));
        DeviceBuffer slotFlag = own(cuda.allocate(slots));
        DeviceBuffer pageTable = own(cuda.allocate(tables * geometry.maxPagesPerHead() * Integer.BYTES));
        DeviceBuffer pageTableLen = own(cuda.allocate(tables * Integer.BYTES));
        slotPos.fill(0xff);   // position −1: empty
        slotFlag.fill(0);
        pageTable.fill(0xff); // −1: no page
        pageTableLen.fill(0);
        this.tableLength = new int[Math.toIntExact(tables)];
        this.tableErrors = own(cuda.allocate(Integer.BYTES));
        tableErrors.fill(0);
        this.geometry = geometry;
        this.cache = new AttentionKernel.Cache(keyCache, valueCache, slotPos, slotFlag, geometry.pageSize(),
                geometry.pageCount(), pageTable, pageTableLen, geometry.rows(), layers, kvHeads,
                geometry.maxPagesPerHead(), headDim);
        log.info("KV cache on the device: {} pages of {} tokens ({}), page tables for {} sequences ({})",
                geometry.pageCount(), geometry.pageSize(), gb(slots * (4L * headDim + 5)), geometry.rows(),
                gb(tables * (geometry.maxPagesPerHead() + 1L) * 4));
    }

    /**
     * The device's KV metadata at one moment, for tests: page tables, their lengths, slot positions and flags, and the
     * error bits the page-table, copy and move kernels raise on an index out of range (0: none).
     */
    record KvMetadata(int[] pageTable, int[] pageTableLen, int[] slotPos, byte[] slotFlag, int maxPagesPerHead,
            int pageSize, int tableErrors) {
    }

    /** For tests: waits for the steps queued so far and reads the device's KV metadata back. */
    KvMetadata kvMetadata() {
        cuda.makeCurrent();
        cuda.synchronize();
        return new KvMetadata(cache.pageTable().toInts(), cache.pageTableLen().toInts(), cache.slotPos().toInts(),
                cache.slotFlag().toBytes(), cache.maxPagesPerHead(), cache.pageSize(), tableErrors.toInts()[0]);
    }

    /**
     * For tests: applies a page-table delta on its own, as the next step would before its forward pass, and waits for
     * it, so that {@link #kvMetadata} can be compared with the host's bookkeeping after a commit (whose delta otherwise
     * travels with the next step). No step may be pending.
     */
    void applyDeltaAlone(PageTableDelta delta) {
        if (cache == null || !pending.isEmpty()) {
            throw new IllegalStateException("a delta applies on its own only between steps, after allocateKv");
        }
        cuda.makeCurrent();
        checkTableWrites(delta, tableLength.length, geometry.maxPagesPerHead());
        noteLengths(delta);
        applyPageTables(uploadInputs(new Layout(new StepPlan(List.of(), delta)), delta), delta);
        cuda.synchronize();
    }

    /**
     * Refuses, before anything is queued, a delta whose page-table writes or lengths fall outside their table: the
     * device tables lie end to end ({@code tables} of {@code maxPagesPerHead} entries), and dms_page_table_apply
     * checks only the flat index, so entry {@code maxPagesPerHead} of one table would land silently in the next
     * table's entry 0, and a length past the entries would let the attention read the next table's pages. (Page ids,
     * fresh pages, copies and moves the kernels check on the device: {@link #tableErrorMessage}.)
     */
    static void checkTableWrites(PageTableDelta delta, int tables, int maxPagesPerHead) {
        int[] writes = delta.pageWrites();
        for (int i = 0; i < writes.length; i += 3) {
            if (writes[i] < 0 || writes[i] >= tables || writes[i + 1] < 0 || writes[i + 1] >= maxPagesPerHead) {
                throw new IllegalArgumentException("page-table delta refused before the step: write " + i / 3
                        + " sets entry " + writes[i + 1] + " of table " + writes[i] + ", outside the " + tables
                        + " tables of " + maxPagesPerHead + " entries each");
            }
        }
        int[] lengths = delta.lengthWrites();
        for (int i = 0; i < lengths.length; i += 2) {
            if (lengths[i] < 0 || lengths[i] >= tables || lengths[i + 1] < 0 || lengths[i + 1] > maxPagesPerHead) {
                throw new IllegalArgumentException("page-table delta refused before the step: length write " + i / 2
                        + " gives table " + lengths[i] + " length " + lengths[i + 1] + ", outside the " + tables
                        + " tables of " + maxPagesPerHead + " entries each");
            }
        }
    }

    /** The host's copy of the tables' lengths (what the attention's splits are sized by) after a delta. */
    private void noteLengths(PageTableDelta delta) {
        int[] lengths = delta.lengthWrites();
        for (int i = 0; i < lengths.length; i += 2) {
            tableLength[lengths[i]] = lengths[i + 1];
        }
    }

    /**
     * Host time spent in {@link #step} since the last call, for gpubench: before the step's synchronisation
     * (page-table lengths, inputs, recording or launching), waiting in it, and after it (the outputs). With
     * {@link #STEP_TIMING_PROPERTY}, also the device's time on the steps' forward passes and the idle gaps before
     * them ({@code gaps} of them: none before the first); else those are 0.
     */
    public record StepTimes(long steps, long beforeSyncNanos, long syncNanos, long afterSyncNanos, long queueNanos,
            long deviceNanos, long gapNanos, long gaps) {
    }

    private long timedSteps;
    private long beforeSyncNanos;
    private long syncNanos;
    private long afterSyncNanos;
    private long queueNanos;

    /**
     * One kernel's launches ({@link #KERNEL_TIMING_PROPERTY}): their number, their summed device nanoseconds and the
     * shortest (a launch's time can include the host's latency, {@link KernelTimer}).
     */
    public record KernelTime(String kernel, long launches, long nanos, long shortestNanos) {
    }

    /**
     * With {@link #KERNEL_TIMING_PROPERTY}: each kernel's launches and device time since the last call, the longest
     * total first; empty otherwise.
     */
    public List<KernelTime> takeKernelTimes() {
        return kernelTimer == null ? List.of() : kernelTimer.take();
    }

    /** As above; {@code queueNanos}, part of the time before the synchronisation, queues the forward pass. */
    public StepTimes takeStepTimes() {
        long[] device = stepEvents.take();
        StepTimes times = new StepTimes(timedSteps, beforeSyncNanos, syncNanos, afterSyncNanos, queueNanos,
                device[0], device[1], device[2]);
        queueNanos = 0;
        timedSteps = 0;
        beforeSyncNanos = 0;
        syncNanos = 0;
        afterSyncNanos = 0;
        return times;
    }

    @Override
    public StepOutput step(StepPlan plan) {
        return submit(plan).await();
    }

    /**
     * Queues the step: page-table delta, inputs, the forward pass (a graph where its shape allows), the copy of
     * its results into this slot's host buffer, and the slot's event. Fed-back tokens are copied on the device from
     * the result of the step submitted before, which runs first on the stream.
     */
    @Override
    public PendingStep submit(StepPlan plan) {
        if (cache == null) {
            throw new IllegalStateException("allocateKv must come before the first step");
        }
        if (pending.size() == 2) {
            throw new IllegalStateException("two steps are pending; await the older before submitting another");
        }
        if (!pending.isEmpty() && pending.peekLast().in.keepLogits) {
            throw new IllegalStateException("await the step that returns logits before submitting another");
        }
        long entered = System.nanoTime();
        checkTableWrites(plan.pageTables(), tableLength.length, geometry.maxPagesPerHead());
        cuda.makeCurrent();
        noteLengths(plan.pageTables());
        Layout in = new Layout(plan);
        int[] feedFrom = feedSources(in);
        boolean fits = scratch != null && scratch.fits(in.n, in.logitRows.length, in.sequences);
        if (!fits && (!pending.isEmpty() || feedFrom != null)) {
            throw new IllegalStateException("a step of " + in.n + " tokens outgrows the scratch that "
                    + (pending.isEmpty() ? "holds the tokens it feeds back" : "the step pending before it uses")
                    + "; run it after that step, with its tokens");
        }
        ensureScratch(in.n, in.logitRows.length, in.sequences);
        Parts parts = uploadInputs(in, plan.pageTables());
        Scratch s = scratch;
        if (feedFrom != null) {
            feedBack(feedFrom, parts.tokens);
        }
        boolean small = in.n <= MatMulKernel.MAX_GEMV_TOKENS;
        reserveWorkspaces(in, small);

        applyPageTables(parts, plan.pageTables());
        countTokens(in, parts);
        long queued = System.nanoTime();
        stepEvents.begin();
        if (in.decodeOnly && graphsEnabled) {
            graphs.run(graphShape(in, parts), () -> forward(in, parts, small));
        } else {
            forward(in, parts, small);
        }
        // The step's one copy back, then its mark: the host waits for that alone (Pending.await).
        Pending step = new Pending(in, slot, s);
        s.result.copyToAsync(0, s.resultHost[slot], 0, s.resultBytes(in.n));
        tableErrors.copyToAsync(0, s.tableErrorsHost[slot], 0, Integer.BYTES);  // 4 bytes more in the same wait
        stepEvents.record(slot);
        slot ^= 1;
        long launched = System.nanoTime();
        queueNanos += launched - queued;
        beforeSyncNanos += launched - entered;
        long[] ids = new long[in.sampled];
        for (int i = 0; i < in.sequences; i++) {
            if (in.sampleRow[i] >= 0) {
                ids[in.sampleRow[i]] = in.steps.get(i).sequenceId();
            }
        }
        sampledIds = ids;
        sampledScratch = s;
        pending.addLast(step);
        return step;
    }

    /** A submitted step: its layout, and where its results land. */
    private final class Pending implements PendingStep {
        final Layout in;
        final int slot;
        final Scratch scratch;

        Pending(Layout in, int slot, Scratch scratch) {
            this.in = in;
            this.slot = slot;
            this.scratch = scratch;
        }

        @Override
        public StepOutput await() {
            if (pending.peekFirst() != this) {
                throw new IllegalStateException("steps are awaited once each, in the order they were submitted");
            }
            long waiting = System.nanoTime();
            try {
                stepEvents.await(slot);
                int bits = scratch.tableErrorsHost[slot].buffer().duplicate().order(ByteOrder.LITTLE_ENDIAN).getInt(0);
                if (bits != 0) {
                    cuda.makeCurrent();
                    tableErrors.fill(0);  // the word only accumulates: cleared (after the queued steps) for those after
                    throw new CudaException(tableErrorMessage(bits));
                }
            } catch (RuntimeException e) {
                pending.clear();  // the steps queued behind a failed one are lost with it
                stepEvents.reset();
                sampledIds = new long[0];
                throw e;
            }
            pending.removeFirst();
            long synced = System.nanoTime();
            if (kernelTimer != null) {
                kernelTimer.collect();  // the step's launches have run
            }
            StepOutput output = outputs(in, scratch, slot);
            timedSteps++;
            syncNanos += synced - waiting;
            afterSyncNanos += System.nanoTime() - synced;
            return output;
        }
    }

    /**
     * For each token, the sampled row of the step submitted before whose token it feeds back, or −1; null when the
     * step feeds back none.
     */
    private int[] feedSources(Layout in) {
        int[] from = null;
        for (int i = 0; i < in.sequences; i++) {
            SequenceStep step = in.steps.get(i);
            if (!step.fedBack()) {
                continue;
            }
            int row = -1;
            for (int r = 0; r < sampledIds.length && row < 0; r++) {
                row = sampledIds[r] == step.sequenceId() ? r : -1;
            }
            if (row < 0) {
                throw new IllegalArgumentException("sequence " + step.sequenceId() + " feeds back a token, but it"
                        + " sampled none in the step before");
            }
            if (from == null) {
                from = new int[in.n];
                Arrays.fill(from, -1);
            }
            from[in.firstToken[i]] = row;
        }
        if (from != null && sampledScratch != scratch) {
            throw new IllegalStateException("the step before was sampled into another scratch");
        }
        return from;
    }

    /** Copies fed-back tokens from the step before's sampled rows, one copy per run of consecutive rows. */
    private void feedBack(int[] from, DeviceBuffer tokens) {
        DeviceBuffer sampled = scratch.result;
        for (int t = 0; t < from.length; ) {
            if (from[t] < 0) {
                t++;
                continue;
            }
            int start = t;
            while (t + 1 < from.length && from[t + 1] == from[t] + 1) {
                t++;
            }
            t++;
            tokens.copyFromAsync(sampled, scratch.tokensAt + 4L * from[start], 4L * start, 4L * (t - start));
        }
    }

    /** Embedding to sampling: kernels only, the same launches for the same shapes (a decode step's graph). */
    private void forward(Layout in, Parts parts, boolean small) {
        Scratch s = scratch;
        embeddingKernel.gather(embedding, vocab, hidden, parts.tokens, in.n, s.x);
        DeviceBuffer decisions = dms ? s.result.slice(s.decisionsAt, (long) in.n * layers * kvHeads) : null;
        boolean f32 = small || splitActivations;  // the products' activations: fp32, else bf16
        for (int l = 0; l < layers; l++) {
            Layer w = weights[l];
            MatMulKernel.Norm attnNorm = foldedNorm(small, in.n, qkvDim, w.attnNorm(), w.wqkv());
            DeviceBuffer qkvImage = producerImage(small, in.n, qkvDim, hidden, w.wqkv());
            if (qkvImage != null) {
                rmsNorm.applyToImage(s.x, null, w.attnNorm(), in.n, hidden, eps, qkvImage, f32);
                projectImage(f32, qkvImage, w.wqkv(), s.qkv, qkvDim, in.n, qkvDim, hidden, false);
            } else {
                if (attnNorm == null) {
                    rmsNorm.apply(s.x, null, w.attnNorm(), null, in.n, in.n, hidden, eps, f32 ? s.xb : null,
                            f32 ? null : s.xbBf16);
                }
                project(small, attnNorm != null ? s.x : s.xb, s.xbBf16, hidden, w.wqkv(), s.qkv, qkvDim, in.n, qkvDim,
                        hidden, false, attnNorm);
            }
            DeviceBuffer k = s.qkv.slice((long) qDim * 4, s.qkv.bytes() - (long) qDim * 4);
            DeviceBuffer v = s.qkv.slice((long) (qDim + kvDim) * 4, s.qkv.bytes() - (long) (qDim + kvDim) * 4);
            double alphaScale = dms ? config.dms().alphaScale() : 0;
            double alphaOffset = dms ? config.dms().initialAlphaOffset() : 0;
            QkNormRopeKernel.Folded folded = null;
            if (in.decodeFolded) {
                // The decode attention normalises, rotates, decides and writes the keys and values itself.
                folded = QkNormRopeKernel.fold(s.qkv, qkvDim, k, qkvDim, w.qNorm(), w.kNorm(), rope, ropePositions,
                        parts.positions, in.n, heads, kvHeads, headDim, eps, dms, alphaScale, alphaOffset,
                        parts.seqOfToken, parts.thresholds, layers, l, decisions,
                        new QkNormRopeKernel.KvTarget(v, qkvDim, parts.slots, parts.prevSlots, in.sequences, cache));
            } else if (in.decodeOnly && fusedKvWrite) {
                // A decode step: the keys and values go to their slots from the RoPE kernel itself.
                qkNormRope.applyAndWrite(s.qkv, qkvDim, k, qkvDim, w.qNorm(), w.kNorm(), rope, ropePositions,
                        parts.positions, in.n, heads, kvHeads, headDim, eps, dms, alphaScale, alphaOffset,
                        parts.seqOfToken, parts.thresholds, layers, l, decisions,
                        new QkNormRopeKernel.KvTarget(v, qkvDim, parts.slots, parts.prevSlots, in.sequences, cache));
            } else {
                qkNormRope.apply(s.qkv, qkvDim, k, qkvDim, w.qNorm(), w.kNorm(), rope, ropePositions, parts.positions,
                        in.n, heads, kvHeads, headDim, eps, dms, alphaScale, alphaOffset, parts.seqOfToken,
                        parts.thresholds, in.sequences, layers, l, decisions);
                kvWrite.write(k, qkvDim, v, qkvDim, parts.slots, parts.prevSlots, decisions, parts.positions,
                        parts.seqOfToken, parts.seqFirst, parts.seqLength, in.n, in.sequences, layers, l, kvHeads,
                        headDim, cache.keyCache(), cache.valueCache(), cache.slotPos(), cache.slotFlag(),
                        cache.slotCount());
            }
            attend(in, parts, l, small, folded);
            project(small, s.att, s.attBf16, qDim, w.wo(), s.x, hidden, in.n, hidden, qDim, true, null);
            MatMulKernel.Norm ffnNorm = foldedNorm(small, in.n, 2 * inter, w.ffnNorm(), w.w13());
            DeviceBuffer guImage = producerImage(small, in.n, 2 * inter, hidden, w.w13());
            if (guImage != null) {
                rmsNorm.applyToImage(s.x, null, w.ffnNorm(), in.n, hidden, eps, guImage, f32);
            } else if (ffnNorm == null) {
                rmsNorm.apply(s.x, null, w.ffnNorm(), null, in.n, in.n, hidden, eps, f32 ? s.xb : null,
                        f32 ? null : s.xbBf16);
            }
            DeviceBuffer ffnIn = ffnNorm != null ? s.x : s.xb;
            DeviceBuffer up = s.gu.slice((long) inter * 4, s.gu.bytes() - (long) inter * 4);
            DeviceBuffer hImage = null;  // down's activations as their tile image, written by SwiGLU
            if (small && fusedSwiGlu) {
                // h = silu(gate) · up into gu's first half, in the w1|w3 GEMV's own launch.
                matMul.gemvSwiGlu(ffnIn, hidden, w.w13(), s.gu, 2 * inter, in.n, inter, hidden, ffnNorm);
            } else if (guImage == null && fusedSwiGlu && splitActivations
                    && matMul.wgsSwiGluTakes(ffnIn, hidden, w.w13(), in.n, inter, hidden, ffnNorm)) {
                // 9 to 32 tokens on compute 9.0: the same in the warpgroup decode product's launch (its epilogue).
                projectSwiGlu(ffnIn, w.w13(), in.n, ffnNorm);
            } else {
                if (guImage != null) {
                    projectImage(f32, guImage, w.w13(), s.gu, 2 * inter, in.n, 2 * inter, hidden, false);
                } else {
                    project(small, ffnIn, s.xbBf16, hidden, w.w13(), s.gu, 2 * inter, in.n, 2 * inter, hidden, false,
                            ffnNorm);
                }
                hImage = producerImage(small, in.n, hidden, inter, w.w2());
                if (hImage != null) {
                    swiGlu.applyToImage(s.gu, 2 * inter, up, 2 * inter, in.n, inter, hImage, f32);
                } else {
                    swiGlu.apply(s.gu, 2 * inter, up, 2 * inter, f32 ? s.gu : null, 2 * inter,
                            f32 ? null : s.hBf16, inter, in.n, inter);
                }
            }
            if (hImage != null) {
                projectImage(f32, hImage, w.w2(), s.x, hidden, in.n, hidden, inter, true);
            } else if (f32) {
                project(small, s.gu, null, 2 * inter, w.w2(), s.x, hidden, in.n, hidden, inter, true, null);
            } else {
                project(false, null, s.hBf16, inter, w.w2(), s.x, hidden, in.n, hidden, inter, true, null);
            }
        }
        int rows = in.logitRows.length;
        if (rows > 0) {
            boolean smallRows = rows <= MatMulKernel.MAX_GEMV_TOKENS;
            boolean rowsF32 = smallRows || splitActivations;
            rmsNorm.apply(s.x, null, finalNorm, parts.logitRows, rows, in.n, hidden, eps, rowsF32 ? s.normed : null,
                    rowsF32 ? null : s.normedBf16);
            project(smallRows, s.normed, s.normedBf16, hidden, lmHead, s.logits, vocab, rows, vocab, hidden, false,
                    null);
            if (in.sampled > 0) {
                sampling.sample(s.logits, vocab, in.keepLogits ? s.processed : s.logits, vocab, in.sampled, vocab,
                        parts.sampleParams, parts.maskWords, parts.biasIds, parts.biasValues, promptBits,
                        outputCounts, geometry.rows(), s.result.slice(s.tokensAt, in.sampled * 4L),
                        s.result.slice(s.logprobAt, in.sampled * 4L), s.result.slice(s.topIdsAt, in.sampled * 4L * TOP),
                        s.result.slice(s.topLogprobsAt, in.sampled * 4L * TOP), sampleSplits(in.sampled));
            }
        }
    }

    /** How sampling splits {@code rows} rows ({@link #SAMPLE_SPLITS_PROPERTY}). */
    private SamplingKernel.Splits sampleSplits(int rows) {
        int splits = SamplingKernel.splitsFor(rows, sampleSplits, cuda.info().multiprocessors());
        return splits == 1 ? SamplingKernel.Splits.NONE
                : new SamplingKernel.Splits(splits, sampleSplitBest, sampleSplitArrivals);
    }

    /**
     * What a decode step's {@link #forward} launches depend on besides the model: the counts and split that shape
     * them, whether raw logits go back, and every buffer they touch that can change (as allocation and offset: the
     * step's inputs, the scratch, the split partials, the products' workspace, the penalty counts). The page-table
     * and count arrays come after these in the upload and are read by launches outside the graph. Equal shapes
     * record equal launches, which {@link StepGraphs} checks every so often.
     */
    private long[] graphShape(Layout in, Parts p) {
        DeviceBuffer[] read = {p.tokens, p.positions, p.seqOfToken, p.seqFirst, p.seqLength, p.seqRow, p.seqWindow,
            p.slots, p.prevSlots, p.decodeTokens, p.tiles, p.chunkTokens, p.logitRows, p.thresholds, p.sampleParams,
            p.maskWords, p.biasIds, p.biasValues, scratch.x, scratch.result, scratch.partialO, scratch.partialML,
            matMul.workspace(), promptBits, outputCounts};
        long[] shape = new long[12 + 2 * read.length];
        int at = 0;
        shape[at++] = in.n;
        shape[at++] = in.sequences;
        shape[at++] = in.decodeTokens.length;
        shape[at++] = in.chunkTokens.length;
        shape[at++] = in.tiles.length;
        shape[at++] = in.maxPages;
        shape[at++] = in.decodeSplit == null ? 0 : in.decodeSplit;
        shape[at++] = in.decodeBalanced ? 1 : 0;  // auto flips it with the lists, where the stride may stay the same
        shape[at++] = in.chunkSplit == null ? 0 : in.chunkSplit;
        shape[at++] = in.logitRows.length;
        shape[at++] = in.sampled;
        shape[at++] = in.keepLogits ? 1 : 0;
        for (DeviceBuffer b : read) {
            shape[at++] = b == null ? -1 : b.allocation();
            shape[at++] = b == null ? -1 : b.offset();
        }
        return shape;
    }

    /**
     * Every buffer the forward pass needs beyond the scratch, sized before it runs (a recorded step's launches run
     * after the recording, so nothing they use may be replaced while it records): the attention splits' partials,
     * the split-K workspace of the tensor-core products.
     */
    private void reserveWorkspaces(Layout in, boolean small) {
        int maxPages = Math.min(geometry.maxPagesPerHead(), in.maxPages);
        int multiprocessors = cuda.info().multiprocessors();
        int listWaves = autoWaves(in.longestList, in.listPages, in.lists);  // what the lists' unevenness asks
        int waves = attentionWaves > 0 ? attentionWaves : listWaves;
        in.decodeBalanced = balancedBlocks > 0 && in.decodeTokens.length > 0
                && attention.balancedTakes(headDim, heads / kvHeads, in.decodeTokens.length, kvHeads)
                && (!balanceAuto || balanceHelps(listWaves, in.fewestDecodePages, balancedBlocks,
                        Math.max(1, minSplitSlots / geometry.pageSize())));
        balancedSteps += in.decodeBalanced ? 1 : 0;
        // Balanced: the partial slots for the longest list (rounded up as maxPages is) in the layer with the fewest
        // pages (rounded down the same way), so that they too change rarely.
        in.decodeSplit = in.decodeTokens.length == 0 ? null
                : in.decodeBalanced ? AttentionKernel.balancedStride(maxPages, roundPagesDown(in.fewestDecodePages),
                        balancedBlocks)
                : split(maxPages, (long) in.decodeTokens.length * kvHeads, multiprocessors, waves,
                        shortSplits.lowers(in.decodeTokens.length));
        in.decodeFolded = in.decodeOnly && fusedKvWrite && in.decodeTokens.length > 0 && !in.decodeBalanced
                && attention.foldTakes(headDim, heads / kvHeads)
                && fold.folds((long) in.decodeTokens.length * kvHeads * in.decodeSplit, multiprocessors);
        foldedSteps += in.decodeFolded ? 1 : 0;
        in.chunkSplit = in.tiles.length == 0 ? null
                : split(maxPages, (long) in.tiles.length / 2 * kvHeads, multiprocessors, 1, false);
        int most = Math.max(in.decodeSplit == null ? 1 : in.decodeSplit, in.chunkSplit == null ? 1 : in.chunkSplit);
        if (most > 1) {
            scratch.ensurePartials((long) in.n * heads * most);
        }
        long bytes = 0;
        if (!small) {
            int[][] shapes = {{qkvDim, hidden, hidden}, {hidden, qDim, qDim}, {2 * inter, hidden, hidden},
                {hidden, inter, splitActivations ? 2 * inter : inter}};  // (m, k, lda): w2 reads h from gu when split
            for (int[] shape : shapes) {
                bytes = Math.max(bytes, matMul.workspaceBytes(splitActivations, in.n, shape[0], shape[1], shape[2]));
            }
        }
        int rows = in.logitRows.length;
        if (rows > MatMulKernel.MAX_GEMV_TOKENS) {
            bytes = Math.max(bytes, matMul.workspaceBytes(splitActivations, rows, vocab, hidden, hidden));
        }
        matMul.reserve(bytes);
    }

    /**
     * The RMSNorm before a product of the residual stream (m features, weights {@code w}) to fold into it
     * ({@link #FUSED_NORM_PROPERTY}), or null when it runs as its own launch ({@link MatMulKernel#normFolds}).
     */
    private MatMulKernel.Norm foldedNorm(boolean small, int n, int m, DeviceBuffer weight, DeviceBuffer w) {
        return fusedNorm && matMul.normFolds(small, splitActivations, scratch.x, hidden, w, n, m, hidden, weight)
                ? new MatMulKernel.Norm(weight, eps) : null;
    }

    /**
     * out (n, m) = in (n, k) · Wᵀ: fp32 activations on the bandwidth path; on the tensor cores fp32 split into high
     * parts and rests, or bf16 ({@link #ACTIVATIONS_PROPERTY}). ld is the activations' row stride in elements.
     *
     * @param norm the RMSNorm folded in ({@link #foldedNorm}), or null: with one, {@code f32} is the residual stream
     */
    private void project(boolean small, DeviceBuffer f32, DeviceBuffer bf16, int ld, DeviceBuffer w, DeviceBuffer out,
            int ldOut, int n, int m, int k, boolean accumulate, MatMulKernel.Norm norm) {
        label(m, k);
        try {
            if (small) {
                matMul.gemv(f32, ld, w, out, ldOut, n, m, k, accumulate, norm);
            } else if (norm != null) {
                matMul.matmulSplit(f32, ld, w, out, ldOut, n, m, k, accumulate, norm);
            } else if (splitActivations) {
                matMul.matmulSplit(f32, ld, w, out, ldOut, n, m, k, accumulate);
            } else {
                matMul.matmul(bf16, ld, w, out, ldOut, n, m, k, accumulate);
            }
        } finally {
            unlabel();
        }
    }

    /**
     * The workspace as the activations' tile image of a product on n tokens of (m, k) weights w, for their producer
     * to write ({@link #PRODUCER_IMAGES_PROPERTY}), where the product takes the bulk-copy kernels
     * ({@link MatMulKernel#imageTakes}); else null (the producer writes rows, as before).
     */
    private DeviceBuffer producerImage(boolean small, int n, int m, int k, DeviceBuffer w) {
        boolean f32 = small || splitActivations;
        return producerImages && !small && matMul.imageTakes(f32, n, m, k, w) ? matMul.activationImage(n, k, f32)
                : null;
    }

    /** out (n, m) = a · Wᵀ from the activations' image ({@link #producerImage}), timed as {@link #project}'s. */
    private void projectImage(boolean split, DeviceBuffer image, DeviceBuffer w, DeviceBuffer out, int ldOut, int n,
            int m, int k, boolean accumulate) {
        label(m, k);
        try {
            matMul.bulkFromImage(split, image, w, out, ldOut, n, m, k, accumulate);
        } finally {
            unlabel();
        }
    }

    /**
     * The launches up to {@link #unlabel} are a product's, timed under the label of its shape, m x k
     * ({@link #KERNEL_TIMING_PROPERTY}): the products share their kernels, so they are timed apart by shape. A pair
     * around each product (try/finally) rather than a method taking its launches as a lambda, which would allocate
     * one on every launch outside graph replays.
     */
    private void label(int m, int k) {
        if (kernelTimer != null) {
            cuda.timingLabel(m + "x" + k);
        }
    }

    private void unlabel() {
        if (kernelTimer != null) {
            cuda.timingLabel(null);
        }
    }

    /**
     * h (n, inter) = silu(f32 · W1ᵀ) ⊙ (f32 · W3ᵀ) into gu's first half (rows of 2 inter), w13 the fused w1|w3: the
     * gate|up product of {@link #project} and SwiGLU in one launch ({@link MatMulKernel#matmulSplitSwiGlu}), timed
     * under the product's shape as project's.
     *
     * @param norm the RMSNorm folded in, or null: with one, {@code f32} is the residual stream
     */
    private void projectSwiGlu(DeviceBuffer f32, DeviceBuffer w13, int n, MatMulKernel.Norm norm) {
        label(2 * inter, hidden);
        try {
            matMul.matmulSplitSwiGlu(f32, hidden, w13, scratch.gu, 2 * inter, n, inter, hidden, norm);
        } finally {
            unlabel();
        }
    }

    /**
     * Decode tokens (their sequence feeds one token) and prefill tiles, each with its own split of the pages;
     * {@code folded}: the decode attention's q/k norm, RoPE, decisions and KV write (a decode step on the split grid).
     */
    private void attend(Layout in, Parts parts, int layer, boolean small, QkNormRopeKernel.Folded folded) {
        Scratch s = scratch;
        AttentionKernel.Queries queries = new AttentionKernel.Queries(s.qkv, qkvDim, heads, parts.positions,
                parts.seqOfToken, in.n, parts.seqRow, parts.seqWindow, in.sequences);
        AttentionKernel.Output output = small || splitActivations ? new AttentionKernel.Output(s.att, qDim, null, 0)
                : new AttentionKernel.Output(null, 0, s.attBf16, qDim);
        int maxPages = Math.min(geometry.maxPagesPerHead(), in.maxPages);
        if (in.decodeBalanced) {
            attention.decodeBalanced(cache, queries, layer, parts.decodeTokens, in.decodeTokens.length, balancedBlocks,
                    split(maxPages, in.decodeSplit), output);
        } else if (folded != null) {
            attention.decodeFolded(cache, queries, layer, parts.decodeTokens, in.decodeTokens.length,
                    split(maxPages, in.decodeSplit), output, folded);
        } else if (in.decodeTokens.length > 0) {
            attention.decode(cache, queries, layer, parts.decodeTokens, in.decodeTokens.length,
                    split(maxPages, in.decodeSplit), output);
        }
        if (in.tiles.length > 0) {
            attention.chunk(cache, queries, layer, parts.tiles, in.tiles.length / 2, parts.chunkTokens,
                    in.chunkTokens.length, split(maxPages, in.chunkSplit), output, bf16ChunkAttention);
        }
    }

    /**
     * How many ways the page lists split for a grid of {@code blocks} (token or tile) x kv head blocks; {@code short}:
     * short lists take the decode grid's lower floor.
     */
    private int split(int maxPages, long blocks, int multiprocessors, int waves, boolean shortLists) {
        int perSplit = shortLists
                ? AttentionKernel.decodePagesPerSplit(maxPages, geometry.pageSize(), blocks, multiprocessors, waves,
                        minSplitSlots)
                : AttentionKernel.pagesPerSplit(maxPages, geometry.pageSize(), blocks, multiprocessors, waves,
                        minSplitSlots);
        return AttentionKernel.splits(maxPages, perSplit);
    }

    private AttentionKernel.Split split(int maxPages, int splits) {
        if (splits == 1) {
            return AttentionKernel.Split.none(maxPages);
        }
        int perSplit = Checks.ceilDiv(maxPages, splits);
        return new AttentionKernel.Split(perSplit, splits, splits, scratch.partialO, scratch.partialML);
    }

    private void applyPageTables(Parts parts, PageTableDelta delta) {
        if (delta.slotMoves().length > 0) {
            // Repacked heads' tokens to their new slots: first, before the page copies and the fresh pages' reset.
            pageCopyKernel.move(parts.slotMoves, delta.slotMoves().length / 3, headDim,
                    Math.toIntExact(geometry.slots()), cache.keyCache(), cache.valueCache(), cache.slotPos(),
                    cache.slotFlag(), tableErrors);
        }
        if (delta.pageCopies().length > 0) {
            // A fork's pages, round after round (each round's pairs independent), before fresh pages are emptied.
            int[] rounds = delta.copyRounds(geometry.pageCount());
            for (int r = 0; r + 1 < rounds.length; r++) {
                int count = rounds[r + 1] - rounds[r];
                pageCopyKernel.copy(parts.pageCopies.slice(8L * rounds[r], 8L * count), count, geometry.pageSize(),
                        headDim, geometry.pageCount(), cache.keyCache(), cache.valueCache(), cache.slotPos(),
                        cache.slotFlag(), tableErrors);
            }
        }
        int tableCount = delta.pageWrites().length / 3;
        int lenCount = delta.lengthWrites().length / 2;
        int freshCount = delta.freshPages().length;
        if (tableCount + lenCount + freshCount == 0) {
            return;
        }
        long tables = (long) geometry.rows() * layers * kvHeads;
        pageTableKernel.apply(cache.pageTable(), Math.toIntExact(tables * geometry.maxPagesPerHead()),
                cache.pageTableLen(), Math.toIntExact(tables), geometry.maxPagesPerHead(), parts.tablePairs, tableCount,
                parts.lenPairs, lenCount, parts.freshPages, freshCount, geometry.pageSize(), geometry.pageCount(),
                cache.slotPos(), cache.slotFlag(), tableErrors);
    }

    /**
     * The penalties' view of each sequence, kept from the tokens it is fed (as the CPU backend does): a new
     * sequence's row is cleared, then prompt tokens mark the prompt bitset, the others count as output.
     */
    private void countTokens(Layout in, Parts parts) {
        if (!in.penalized) {
            return;
        }
        if (promptBits == null) {
            long words = (vocab + 31) / 32;
            promptBits = own(cuda.allocate((long) geometry.rows() * words * 4));
            outputCounts = own(cuda.allocate((long) geometry.rows() * vocab * 4));
        }
        long words = (vocab + 31) / 32;
        for (int row : in.clearRows) {
            memset(promptBits, row * words * 4, words * 4);
            memset(outputCounts, (long) row * vocab * 4, (long) vocab * 4);
        }
        sampling.count(parts.promptCountTokens, parts.promptCountRows, in.promptCountTokens.length, vocab, promptBits,
                null);
        sampling.count(parts.outputCountTokens, parts.outputCountRows, in.outputCountTokens.length, vocab, null,
                outputCounts);
    }

    private void memset(DeviceBuffer buffer, long at, long bytes) {
        CudaContext.check(JCudaDriver.cuMemsetD8Async(buffer.pointer().withByteOffset(at), (byte) 0, bytes,
                cuda.stream()), "cuMemsetD8Async(" + bytes + " bytes)");
    }

    private StepOutput outputs(Layout in, Scratch s, int slot) {
        ByteBuffer result = s.resultHost[slot].buffer().duplicate().order(ByteOrder.LITTLE_ENDIAN);
        byte[] decisionBytes = new byte[in.n * layers * kvHeads];
        if (dms) {
            result.position((int) s.decisionsAt);
            result.get(decisionBytes);
        }
        float[][] rowLogits = in.keepLogits ? readLogits(in.logitRows.length) : null;
        List<SequenceOutput> out = new ArrayList<>(in.sequences);
        for (int i = 0; i < in.sequences; i++) {
            SequenceStep step = in.steps.get(i);
            int row = in.sampleRow[i];
            int token = row < 0 ? -1 : result.getInt((int) s.tokensAt + row * 4);
            Logprobs logprobs = null;
            if (row >= 0 && step.sampling().wantsLogprobs()) {
                int top = step.sampling().topLogprobs();
                int[] ids = new int[top];
                float[] values = new float[top];
                for (int j = 0; j < top; j++) {
                    ids[j] = result.getInt((int) s.topIdsAt + (row * TOP + j) * 4);
                    values[j] = result.getFloat((int) s.topLogprobsAt + (row * TOP + j) * 4);
                }
                logprobs = new Logprobs(result.getFloat((int) s.logprobAt + row * 4), ids, values);
            }
            float[][] logits = null;
            if (step.logits() != LogitsRequest.NONE) {
                int[] rows = in.logitRowsOf.get(i);
                logits = new float[rows.length][];
                for (int r = 0; r < rows.length; r++) {
                    logits[r] = rowLogits[rows[r]];
                }
            }
            Decisions decisions = new Decisions(step.length(), layers, kvHeads, decisionBytes, in.firstToken[i]);
            out.add(new SequenceOutput(step.sequenceId(), token, logprobs, decisions, logits, null));
        }
        return new StepOutput(out);
    }

    private float[][] readLogits(int rows) {
        float[] all = new float[rows * vocab];
        scratch.logits.slice(0, (long) rows * vocab * 4).copyTo(all);
        float[][] out = new float[rows][];
        for (int r = 0; r < rows; r++) {
            out[r] = Arrays.copyOfRange(all, r * vocab, (r + 1) * vocab);
        }
        return out;
    }

    /**
     * Steps run as a graph, graphs captured, decode steps run launch by launch, steps replayed by shape without
     * recording (for tests and benchmarks).
     */
    long[] graphCounts() {
        return graphs.counts();
    }

    @Override
    public void close() {
        if (cuda.closed()) {
            return;
        }
        cuda.makeCurrent();
        matMul.close();
        long[] counts = graphs.counts();
        log.info("CUDA backend closed: {} steps ran as a graph ({} captured, {} found by shape without recording), {}"
                + " decode steps launch by launch", counts[0], counts[1], counts[3], counts[2]);
        graphs.close();
        stepEvents.close();
        if (kernelTimer != null) {
            if (cuda.kernelTimer() == kernelTimer) {
                cuda.kernelTimer(null);
            }
            kernelTimer.close();
        }
        if (scratch != null) {
            scratch.close();
        }
        if (upload != null) {
            upload.close();
        }
        for (DeviceBuffer buffer : owned) {
            buffer.close();
        }
        cuda.close();
    }

    /** The host side of one step: every array the kernels read, in the kernels' layouts. */
    private final class Layout {
        final List<SequenceStep> steps;
        final int n;
        final int sequences;
        final int[] tokens;
        final int[] positions;
        final int[] seqOfToken;
        final int[] firstToken;     // (S) token index of each sequence's first token
        final int[] lengths;
        final int[] seqRow;
        final int[] seqWindow;
        final float[] thresholds;   // (S, layers)
        final int[] slots;          // (layers, kvHeads, n)
        final int[] prevSlots;      // (layers, kvHeads, S)
        final int[] decodeTokens;
        final int[] tiles;
        final int[] chunkTokens;
        final int maxPages;         // the longest page list any head may have; a power of two on decode steps
        final int longestList;      // the longest page list of the step's sequences, before rounding
        final long listPages;       // the page lists' entries summed over the step's sequences, layers and heads
        final long lists;           // how many lists that sum covers
        final boolean decodeOnly;   // every sequence feeds one token: the step a graph can replay
        final long fewestDecodePages; // the decode tokens' lists summed per layer, the fewest (balanced grid only)
        boolean decodeBalanced;     // decode attention over the balanced grid, decodeSplit its partial slots
        boolean decodeFolded;       // the q/k norm, RoPE and KV write folded into the decode attention
        Integer decodeSplit;        // page-list splits of the decode and chunk attention (reserveWorkspaces)
        Integer chunkSplit;
        final int[] logitRows;      // token index of each logits row: the sampled rows first
        final List<int[]> logitRowsOf = new ArrayList<>(); // (S) the logits rows each sequence asked for
        final int[] sampleRow;      // (S) row of the sampled token, −1 when not sampled
        int sampled;
        final boolean keepLogits;
        final byte[] sampleParams;
        final int[] maskWords;
        final int[] biasIds;
        final float[] biasValues;
        final boolean penalized;
        final int[] clearRows;
        final int[] promptCountTokens;
        final int[] promptCountRows;
        final int[] outputCountTokens;
        final int[] outputCountRows;

        Layout(StepPlan plan) {
            steps = plan.sequences();
            sequences = steps.size();
            n = plan.tokens();
            tokens = new int[n];
            positions = new int[n];
            seqOfToken = new int[n];
            firstToken = new int[sequences];
            lengths = new int[sequences];
            seqRow = new int[sequences];
            seqWindow = new int[sequences];
            thresholds = new float[sequences * layers];
            slots = new int[layers * kvHeads * n];
            prevSlots = new int[layers * kvHeads * sequences];
            sampleRow = new int[sequences];
            List<Integer> decode = new ArrayList<>();
            List<Integer> chunk = new ArrayList<>();
            int most = 1;
            long pagesListed = 0;
            long[] decodePages = new long[layers];  // per layer, the decode tokens' lists summed
            int t = 0;
            for (int s = 0; s < sequences; s++) {
                SequenceStep step = steps.get(s);
                int length = step.length();
                firstToken[s] = t;
                lengths[s] = length;
                seqRow[s] = step.kv().row();
                DmsRule rule = step.rule();
                seqWindow[s] = rule.window();
                for (int l = 0; l < layers; l++) {
                    thresholds[s * layers + l] = rule.threshold(l);
                }
                for (int c = 0; c < length; c++) {
                    tokens[t + c] = step.fedBack() ? 0 : checkToken(step.tokens()[c]); // 0: copied over on the device
                    positions[t + c] = step.first() + c;
                    seqOfToken[t + c] = s;
                    (length == 1 ? decode : chunk).add(t + c);
                }
                for (int lh = 0; lh < layers * kvHeads; lh++) {
                    System.arraycopy(step.kv().slots(), lh * length, slots, lh * n + t, length);
                    prevSlots[lh * sequences + s] = step.kv().previousSlots()[lh];
                }
                // The longest page list attention scans for this sequence: with DMS far shorter than its
                // positions (evicted slots are reused), and what the attention splits are sized by.
                int tables = layers * kvHeads;
                for (int head = seqRow[s] * tables, end = head + tables; head < end; head++) {
                    most = Math.max(most, tableLength[head]);
                    pagesListed += tableLength[head];
                    if (length == 1 && balancedBlocks > 0) {  // only the balanced grid asks
                        decodePages[(head - seqRow[s] * tables) / kvHeads] += tableLength[head];
                    }
                }
                t += length;
            }
            decodeTokens = decode.stream().mapToInt(Integer::intValue).toArray();
            chunkTokens = chunk.stream().mapToInt(Integer::intValue).toArray();
            decodeOnly = chunkTokens.length == 0;
            // Rounded up on decode steps (to a multiple of an eighth of the power of two below) so that the
            // attention split, a launch argument, changes every few hundred tokens, not at every page: the step
            // graph stays the same for long stretches, and at most an eighth of the splits fall past every page
            // list (an empty split merges as nothing).
            maxPages = decodeOnly ? roundPages(most) : most;
            longestList = most;
            listPages = pagesListed;
            fewestDecodePages = Arrays.stream(decodePages).min().orElse(0);
            lists = (long) sequences * layers * kvHeads;
            tiles = AttentionKernel.tiles(firstToken, lengths, group, 2);

            // Logits rows: the sampled rows first (the sampling kernel takes them as rows 0 .. sampled − 1).
            List<Integer> rows = new ArrayList<>();
            boolean any = false;
            for (int s = 0; s < sequences; s++) {
                SequenceStep step = steps.get(s);
                sampleRow[s] = -1;
                if (step.samples()) {
                    sampleRow[s] = rows.size();
                    rows.add(firstToken[s] + lengths[s] - 1);
                }
                any |= step.logits() != LogitsRequest.NONE;
            }
            sampled = rows.size();
            for (int s = 0; s < sequences; s++) {
                SequenceStep step = steps.get(s);
                int count = step.logits() == LogitsRequest.ALL ? lengths[s]
                        : step.logits() == LogitsRequest.LAST ? 1 : 0;
                int[] own = new int[count];
                for (int r = 0; r < count; r++) {
                    int token = firstToken[s] + lengths[s] - count + r;
                    int at = r == count - 1 && sampleRow[s] >= 0 ? sampleRow[s] : -1;
                    if (at < 0) {
                        at = rows.size();
                        rows.add(token);
                    }
                    own[r] = at;
                }
                logitRowsOf.add(own);
            }
            keepLogits = any;
            logitRows = rows.stream().mapToInt(Integer::intValue).toArray();

            ByteBuffer params = ByteBuffer.allocate(Math.max(1, sampled) * SamplingKernel.Params.BYTES);
            // Allowed-token masks, one after another for the sampled sequences that have one: packed straight into
            // an int array (a boxed list took ~4,700 boxes a constrained sequence and step on Qwen3's vocabulary).
            int words = (vocab + 31) / 32;
            int constrained = 0;
            for (int s = 0; s < sequences; s++) {
                constrained += sampleRow[s] >= 0 && steps.get(s).allowedTokens() != null ? 1 : 0;
            }
            int[] mask = constrained == 0 ? null : new int[constrained * words];
            int maskUsed = 0;
            List<Integer> ids = new ArrayList<>();
            List<Float> values = new ArrayList<>();
            boolean anyPenalty = false;
            List<Integer> clear = new ArrayList<>();
            List<Integer> promptTokens = new ArrayList<>();
            List<Integer> promptRows = new ArrayList<>();
            List<Integer> outputTokens = new ArrayList<>();
            List<Integer> outputRows = new ArrayList<>();
            for (int s = 0; s < sequences; s++) {
                SequenceStep step = steps.get(s);
                SamplingParams p = step.sampling();
                if (p.penalized()) {
                    anyPenalty = true;
                    if (step.first() == 0) {
                        clear.add(seqRow[s]);
                    }
                    for (int c = 0; c < lengths[s]; c++) {
                        boolean prompt = step.first() + c < step.promptLength();
                        (prompt ? promptTokens : outputTokens).add(step.tokens()[c]);
                        (prompt ? promptRows : outputRows).add(seqRow[s]);
                    }
                }
                if (sampleRow[s] < 0) {
                    continue;
                }
                int maskOffset = -1;
                if (step.allowedTokens() != null) {
                    maskOffset = maskUsed;
                    long[] allowed = step.allowedTokens();
                    for (int word = 0; word < words; word++) {
                        long bits = word / 2 < allowed.length ? allowed[word / 2] : 0;
                        mask[maskUsed++] = (int) (word % 2 == 0 ? bits : bits >>> 32);
                    }
                }
                LogitBias bias = p.logitBias();
                int biasStart = ids.size();
                for (int b = 0; b < bias.ids().length; b++) {
                    ids.add(bias.ids()[b]);
                    values.add(bias.values()[b]);
                }
                new SamplingKernel.Params(p.greedy() ? 0 : p.temperature(), p.topP(), p.topK(), p.minP(),
                        p.repetitionPenalty(), p.presencePenalty(), p.frequencyPenalty(), step.seed(), step.drawIndex(),
                        p.topLogprobs(), biasStart, ids.size() - biasStart, maskOffset, p.penalized() ? seqRow[s] : -1,
                        false).write(params, sampleRow[s] * SamplingKernel.Params.BYTES);
            }
            sampleParams = params.array();
            maskWords = mask;
            biasIds = ids.isEmpty() ? null : ids.stream().mapToInt(Integer::intValue).toArray();
            biasValues = new float[values.size()];
            for (int i = 0; i < biasValues.length; i++) {
                biasValues[i] = values.get(i);
            }
            penalized = anyPenalty;
            clearRows = clear.stream().mapToInt(Integer::intValue).toArray();
            promptCountTokens = promptTokens.stream().mapToInt(Integer::intValue).toArray();
            promptCountRows = promptRows.stream().mapToInt(Integer::intValue).toArray();
            outputCountTokens = outputTokens.stream().mapToInt(Integer::intValue).toArray();
            outputCountRows = outputRows.stream().mapToInt(Integer::intValue).toArray();
        }

        private int checkToken(int token) {
            if (token < 0 || token >= vocab) {
                throw new IllegalArgumentException(
                        "token id " + token + " is outside the vocabulary [0, " + vocab + ")");
            }
            return token;
        }
    }

    /** Device views of one step's upload. */
    private static final class Parts {
        DeviceBuffer tokens;
        DeviceBuffer positions;
        DeviceBuffer seqOfToken;
        DeviceBuffer seqFirst;
        DeviceBuffer seqLength;
        DeviceBuffer seqRow;
        DeviceBuffer seqWindow;
        DeviceBuffer thresholds;
        DeviceBuffer slots;
        DeviceBuffer prevSlots;
        DeviceBuffer decodeTokens;
        DeviceBuffer tiles;
        DeviceBuffer chunkTokens;
        DeviceBuffer logitRows;
        DeviceBuffer sampleParams;
        DeviceBuffer maskWords;
        DeviceBuffer biasIds;
        DeviceBuffer biasValues;
        DeviceBuffer tablePairs;
        DeviceBuffer lenPairs;
        DeviceBuffer freshPages;
        DeviceBuffer promptCountTokens;
        DeviceBuffer promptCountRows;
        DeviceBuffer outputCountTokens;
        DeviceBuffer outputCountRows;
        DeviceBuffer pageCopies;
        DeviceBuffer slotMoves;
    }

    private Parts uploadInputs(Layout in, PageTableDelta delta) {
        int[] writes = delta.pageWrites();
        int[] tablePairs = new int[writes.length / 3 * 2];
        for (int i = 0, j = 0; i < writes.length; i += 3, j += 2) {
            tablePairs[j] = Math.toIntExact((long) writes[i] * geometry.maxPagesPerHead() + writes[i + 1]);
            tablePairs[j + 1] = writes[i + 2];
        }
        float[] biasValues = in.biasValues;
        int[][] ints = {in.tokens, in.positions, in.seqOfToken, in.firstToken, in.lengths, in.seqRow, in.seqWindow,
            in.slots, in.prevSlots, in.decodeTokens, in.tiles, in.chunkTokens, in.logitRows, in.maskWords, in.biasIds,
            tablePairs, delta.lengthWrites(), delta.freshPages(), in.promptCountTokens, in.promptCountRows,
            in.outputCountTokens, in.outputCountRows, delta.pageCopies(), delta.slotMoves()};
        long bytes = 16L * (ints.length + 3) + in.thresholds.length * 4L + in.sampleParams.length
                + biasValues.length * 4L;
        for (int[] array : ints) {
            bytes += array == null ? 0 : array.length * 4L;
        }
        if (upload == null || bytes > uploadBytes) {
            if (upload != null) {
                graphs.clear();
                cuda.synchronize();  // a queued step may still read it
                upload.close();
            }
            uploadBytes = (int) Math.max(1 << 20, Math.min(Integer.MAX_VALUE, bytes * 2));
            upload = new StepUpload(cuda, uploadBytes);
        }
        StepUpload u = upload;
        u.reset();
        // What the forward pass reads first, in an order whose offsets depend only on the step's shape (tokens,
        // sequences, masks and biases), so that the decode step's graph finds its inputs at the same addresses
        // step after step; the page-table and penalty-count arrays, read by launches outside the graph, last.
        StepUpload.Part[] at = new StepUpload.Part[ints.length];
        for (int i = 0; i <= 12; i++) {
            at[i] = put(u, ints[i]);
        }
        StepUpload.Part thresholds = u.put(in.thresholds);
        StepUpload.Part params = u.put(in.sampleParams);
        at[13] = put(u, ints[13]);
        at[14] = put(u, ints[14]);
        StepUpload.Part bias = biasValues.length == 0 ? null : u.put(biasValues);
        for (int i = 15; i < ints.length; i++) {
            at[i] = put(u, ints[i]);
        }
        u.upload();
        Parts p = new Parts();
        DeviceBuffer[] views = new DeviceBuffer[ints.length];
        for (int i = 0; i < ints.length; i++) {
            views[i] = at[i] == null ? null : u.view(at[i]);
        }
        p.tokens = views[0];
        p.positions = views[1];
        p.seqOfToken = views[2];
        p.seqFirst = views[3];
        p.seqLength = views[4];
        p.seqRow = views[5];
        p.seqWindow = views[6];
        p.slots = views[7];
        p.prevSlots = views[8];
        p.decodeTokens = views[9];
        p.tiles = views[10];
        p.chunkTokens = views[11];
        p.logitRows = views[12];
        p.maskWords = views[13];
        p.biasIds = views[14];
        p.tablePairs = views[15];
        p.lenPairs = views[16];
        p.freshPages = views[17];
        p.promptCountTokens = views[18];
        p.promptCountRows = views[19];
        p.outputCountTokens = views[20];
        p.outputCountRows = views[21];
        p.pageCopies = views[22];
        p.slotMoves = views[23];
        p.thresholds = u.view(thresholds);
        p.sampleParams = u.view(params);
        p.biasValues = bias == null ? null : u.view(bias);
        return p;
    }

    /**
     * What the error bits of the page-table, copy and move kernels say (native/page_table.cu, page_copy.cu): the step
     * fails with it, naming the kernel, since its KV metadata can no longer be trusted.
     */
    static String tableErrorMessage(int bits) {
        String[] what = {"dms_page_table_apply: a page-table entry out of range",
            "dms_page_table_apply: a page out of range", "dms_page_table_apply: a table or its length out of range",
            "dms_page_table_apply: a fresh page out of range", "dms_page_copy_bf16: a page out of range",
            "dms_slot_move_bf16: a slot run out of range or empty"};
        List<String> found = new ArrayList<>();
        for (int b = 0; b < what.length; b++) {
            if ((bits & (1 << b)) != 0) {
                found.add(what[b]);
            }
        }
        if ((bits & ~((1 << what.length) - 1)) != 0) {
            found.add("unknown error bits " + Integer.toBinaryString(bits >>> what.length << what.length));
        }
        return "a page-table delta applied with this step or before it was refused on the device ("
                + String.join("; ", found) + "); the step fails and the KV metadata of its sequences is not to be trusted";
    }

    /** pages rounded up to a multiple of max(1, 2^floor(log2 pages) / 8). */
    static int roundPages(int pages) {
        int step = Math.max(1, Integer.highestOneBit(Math.max(1, pages)) / 8);
        return (pages + step - 1) / step * step;
    }

    /** {@code pages} rounded down to a multiple of an eighth of the power of two at or below it (0 stays 0). */
    static long roundPagesDown(long pages) {
        long step = Math.max(1, Long.highestOneBit(Math.max(1, pages)) / 8);
        return pages / step * step;
    }

    private static StepUpload.Part put(StepUpload u, int[] values) {
        return values == null || values.length == 0 ? null : u.put(values);
    }

    private void ensureScratch(int n, int rows, int sequences) {
        if (scratch != null && scratch.fits(n, rows, sequences)) {
            return;
        }
        // Each size grows only when outgrown (doubling, so a growing batch costs few reallocations): growing the
        // tokens because the sequences outgrew theirs once asked 48 GiB for 64 streams of 512-token prompts.
        int tokens = grow(n, scratch == null ? 0 : scratch.tokens, 16);
        // At least a row for every sequence of the step, which each samples once at most: a step submitted behind this
        // one (EngineLoop#continuation) has the same sequences and may sample more of them (a prompt's last chunk),
        // and the scratch cannot grow while a step is pending.
        int logitRows = Math.max(Math.max(Math.max(rows, sequences), 1), scratch == null ? 4 : scratch.rows);
        int seqs = grow(sequences, scratch == null ? 0 : scratch.sequences, 16);
        if (scratch != null) {
            graphs.clear();
            Scratch old = scratch;
            scratch = null;  // a failed allocation below leaves no closed buffers in use: the next step tries again
            old.close();
        }
        scratch = new Scratch(tokens, logitRows, seqs);
    }

    static int grow(int need, int have, int first) {
        return need <= have ? have : Math.max(need, have == 0 ? first : 2 * have);
    }

    /** Activations and results, sized for a number of tokens, logits rows and sequences; grown on demand. */
    private final class Scratch implements AutoCloseable {
        final int tokens;
        final int rows;
        final int sequences;
        DeviceBuffer x;          // fp32 (tokens, hidden) residual stream
        DeviceBuffer xb;         // fp32 (tokens, hidden) normed
        DeviceBuffer xbBf16;     // bf16 (tokens, hidden); the four bf16 buffers are null with split activations
        DeviceBuffer qkv;        // fp32 (tokens, q | k | v)
        DeviceBuffer att;        // fp32 (tokens, heads · headDim)
        DeviceBuffer attBf16;    // bf16 (tokens, heads · headDim)
        DeviceBuffer gu;         // fp32 (tokens, gate | up); silu(gate) · up over gate on the fp32 path (in place, or
                                 // from a product ending in SwiGLU, which leaves up unwritten)
        DeviceBuffer hBf16;      // bf16 (tokens, inter)
        DeviceBuffer normed;     // fp32 (rows, hidden)
        DeviceBuffer normedBf16; // bf16 (rows, hidden)
        DeviceBuffer logits;     // fp32 (rows, vocab)
        DeviceBuffer processed;  // fp32 (rows, vocab): kept apart when the raw logits go back
        DeviceBuffer result;     // tokens, logprob, top ids, top logprobs (sequences); decisions (tokens)
        // one per step slot: a step's copy lands while the host reads the other's
        PinnedBuffer[] resultHost = new PinnedBuffer[2];
        PinnedBuffer[] tableErrorsHost = new PinnedBuffer[2];  // int32: tableErrors after the step's delta
        long tokensAt;
        long logprobAt;
        long topIdsAt;
        long topLogprobsAt;
        long decisionsAt;
        DeviceBuffer partialO;
        DeviceBuffer partialML;
        long partials;

        Scratch(int tokens, int rows, int sequences) {
            this.tokens = tokens;
            this.rows = rows;
            this.sequences = sequences;
            try {
                allocate();
            } catch (RuntimeException e) {
                close();  // what was allocated before the failure
                throw e;
            }
        }

        private void allocate() {
            x = cuda.allocate(4L * tokens * hidden);
            xb = cuda.allocate(4L * tokens * hidden);
            xbBf16 = bf16(2L * tokens * hidden);
            qkv = cuda.allocate(4L * tokens * qkvDim);
            att = cuda.allocate(4L * tokens * qDim);
            attBf16 = bf16(2L * tokens * qDim);
            gu = cuda.allocate(4L * tokens * 2 * inter);
            hBf16 = bf16(2L * tokens * inter);
            normed = cuda.allocate(4L * rows * hidden);
            normedBf16 = bf16(2L * rows * hidden);
            logits = cuda.allocate(4L * rows * vocab);
            processed = cuda.allocate(4L * rows * vocab);
            tokensAt = 0;
            logprobAt = align(tokensAt + 4L * sequences);
            topIdsAt = align(logprobAt + 4L * sequences);
            topLogprobsAt = align(topIdsAt + 4L * sequences * TOP);
            decisionsAt = align(topLogprobsAt + 4L * sequences * TOP);
            long resultBytes = decisionsAt + (long) tokens * layers * kvHeads;
            result = cuda.allocate(resultBytes);
            resultHost[0] = cuda.allocatePinned(resultBytes);
            resultHost[1] = cuda.allocatePinned(resultBytes);
            tableErrorsHost[0] = cuda.allocatePinned(Integer.BYTES);
            tableErrorsHost[1] = cuda.allocatePinned(Integer.BYTES);
        }

        /** A bf16 activation buffer: only the bf16 tensor-core products read them (null when they split fp32). */
        private DeviceBuffer bf16(long bytes) {
            return splitActivations ? null : cuda.allocate(bytes);
        }

        private long align(long at) {
            return (at + 255) / 256 * 256;
        }

        boolean fits(int n, int r, int s) {
            return n <= tokens && Math.max(r, s) <= rows && s <= sequences;  // rows: ensureScratch
        }

        long resultBytes(int n) {
            return decisionsAt + (long) n * layers * kvHeads;
        }

        void ensurePartials(long count) {
            if (count <= partials) {
                return;
            }
            long size = Math.max(count, partials * 2);
            if (partialO != null) {
                graphs.clear();
                cuda.synchronize();  // queued steps may still read them
                partialO.close();
                partialML.close();
                partialO = null;
                partialML = null;
                partials = 0;
            }
            partialO = cuda.allocate(4L * size * headDim);
            partialML = cuda.allocate(8L * size);
            partials = size;
        }

        @Override
        public void close() {
            cuda.synchronize();
            for (DeviceBuffer b : new DeviceBuffer[] {x, xb, xbBf16, qkv, att, attBf16, gu, hBf16, normed, normedBf16,
                logits, processed, result, partialO, partialML}) {
                if (b != null) {
                    b.close();
                }
            }
            for (PinnedBuffer host : new PinnedBuffer[] {resultHost[0], resultHost[1], tableErrorsHost[0],
                tableErrorsHost[1]}) {
                if (host != null) {
                    host.close();
                }
            }
        }
    }

    private static String gb(long bytes) {
        return String.format("%.2f GB", bytes / 1e9);
    }

    @Override
    public Optional<WeightUpload> weightUpload() {
        return Optional.of(weightUpload);
    }

    /** Used and total memory of the device (cuMemGetInfo, any thread: it makes the context current there). */
    @Override
    public Optional<DeviceMemory> deviceMemory() {
        if (cuda.closed()) {
            return Optional.empty();  // a scrape racing the shutdown
        }
        cuda.makeCurrent();
        long[] free = {0};
        long[] total = {0};
        CudaContext.check(JCudaDriver.cuMemGetInfo(free, total), "cuMemGetInfo");
        return Optional.of(new DeviceMemory(total[0] - free[0], total[0]));
    }
}
