package io.dmsserve.engine.cpu;

import io.dmsserve.dms.DmsRules;
import io.dmsserve.dms.EvictionPolicy;
import io.dmsserve.engine.Backend;
import io.dmsserve.engine.Checkpoint;
import io.dmsserve.engine.ModelConfig;
import io.dmsserve.engine.StepRequest;
import io.dmsserve.engine.StepResult;
import io.dmsserve.engine.Tensor;
import io.dmsserve.kvcache.CacheStatistics;
import io.dmsserve.kvcache.KvCache;
import io.dmsserve.kvcache.SequenceKv;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The reference backend: the Qwen3 forward pass with DMS in plain Java, fp32 arithmetic over the stored
 * dtype. Every other backend is checked against it.
 */
public final class CpuBackend implements Backend {

    private final ModelConfig config;
    private final int hidden;
    private final int heads;
    private final int kvHeads;
    private final int headDim;
    private final int group;
    private final float eps;
    private final Tensor embedding;    // (vocab, hidden)
    private final Tensor lmHead;       // (vocab, hidden); the embedding when tied
    private final float[] finalNorm;   // (hidden)
    private final LayerWeights[] layers;
    private final Rope rope;
    private final KvCache cache;
    private final CpuKvStore store;
    private final Parallel parallel;
    private final MatMul matMul;
    private final ChunkAttention attention;

    /**
     * @param pageSize tokens per KV page
     * @param cacheBytes memory for keys and values; rounded down to whole pages
     * @param threads worker threads for matrix products and attention
     */
    public CpuBackend(Checkpoint checkpoint, int pageSize, long cacheBytes, int threads) {
        this.config = checkpoint.config();
        this.hidden = config.hiddenSize();
        this.heads = config.numHeads();
        this.kvHeads = config.numKvHeads();
        this.headDim = config.headDim();
        this.group = config.groupSize();
        this.eps = (float) config.rmsNormEps();
        this.embedding = checkpoint.tensor("model.embed_tokens.weight");
        this.lmHead = config.tieWordEmbeddings() && !checkpoint.has("lm_head.weight")
                ? embedding : checkpoint.tensor("lm_head.weight");
        this.finalNorm = LayerWeights.vector(checkpoint.tensor("model.norm.weight"));
        this.layers = new LayerWeights[config.numLayers()];
        for (int l = 0; l < layers.length; l++) {
            layers[l] = LayerWeights.load(checkpoint, l);
        }
        this.rope = new Rope(headDim, config.ropeTheta());
        long pageCount = cacheBytes / CpuKvStore.bytesPerPage(pageSize, headDim);
        if (pageCount < 1 || pageCount > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("KV cache of " + cacheBytes + " bytes gives " + pageCount
                    + " pages of " + pageSize + " tokens; choose between one page and 2^31 pages");
        }
        this.cache = new KvCache(config.numLayers(), kvHeads, pageSize, (int) pageCount);
        this.store = new CpuKvStore((int) pageCount, pageSize, headDim);
        this.parallel = new Parallel(threads);
        this.matMul = new MatMul(parallel);
        this.attention = new ChunkAttention(heads, kvHeads, headDim, store, parallel);
    }

    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public ModelConfig config() {
        return config;
    }

    @Override
    public void open(long sequenceId, EvictionPolicy policy) {
        cache.open(sequenceId, policy);
    }

    @Override
    public int processed(long sequenceId) {
        return cache.sequence(sequenceId).processed();
    }

    @Override
    public int[][] liveCounts(long sequenceId) {
        return cache.sequence(sequenceId).liveCounts();
    }

    @Override
    public int pagesToStore(long sequenceId, int tokens) {
        SequenceKv sequence = cache.find(sequenceId);
        return sequence != null ? sequence.pagesToStore(tokens) : cache.pagesForNewSequence(tokens);
    }

    @Override
    public int freePages() {
        return cache.freePages();
    }

    @Override
    public void release(long sequenceId) {
        cache.release(sequenceId);
    }

    @Override
    public CacheStatistics cacheStatistics() {
        return cache.statistics();
    }

    @Override
    public void close() {
        parallel.close();
    }

    @Override
    public List<StepResult> step(List<StepRequest> requests) {
        Batch batch = layout(requests);
        int n = batch.tokens;
        float[] x = new float[n * hidden];                    // (n, hidden) residual stream
        for (int i = 0; i < n; i++) {
            embedding.readRow(checkToken(batch.tokenIds[i]), x, i * hidden);
        }
        float[] xb = new float[n * hidden];                   // (n, hidden) normed input
        float[] q = new float[n * heads * headDim];           // (n, heads, headDim)
        float[] k = new float[n * kvHeads * headDim];         // (n, kvHeads, headDim)
        float[] v = new float[n * kvHeads * headDim];         // (n, kvHeads, headDim)
        float[] att = new float[n * heads * headDim];         // (n, heads, headDim)
        float[] o = new float[n * hidden];                    // (n, hidden)
        float[] gate = new float[n * config.intermediateSize()]; // (n, intermediate)
        float[] up = new float[n * config.intermediateSize()];   // (n, intermediate)
        boolean[][] flags = new boolean[n][kvHeads];          // (n, kvHeads) decision made at token i

        for (int l = 0; l < layers.length; l++) {
            LayerWeights w = layers[l];
            Ops.rmsNorm(x, xb, w.inputNorm(), n, hidden, eps);
            matMul.apply(xb, n, w.wq(), q);
            matMul.apply(xb, n, w.wk(), k);
            matMul.apply(xb, n, w.wv(), v);
            Ops.rmsNorm(q, q, w.qNorm(), n * heads, headDim, eps);
            Ops.rmsNorm(k, k, w.kNorm(), n * kvHeads, headDim, eps);
            decide(batch, q, flags);
            for (int i = 0; i < n; i++) {
                for (int h = 0; h < heads; h++) {
                    rope.rotate(q, (i * heads + h) * headDim, batch.positions[i]);
                }
                for (int h = 0; h < kvHeads; h++) {
                    rope.rotate(k, (i * kvHeads + h) * headDim, batch.positions[i]);
                }
            }
            if (config.isDms()) {
                zeroDecisionChannel(q, n);
            }
            for (int r = 0; r < batch.size(); r++) {
                attendAndStore(batch, r, l, q, k, v, flags, att);
            }
            matMul.apply(att, n, w.wo(), o);
            Ops.addInPlace(x, o, n * hidden);

            Ops.rmsNorm(x, xb, w.postNorm(), n, hidden, eps);
            matMul.apply(xb, n, w.gate(), gate);
            matMul.apply(xb, n, w.up(), up);
            Ops.swiglu(gate, up, n * config.intermediateSize());
            matMul.apply(gate, n, w.down(), o);
            Ops.addInPlace(x, o, n * hidden);
        }
        List<StepResult> results = new ArrayList<>(batch.size());
        for (int r = 0; r < batch.size(); r++) {
            StepRequest request = batch.requests.get(r);
            results.add(new StepResult(request.sequenceId(), logits(batch, r, x),
                    request.captureDecisions() ? batch.flagged[r] : null));
        }
        // Only now: attention and the cache update read processed() as the chunk's first position.
        for (int r = 0; r < batch.size(); r++) {
            batch.sequences.get(r).advance(batch.lengths[r]);
        }
        return results;
    }

    /**
     * DMS decisions (DESIGN.md §3 steps 1–4): from q after q_norm and before RoPE, the last channel of each
     * group's first query head, scaled and offset; then that channel is zeroed, whatever the policy.
     */
    private void decide(Batch batch, float[] q, boolean[][] flags) {
        if (!config.isDms()) {
            return;
        }
        double alphaScale = config.dms().alphaScale();
        double alphaOffset = config.dms().initialAlphaOffset();
        for (int r = 0; r < batch.size(); r++) {
            EvictionPolicy policy = batch.decisionPolicies.get(r);
            for (int i = batch.rowStarts[r]; i < batch.rowStarts[r] + batch.lengths[r]; i++) {
                for (int h = 0; h < kvHeads; h++) {
                    int channel = (i * heads + h * group) * headDim + headDim - 1;
                    flags[i][h] = policy.flags(DmsRules.decisionLogit(q[channel], alphaScale, alphaOffset));
                }
            }
        }
        zeroDecisionChannel(q, batch.tokens);
    }

    private void zeroDecisionChannel(float[] q, int n) {
        for (int i = 0; i < n; i++) {
            for (int h = 0; h < kvHeads; h++) {
                q[(i * heads + h * group) * headDim + headDim - 1] = 0f;
            }
        }
    }

    /**
     * Attention of request r's chunk in layer l, then the cache update: evict what fell out of the window,
     * store the chunk's surviving tokens (flagged tokens already out of the window are never stored).
     */
    private void attendAndStore(Batch batch, int r, int layer, float[] q, float[] k, float[] v, boolean[][] flags,
            float[] att) {
        SequenceKv sequence = batch.sequences.get(r);
        int rowStart = batch.rowStarts[r];
        int length = batch.lengths[r];
        int first = sequence.processed();
        boolean[][] chunkFlags = new boolean[kvHeads][length]; // (kvHeads, length)
        for (int h = 0; h < kvHeads; h++) {
            for (int c = 0; c + 1 < length; c++) {
                chunkFlags[h][c] = flags[rowStart + c + 1][h];
            }
            if (first > 0 && flags[rowStart][h]) {
                sequence.head(layer, h).flag(first - 1);
            }
        }
        recordFlags(batch, r, layer, first, flags, chunkFlags);
        attention.run(sequence, layer, q, k, v, rowStart, length, chunkFlags, att);

        for (int h = 0; h < kvHeads; h++) {
            int[] slots = sequence.head(layer, h).commit(first, chunkFlags[h], sequence.policy().window());
            for (int c = 0; c < length; c++) {
                if (slots[c] >= 0) {
                    int offset = ((rowStart + c) * kvHeads + h) * headDim;
                    store.write(slots[c], k, offset, v, offset);
                }
            }
        }
    }

    private void recordFlags(Batch batch, int r, int layer, int first, boolean[][] flags, boolean[][] chunkFlags) {
        if (batch.flagged == null || !batch.requests.get(r).captureDecisions()) {
            return;
        }
        int length = batch.lengths[r];
        for (int h = 0; h < kvHeads; h++) {
            int[] positions = new int[length];
            int count = 0;
            if (first > 0 && flags[batch.rowStarts[r]][h]) {
                positions[count++] = first - 1;
            }
            for (int c = 0; c + 1 < length; c++) {
                if (chunkFlags[h][c]) {
                    positions[count++] = first + c;
                }
            }
            batch.flagged[r][layer][h] = java.util.Arrays.copyOf(positions, count);
        }
    }

    /** Final norm and lm_head for the rows whose logits were asked for. */
    private float[][] logits(Batch batch, int r, float[] x) {
        StepRequest request = batch.requests.get(r);
        int length = batch.lengths[r];
        int firstRow = request.allLogits() ? batch.rowStarts[r] : batch.rowStarts[r] + length - 1;
        int rows = batch.rowStarts[r] + length - firstRow;
        float[] normed = new float[rows * hidden];                 // (rows, hidden)
        for (int i = 0; i < rows; i++) {
            Ops.rmsNorm(x, (firstRow + i) * hidden, normed, i * hidden, finalNorm, hidden, eps);
        }
        float[] flat = new float[rows * config.vocabSize()];      // (rows, vocab)
        matMul.apply(normed, rows, lmHead, flat);
        float[][] out = new float[rows][];
        for (int i = 0; i < rows; i++) {
            out[i] = java.util.Arrays.copyOfRange(flat, i * config.vocabSize(), (i + 1) * config.vocabSize());
        }
        return out;
    }

    private int checkToken(int token) {
        if (token < 0 || token >= config.vocabSize()) {
            throw new IllegalArgumentException("token id " + token + " is outside the vocabulary [0, "
                    + config.vocabSize() + ")");
        }
        return token;
    }

    private Batch layout(List<StepRequest> requests) {
        Batch batch = new Batch(requests, layers.length, kvHeads);
        Set<Long> seen = new HashSet<>();
        int row = 0;
        for (int r = 0; r < requests.size(); r++) {
            StepRequest request = requests.get(r);
            if (!seen.add(request.sequenceId())) {
                throw new IllegalArgumentException("sequence " + request.sequenceId() + " appears twice in one step");
            }
            SequenceKv sequence = cache.sequence(request.sequenceId());
            batch.sequences.add(sequence);
            batch.decisionPolicies.add(sequence.policy().frozen());
            batch.rowStarts[r] = row;
            batch.lengths[r] = request.tokens().length;
            for (int c = 0; c < request.tokens().length; c++) {
                batch.tokenIds[row + c] = request.tokens()[c];
                batch.positions[row + c] = sequence.processed() + c;
            }
            row += request.tokens().length;
        }
        return batch;
    }

    /** The rows of one step: request r owns rows [rowStarts[r], rowStarts[r] + lengths[r]). */
    private static final class Batch {
        final List<StepRequest> requests;
        final List<SequenceKv> sequences = new ArrayList<>();
        final List<EvictionPolicy> decisionPolicies = new ArrayList<>(); // fixed for the whole step
        final int[] rowStarts;
        final int[] lengths;
        final int tokens;
        final int[] tokenIds;
        final int[] positions;
        final int[][][][] flagged; // (request, layer, kvHead, positions) or null

        Batch(List<StepRequest> requests, int layers, int kvHeads) {
            this.requests = requests;
            this.rowStarts = new int[requests.size()];
            this.lengths = new int[requests.size()];
            this.tokens = requests.stream().mapToInt(request -> request.tokens().length).sum();
            this.tokenIds = new int[tokens];
            this.positions = new int[tokens];
            boolean capture = requests.stream().anyMatch(StepRequest::captureDecisions);
            this.flagged = capture ? new int[requests.size()][layers][kvHeads][] : null;
        }

        int size() {
            return requests.size();
        }
    }
}
