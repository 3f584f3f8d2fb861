package io.dmsserve.engine.cuda;

import static io.dmsserve.engine.cuda.Checks.holds;
import static io.dmsserve.engine.cuda.Checks.positive;
import static io.dmsserve.engine.cuda.Checks.require;

import java.nio.ByteBuffer;

/**
 * native/sampling.cu: one block per row of logits (a plain greedy row of a small step: several, {@link Splits}): allowed-token mask, logit bias, repetition/presence/
 * frequency penalties from per-row counts kept on the device, then greedy or temperature / min-p / top-k /
 * top-p and a counter-based draw; the token, its logprob and the top logprobs. The semantics (native/README.md,
 * sampling) are those of the Java sampler.
 */
final class SamplingKernel {

    static final String NAME = "dms_sample";
    static final String COUNT_NAME = "dms_sampling_count";
    /** Top logprobs reported per row at most; topIds/topLogprobs rows are this wide. */
    static final int TOP = 20;
    static final int THREADS = 1024;
    /** Sorted chunk of candidates in shared memory (keys and cumulative weights) plus a 256-bucket histogram. */
    static final int SHARED_BYTES = 2048 * 16 + 256 * 4;

    /**
     * One row's settings, written as the kernel's 96-byte SampleParams.
     *
     * @param temperature 0 = greedy (argmax, lowest id on ties)
     * @param topP 1 = off; minP 0 = off; topK 0 = off
     * @param repetitionPenalty 1 = off (vLLM semantics; see native/README.md)
     * @param seed with drawIndex: u = sampling.Draws.uniform(seed, drawIndex), the same three lines in native/dms.cuh
     * @param logprobs -1 none, 0 the sampled token's, N <= 20 also the top N
     * @param biasStart, biasCount the row's entries of the bias arrays
     * @param maskOffset int32 word offset of the row's allowed-token bitset, -1 = none
     * @param countsRow the row of promptBits/outputCounts, -1 = no penalties
     * @param countOutput add the sampled token to outputCounts[countsRow]
     */
    record Params(double temperature, double topP, int topK, double minP, double repetitionPenalty,
            double presencePenalty, double frequencyPenalty, long seed, long drawIndex, int logprobs, int biasStart,
            int biasCount, int maskOffset, int countsRow, boolean countOutput) {

        static final int BYTES = 96;

        Params {
            require(temperature >= 0 && Double.isFinite(temperature), "temperature must be finite and >= 0");
            require(topP > 0 && topP <= 1, "top_p must be in (0, 1]");
            require(topK >= 0, "top_k must be >= 0");
            require(minP >= 0 && minP <= 1, "min_p must be in [0, 1]");
            require(repetitionPenalty > 0 && Double.isFinite(repetitionPenalty), "repetition_penalty must be > 0");
            require(logprobs >= -1 && logprobs <= TOP, "logprobs must be in [-1, " + TOP + "]");
            require(biasStart >= 0 && biasCount >= 0, "bias range must be >= 0");
        }

        static Params greedy() {
            return new Params(0, 1, 0, 0, 1, 0, 0, 0, 0, -1, 0, 0, -1, -1, false);
        }

        /** Writes the 96-byte little-endian layout of SampleParams at {@code offset}. */
        void write(ByteBuffer out, int offset) {
            ByteBuffer b = out.duplicate().order(java.nio.ByteOrder.LITTLE_ENDIAN);
            b.putDouble(offset, temperature);
            b.putDouble(offset + 8, topP);
            b.putDouble(offset + 16, minP);
            b.putDouble(offset + 24, repetitionPenalty);
            b.putDouble(offset + 32, presencePenalty);
            b.putDouble(offset + 40, frequencyPenalty);
            b.putLong(offset + 48, seed);
            b.putLong(offset + 56, drawIndex);
            b.putInt(offset + 64, topK);
            b.putInt(offset + 68, logprobs);
            b.putInt(offset + 72, biasStart);
            b.putInt(offset + 76, biasCount);
            b.putInt(offset + 80, maskOffset);
            b.putInt(offset + 84, countsRow);
            b.putInt(offset + 88, countOutput ? 1 : 0);
            b.putInt(offset + 92, 0);
        }

        static byte[] pack(Params... rows) {
            ByteBuffer b = ByteBuffer.allocate(rows.length * BYTES);
            for (int i = 0; i < rows.length; i++) {
                rows[i].write(b, i * BYTES);
            }
            return b.array();
        }
    }

    /** Rows a launch splits by vocabulary slices at most ({@link #splitsFor}); the scratch is sized for these. */
    static final int MAX_SPLIT_ROWS = 8;
    /** Slices a row at most (the kernel's host entry takes up to 64). */
    static final int MAX_SPLITS = 64;

    /**
     * How many blocks a row takes (grid y): with more than one, a plain greedy row (temperature 0, no logprobs, no
     * bias) is split into that many slices of the vocabulary and the last block to finish merges their argmaxes (the
     * same token as one block); other rows stay one block's. {@code best} holds (rows, count) 8-byte slice results,
     * {@code arrivals} (rows) int32 counts, zero before the first launch (the kernel resets them).
     */
    record Splits(int count, DeviceBuffer best, DeviceBuffer arrivals) {

        static final Splits NONE = new Splits(1, null, null);

        Splits {
            require(count >= 1 && count <= MAX_SPLITS, "splits must be in [1, " + MAX_SPLITS + "]");
            require(count == 1 || best != null && arrivals != null, "more than one split needs its scratch");
        }

        /** Device bytes of {@code best} for {@link #MAX_SPLIT_ROWS} rows. */
        static long bestBytes() {
            return 8L * MAX_SPLIT_ROWS * MAX_SPLITS;
        }
    }

    /**
     * The splits for {@code rows} rows: {@code perRow} (0: auto, the blocks of about one block a multiprocessor for
     * the launch, at most 32 a row) when rows <= {@link #MAX_SPLIT_ROWS}, else one. One block of 1,024 threads took
     * 28 µs over the 151,936 logits of a batch-1 step, the whole of the step's sampling (H200, 2026-12-01).
     */
    static int splitsFor(int rows, int perRow, int multiprocessors) {
        if (rows > MAX_SPLIT_ROWS) {
            return 1;
        }
        if (perRow > 0) {
            return Math.min(perRow, MAX_SPLITS);
        }
        return Math.max(1, Math.min(32, multiprocessors / rows));
    }

    private final Kernel sample;
    private final Kernel count;

    SamplingKernel(CudaContext context) {
        this.sample = context.kernel(NAME, SHARED_BYTES);
        this.count = context.kernel(COUNT_NAME);
    }

    /**
     * @param logits fp32 (rows, vocab), row stride ldLogits
     * @param processed fp32 (rows, vocab), row stride ldProcessed: the processed logits; may be logits itself
     * @param params rows x 96 bytes ({@link Params#write})
     * @param maskWords uint32 bitsets (bit id of the row's words = allowed), or null
     * @param biasIds int32, biasValues fp32: the bias entries of all rows, or null
     * @param promptBits uint32 (countRows, ceil(vocab / 32)), outputCounts int32 (countRows, vocab), or null
     * @param tokens int32 (rows); logprobs fp32 (rows); topIds int32, topLogprobs fp32 (rows, 20); the last three
     *     may be null when no row asks for logprobs
     */
    void sample(DeviceBuffer logits, int ldLogits, DeviceBuffer processed, int ldProcessed, int rows, int vocab,
            DeviceBuffer params, DeviceBuffer maskWords, DeviceBuffer biasIds, DeviceBuffer biasValues,
            DeviceBuffer promptBits, DeviceBuffer outputCounts, int countRows, DeviceBuffer tokens,
            DeviceBuffer logprobs, DeviceBuffer topIds, DeviceBuffer topLogprobs) {
        sample(logits, ldLogits, processed, ldProcessed, rows, vocab, params, maskWords, biasIds, biasValues,
                promptBits, outputCounts, countRows, tokens, logprobs, topIds, topLogprobs, Splits.NONE);
    }

    /** As above, rows split as {@code splits} says ({@link Splits}). */
    void sample(DeviceBuffer logits, int ldLogits, DeviceBuffer processed, int ldProcessed, int rows, int vocab,
            DeviceBuffer params, DeviceBuffer maskWords, DeviceBuffer biasIds, DeviceBuffer biasValues,
            DeviceBuffer promptBits, DeviceBuffer outputCounts, int countRows, DeviceBuffer tokens,
            DeviceBuffer logprobs, DeviceBuffer topIds, DeviceBuffer topLogprobs, Splits splits) {
        positive(rows, "rows");
        if (splits.count() > 1) {
            holds(splits.best(), (long) rows * splits.count(), 8, "split results (rows, splits) 8 bytes");
            holds(splits.arrivals(), rows, 4, "split arrivals (rows) int32");
        }
        positive(vocab, "vocab");
        require(ldLogits >= vocab && ldProcessed >= vocab, "row strides must be >= vocab");
        holds(logits, Checks.rows(rows, ldLogits, vocab), 4, "logits (rows, vocab) fp32");
        holds(processed, Checks.rows(rows, ldProcessed, vocab), 4, "processed (rows, vocab) fp32");
        holds(params, (long) rows * Params.BYTES, 1, "params (rows) SampleParams");
        if (outputCounts != null) {
            holds(outputCounts, (long) countRows * vocab, 4, "outputCounts (countRows, vocab) int32");
        }
        if (promptBits != null) {
            holds(promptBits, (long) countRows * ((vocab + 31) / 32), 4, "promptBits (countRows, vocab / 32) uint32");
        }
        holds(tokens, rows, 4, "tokens (rows) int32");
        if (logprobs != null) {
            holds(logprobs, rows, 4, "logprobs (rows) fp32");
        }
        if (topIds != null || topLogprobs != null) {
            holds(topIds, (long) rows * TOP, 4, "topIds (rows, 20) int32");
            holds(topLogprobs, (long) rows * TOP, 4, "topLogprobs (rows, 20) fp32");
        }
        sample.launch(rows, splits.count(), 1, THREADS, SHARED_BYTES, new KernelArgs().ptr(logits).i32(ldLogits)
                .ptr(processed).i32(ldProcessed).i32(rows).i32(vocab).ptr(params).ptr(maskWords).ptr(biasIds)
                .ptr(biasValues).ptr(promptBits).ptr(outputCounts).ptr(tokens).ptr(logprobs).ptr(topIds)
                .ptr(topLogprobs).ptr(splits.best()).ptr(splits.arrivals()));
    }

    /**
     * For e < n: marks token tokenIds[e] in counts row countRows[e] (skipped when < 0): the prompt bitset when
     * promptBits is given, else outputCounts += 1. Clear a row (cuMemsetD32) when a sequence takes it.
     */
    void count(DeviceBuffer tokenIds, DeviceBuffer countRows, int n, int vocab, DeviceBuffer promptBits,
            DeviceBuffer outputCounts) {
        require(n >= 0, "n must be >= 0");
        positive(vocab, "vocab");
        require((promptBits == null) != (outputCounts == null), "exactly one of promptBits, outputCounts");
        if (n == 0) {
            return;
        }
        holds(tokenIds, n, 4, "tokenIds (n) int32");
        holds(countRows, n, 4, "countRows (n) int32");
        count.launch(Checks.ceilDiv(n, 256), 1, 1, 256, 0, new KernelArgs().ptr(tokenIds).ptr(countRows).i32(n)
                .i32(vocab).ptr(promptBits).ptr(outputCounts));
    }
}
