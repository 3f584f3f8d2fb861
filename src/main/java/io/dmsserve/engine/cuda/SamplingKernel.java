package io.dmsserve.engine.cuda;

import static io.dmsserve.engine.cuda.Checks.holds;
import static io.dmsserve.engine.cuda.Checks.positive;
import static io.dmsserve.engine.cuda.Checks.require;

import java.nio.ByteBuffer;

/**
 * native/sampling.cu: one block per row of logits: allowed-token mask, logit bias, repetition/presence/
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
        positive(rows, "rows");
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
        sample.launch(rows, 1, 1, THREADS, SHARED_BYTES, new KernelArgs().ptr(logits).i32(ldLogits).ptr(processed)
                .i32(ldProcessed).i32(rows).i32(vocab).ptr(params).ptr(maskWords).ptr(biasIds).ptr(biasValues)
                .ptr(promptBits).ptr(outputCounts).ptr(tokens).ptr(logprobs).ptr(topIds).ptr(topLogprobs));
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
