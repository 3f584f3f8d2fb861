package io.dmsserve.engine.cpu;

import io.dmsserve.dms.Decisions;
import io.dmsserve.dms.DmsRule;
import io.dmsserve.dms.DmsRules;
import io.dmsserve.engine.Backend;
import io.dmsserve.engine.Checkpoint;
import io.dmsserve.engine.KvGeometry;
import io.dmsserve.engine.LogitsRequest;
import io.dmsserve.engine.ModelConfig;
import io.dmsserve.engine.SequenceOutput;
import io.dmsserve.engine.SequenceStep;
import io.dmsserve.engine.StepOutput;
import io.dmsserve.engine.StepPlan;
import io.dmsserve.engine.Tensor;
import io.dmsserve.kvcache.SlotReservation;
import io.dmsserve.sampling.Sample;
import io.dmsserve.sampling.Sampler;
import io.dmsserve.sampling.TokenCounts;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The reference backend: the Qwen3 forward pass with DMS in plain Java, fp32 arithmetic over the stored
 * dtype, and the reference sampler. Every other backend is checked against it.
 */
public final class CpuBackend implements Backend {

    private final ModelConfig config;
    private final int hidden;
    private final int heads;
    private final int kvHeads;
    private final int headDim;
    private final int group;
    private final int layerCount;
    private final float eps;
    private final Tensor embedding;    // (vocab, hidden)
    private final Tensor lmHead;       // (vocab, hidden); the embedding when tied
    private final float[] finalNorm;   // (hidden)
    private final LayerWeights[] layers;
    private final Rope rope;
    private final Parallel parallel;
    private final MatMul matMul;
    private CpuKvStore store;
    private ChunkAttention attention;
    private Map<Long, Integer> sampledBefore = Map.of(); // sequence id -> token, of the step before (FED_BACK)
    private TokenCounts[] counts;      // (rows) penalties' view of each sequence, when it asks for penalties
    private final boolean bf16Kv;           // keys and values rounded to bf16 in the cache, as the CUDA backend stores them
    private final boolean bf16Activations;  // activations rounded to bf16 before the products of steps above 8 tokens
    /**
     * Above this many tokens a step the CUDA backend's products run on the tensor cores (MatMulKernel), whose
     * activations are bf16 where it rounds them ({@code dms.cuda.activations=bf16}, or a dense checkpoint by default).
     */
    private static final int CUDA_GEMV_TOKENS = 8;

    /** @param threads worker threads for matrix products and attention */
    public CpuBackend(Checkpoint checkpoint, int threads) {
        this(checkpoint, threads, false, false);
    }

    /**
     * Rounds what the CUDA backend keeps in bf16 the same way, so the two backends can be compared like for like;
     * fp32 otherwise.
     *
     * @param bf16Kv keys and values in the cache
     * @param bf16Activations the activations of a step of more than 8 tokens before each product (the tensor-core path
     *     of a CUDA backend whose products take bf16 activations rather than split fp32 ones)
     */
    public CpuBackend(Checkpoint checkpoint, int threads, boolean bf16Kv, boolean bf16Activations) {
        this.bf16Kv = bf16Kv;
        this.bf16Activations = bf16Activations;
        this.config = checkpoint.config();
        this.hidden = config.hiddenSize();
        this.heads = config.numHeads();
        this.kvHeads = config.numKvHeads();
        this.headDim = config.headDim();
        this.group = config.groupSize();
        this.layerCount = config.numLayers();
        this.eps = (float) config.rmsNormEps();
        this.embedding = checkpoint.tensor("model.embed_tokens.weight");
        this.lmHead = config.tieWordEmbeddings() && !checkpoint.has("lm_head.weight")
                ? embedding : checkpoint.tensor("lm_head.weight");
        this.finalNorm = LayerWeights.vector(checkpoint.tensor("model.norm.weight"));
        this.layers = new LayerWeights[layerCount];
        for (int l = 0; l < layers.length; l++) {
            layers[l] = LayerWeights.load(checkpoint, l);
        }
        this.rope = new Rope(headDim, config.ropeTheta());
        this.parallel = new Parallel(threads);
        this.matMul = new MatMul(parallel);
    }

    /**
     * Every reason this backend cannot serve a model: none, since it runs every configuration the loader
     * accepts (ModelConfig and the checkpoint's tensors are validated at load).
     */
    public static List<String> problems(ModelConfig config) {
        return List.of();
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
    public long kvBytesPerPage(int pageSize) {
        return CpuKvStore.bytesPerPage(pageSize, headDim);
    }

    /** The KV store lives on the Java heap: what the heap may still grow to. */
    @Override
    public long kvMemoryAvailable() {
        Runtime runtime = Runtime.getRuntime();
        return runtime.maxMemory() - (runtime.totalMemory() - runtime.freeMemory());
    }

    @Override
    public void allocateKv(KvGeometry geometry) {
        if (store != null) {
            throw new IllegalStateException("the KV store is already allocated");
        }
        this.store = new CpuKvStore(geometry, layerCount, kvHeads, headDim, bf16Kv);
        this.attention = new ChunkAttention(heads, kvHeads, layerCount, headDim, store, parallel);
        this.counts = new TokenCounts[geometry.rows()];
    }

    @Override
    public void close() {
        parallel.close();
    }

    @Override
    public StepOutput step(StepPlan plan) {
        if (store == null) {
            throw new IllegalStateException("allocateKv must come before the first step");
        }
        plan = withFedBackTokens(plan);
        sampledBefore = Map.of(); // a step that fails half-way feeds nothing back
        store.apply(plan.pageTables());
        Batch batch = layout(plan);
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
        byte[] decisions = new byte[n * layerCount * kvHeads];   // (n, layers, kvHeads) decision made at token i
        float[] decisionLogits = config.isDms() && plan.sequences().stream()
                .anyMatch(s -> s.logits() != LogitsRequest.NONE) ? new float[decisions.length] : null;

        boolean roundActivations = bf16Activations && n > CUDA_GEMV_TOKENS;
        for (int l = 0; l < layers.length; l++) {
            LayerWeights w = layers[l];
            Ops.rmsNorm(x, xb, w.attnNorm(), n, hidden, eps);
            roundIf(roundActivations, xb);
            matMul.apply(xb, n, w.wq(), q);
            matMul.apply(xb, n, w.wk(), k);
            matMul.apply(xb, n, w.wv(), v);
            Ops.rmsNorm(q, q, w.qNorm(), n * heads, headDim, eps);
            Ops.rmsNorm(k, k, w.kNorm(), n * kvHeads, headDim, eps);
            if (config.isDms()) {
                decide(batch, l, q, decisions, decisionLogits);
                zeroDecisionChannel(q, n);
            }
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
                writeKv(batch, r, l, k, v, decisions);
            }
            for (int r = 0; r < batch.size(); r++) {
                SequenceStep s = batch.steps.get(r);
                attention.run(s.kv().row(), l, q, batch.rowStarts[r], s.length(), s.first(), s.rule().window(), att);
            }
            roundIf(roundActivations, att);
            matMul.apply(att, n, w.wo(), o);
            Ops.addInPlace(x, o, n * hidden);

            Ops.rmsNorm(x, xb, w.ffnNorm(), n, hidden, eps);
            roundIf(roundActivations, xb);
            matMul.apply(xb, n, w.w1(), gate);
            matMul.apply(xb, n, w.w3(), up);
            Ops.swiglu(gate, up, n * config.intermediateSize());
            roundIf(roundActivations, gate);
            matMul.apply(gate, n, w.w2(), o);
            Ops.addInPlace(x, o, n * hidden);
        }
        List<SequenceOutput> outputs = new ArrayList<>(batch.size());
        Map<Long, Integer> sampled = new HashMap<>();
        for (int r = 0; r < batch.size(); r++) {
            SequenceOutput out = output(batch, r, x, decisions, decisionLogits);
            outputs.add(out);
            if (out.token() >= 0) {
                sampled.put(out.sequenceId(), out.token());
            }
        }
        sampledBefore = sampled;
        return new StepOutput(outputs);
    }

    /** The plan with each {@link SequenceStep#FED_BACK} token replaced by what its sequence sampled the step before. */
    private StepPlan withFedBackTokens(StepPlan plan) {
        List<SequenceStep> steps = null;
        for (int i = 0; i < plan.sequences().size(); i++) {
            SequenceStep s = plan.sequences().get(i);
            if (!s.fedBack()) {
                continue;
            }
            Integer token = sampledBefore.get(s.sequenceId());
            if (token == null) {
                throw new IllegalArgumentException("sequence " + s.sequenceId() + " feeds back a token, but it sampled"
                        + " none in the step before");
            }
            if (steps == null) {
                steps = new ArrayList<>(plan.sequences());
            }
            steps.set(i, s.withTokens(new int[] {token}));
        }
        return steps == null ? plan : new StepPlan(steps, plan.pageTables());
    }

    /**
     * DMS decisions (DESIGN.md §3 steps 1–3): from q after q_norm and before RoPE, the last channel of each
     * group's first query head, scaled and offset, against the sequence's threshold for this layer.
     */
    private void decide(Batch batch, int layer, float[] q, byte[] decisions, float[] logits) {
        double alphaScale = config.dms().alphaScale();
        double alphaOffset = config.dms().initialAlphaOffset();
        for (int r = 0; r < batch.size(); r++) {
            DmsRule rule = batch.steps.get(r).rule();
            for (int i = batch.rowStarts[r]; i < batch.rowStarts[r] + batch.steps.get(r).length(); i++) {
                for (int h = 0; h < kvHeads; h++) {
                    int channel = (i * heads + h * group) * headDim + headDim - 1;
                    float logit = DmsRules.decisionLogit(q[channel], alphaScale, alphaOffset);
                    int at = (i * layerCount + layer) * kvHeads + h;
                    decisions[at] = (byte) (rule.flags(layer, logit) ? 1 : 0);
                    if (logits != null) {
                        logits[at] = logit;
                    }
                }
            }
        }
    }

    /** DESIGN.md §3 step 4: the borrowed channel is zeroed before and after RoPE, whatever the policy. */
    private void zeroDecisionChannel(float[] q, int n) {
        for (int i = 0; i < n; i++) {
            for (int h = 0; h < kvHeads; h++) {
                q[(i * heads + h * group) * headDim + headDim - 1] = 0f;
            }
        }
    }

    /**
     * Keys and values of sequence r's tokens into their reserved slots, and each decision into the flag of
     * the token it judges: token c's flag comes from token c + 1's decision, the previous step's last
     * token's from this chunk's first.
     */
    private void writeKv(Batch batch, int r, int layer, float[] k, float[] v, byte[] decisions) {
        SequenceStep s = batch.steps.get(r);
        SlotReservation kv = s.kv();
        int rowStart = batch.rowStarts[r];
        for (int h = 0; h < kvHeads; h++) {
            for (int c = 0; c < s.length(); c++) {
                int offset = ((rowStart + c) * kvHeads + h) * headDim;
                store.write(kv.slot(layer, h, kvHeads, c), s.first() + c, k, offset, v, offset);
            }
            for (int c = 1; c < s.length(); c++) {
                store.flag(kv.slot(layer, h, kvHeads, c - 1), decisions[((rowStart + c) * layerCount + layer)
                        * kvHeads + h] != 0);
            }
            int previous = kv.previousSlots()[layer * kvHeads + h];
            if (previous >= 0) {
                store.flag(previous, decisions[(rowStart * layerCount + layer) * kvHeads + h] != 0);
            }
        }
    }

    /** Final norm and lm_head for the rows that need logits, then the sampler. */
    private SequenceOutput output(Batch batch, int r, float[] x, byte[] decisions, float[] decisionLogits) {
        SequenceStep s = batch.steps.get(r);
        int length = s.length();
        TokenCounts seen = countTokens(s);
        Decisions decided = config.isDms() ? new Decisions(length, layerCount, kvHeads, decisions, batch.rowStarts[r])
                : Decisions.none(length, layerCount, kvHeads);
        if (!s.samples() && s.logits() == LogitsRequest.NONE) {
            return new SequenceOutput(s.sequenceId(), -1, null, decided, null);
        }
        int rows = s.logits() == LogitsRequest.ALL ? length : 1;
        int firstRow = batch.rowStarts[r] + length - rows;
        float[] normed = new float[rows * hidden];                 // (rows, hidden)
        for (int i = 0; i < rows; i++) {
            Ops.rmsNorm(x, (firstRow + i) * hidden, normed, i * hidden, finalNorm, hidden, eps);
        }
        int vocab = config.vocabSize();
        roundIf(bf16Activations && rows > CUDA_GEMV_TOKENS, normed);
        float[] flat = new float[rows * vocab];                    // (rows, vocab)
        matMul.apply(normed, rows, lmHead, flat);
        float[] last = Arrays.copyOfRange(flat, (rows - 1) * vocab, rows * vocab);
        Sample sample = s.samples()
                ? Sampler.sample(last, s.sampling(), seen, s.allowedTokens(), s.seed(), s.drawIndex()) : null;
        float[][] logits = null;
        if (s.logits() != LogitsRequest.NONE) {
            logits = new float[rows][];
            for (int i = 0; i < rows; i++) {
                logits[i] = i == rows - 1 ? last : Arrays.copyOfRange(flat, i * vocab, (i + 1) * vocab);
            }
        }
        int width = layerCount * kvHeads;
        float[] ownDecisionLogits = decisionLogits == null || logits == null ? null
                : Arrays.copyOfRange(decisionLogits, batch.rowStarts[r] * width, (batch.rowStarts[r] + length) * width);
        return new SequenceOutput(s.sequenceId(), sample == null ? -1 : sample.token(),
                sample == null ? null : sample.logprobs(), decided, logits, ownDecisionLogits);
    }

    private static void roundIf(boolean bf16, float[] values) {
        if (bf16) {
            for (int i = 0; i < values.length; i++) {
                values[i] = CpuKvStore.bf16(values[i]);
            }
        }
    }

    /** The penalties' token counts of the sequence in this row, fed with this step's tokens. */
    private TokenCounts countTokens(SequenceStep s) {
        int row = s.kv().row();
        if (!s.sampling().penalized()) {
            counts[row] = null;
            return null;
        }
        if (s.first() == 0 || counts[row] == null) {
            counts[row] = new TokenCounts();
        }
        for (int c = 0; c < s.length(); c++) {
            counts[row].add(s.tokens()[c], s.first() + c, s.promptLength());
        }
        return counts[row];
    }

    private int checkToken(int token) {
        if (token < 0 || token >= config.vocabSize()) {
            throw new IllegalArgumentException("token id " + token + " is outside the vocabulary [0, "
                    + config.vocabSize() + ")");
        }
        return token;
    }

    private Batch layout(StepPlan plan) {
        Batch batch = new Batch(plan);
        Set<Long> seen = new HashSet<>();
        int row = 0;
        for (int r = 0; r < batch.size(); r++) {
            SequenceStep s = plan.sequences().get(r);
            if (!seen.add(s.sequenceId())) {
                throw new IllegalArgumentException("sequence " + s.sequenceId() + " appears twice in one step");
            }
            batch.rowStarts[r] = row;
            for (int c = 0; c < s.length(); c++) {
                batch.tokenIds[row + c] = s.tokens()[c];
                batch.positions[row + c] = s.first() + c;
            }
            row += s.length();
        }
        return batch;
    }

    /** The rows of one step: sequence r owns rows [rowStarts[r], rowStarts[r] + length). */
    private static final class Batch {
        final List<SequenceStep> steps;
        final int[] rowStarts;
        final int tokens;
        final int[] tokenIds;
        final int[] positions;

        Batch(StepPlan plan) {
            this.steps = plan.sequences();
            this.rowStarts = new int[steps.size()];
            this.tokens = plan.tokens();
            this.tokenIds = new int[tokens];
            this.positions = new int[tokens];
        }

        int size() {
            return steps.size();
        }
    }
}
