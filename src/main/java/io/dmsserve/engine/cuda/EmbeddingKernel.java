package io.dmsserve.engine.cuda;

import static io.dmsserve.engine.cuda.Checks.holds;
import static io.dmsserve.engine.cuda.Checks.positive;

/** native/embedding.cu: token ids to rows of the residual stream. */
final class EmbeddingKernel {

    static final String NAME = "dms_embedding_bf16";
    private static final int BLOCK = 256;

    private final Kernel kernel;

    EmbeddingKernel(CudaContext context) {
        this.kernel = context.kernel(NAME);
    }

    /**
     * x[i][:] = embedding[tokens[i]][:] as fp32 (exact); an id outside [0, vocab) gives a row of NaN.
     *
     * @param embedding bf16 (vocab, hidden), model.embed_tokens.weight
     * @param tokens int32 (n)
     * @param x fp32 (n, hidden), written
     */
    void gather(DeviceBuffer embedding, int vocab, int hidden, DeviceBuffer tokens, int n, DeviceBuffer x) {
        positive(vocab, "vocab");
        positive(hidden, "hidden");
        positive(n, "n");
        holds(embedding, (long) vocab * hidden, 2, "embedding (vocab, hidden) bf16");
        holds(tokens, n, 4, "tokens (n) int32");
        holds(x, (long) n * hidden, 4, "x (n, hidden) fp32");
        kernel.launch(n, Checks.ceilDiv(hidden, 8L * BLOCK), 1, BLOCK, 0,
                new KernelArgs().ptr(embedding).ptr(tokens).i32(n).i32(hidden).i32(vocab).ptr(x));
    }
}
