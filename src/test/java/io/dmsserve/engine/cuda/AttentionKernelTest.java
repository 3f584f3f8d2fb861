package io.dmsserve.engine.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * attention.cu against a scalar masked attention (AttentionScene#reference: ChunkAttention's math with
 * DmsRules.visible) over page tables with holes, empty slots, flagged tokens inside and beyond the window,
 * garbage in unlisted pages, several sequences with different windows (0, small, effectively infinite).
 *
 * <p>Tolerances: decode keeps q and the probabilities in fp32, K/V are bf16 in both: 2e-5 relative + 2e-6.
 * The chunk kernel gives q and the probabilities to the tensor cores as bf16 high + low parts (about 16 bits
 * each): 1e-4 relative + 1e-5 against the fp32 reference and the decode kernel. Splitting (flash-decoding) must
 * not change the decode result beyond fp32 rounding.
 */
class AttentionKernelTest extends GpuTest {

    record Case(int heads, int kvHeads, int headDim, int pageSize, int[] contexts, int[] lengths, int[] windows) {
    }

    private AttentionKernel.Cache cache(AttentionScene sc) {
        return new AttentionKernel.Cache(upload(sc.keys), upload(sc.values), upload(sc.slotPos), upload(sc.slotFlag),
                sc.pageSize, sc.pageCount, upload(sc.pageTable), upload(sc.pageTableLen), sc.maxRows, sc.layers,
                sc.kvHeads, sc.maxPagesPerHead, sc.headDim);
    }

    private AttentionKernel.Queries queries(AttentionScene sc) {
        return new AttentionKernel.Queries(upload(sc.q), sc.qStride, sc.heads, upload(sc.positions),
                upload(sc.seqOfToken), sc.n, upload(sc.seqRow), upload(sc.seqWindow), sc.seqRow.length);
    }

    private AttentionKernel.Split split(AttentionScene sc, int pagesPerSplit) {
        int splits = AttentionKernel.splits(sc.maxLength(), pagesPerSplit);
        if (splits == 1) {
            return AttentionKernel.Split.none(sc.maxLength());
        }
        return split(sc, pagesPerSplit, splits, splits + 1);
    }

    /** A split with poisoned partials of `stride` slots a (token, head). */
    private AttentionKernel.Split split(AttentionScene sc, int pagesPerSplit, int splits, int stride) {
        return new AttentionKernel.Split(pagesPerSplit, splits, stride,
                poisoned(4L * sc.n * sc.heads * stride * sc.headDim), poisoned(8L * sc.n * sc.heads * stride));
    }

    private static AttentionScene scene(SplittableRandom random, Case c) {
        return new AttentionScene(random, c.heads(), c.kvHeads(), c.headDim(), c.pageSize(), c.contexts(), c.lengths(),
                c.windows());
    }

    @Test
    void decodeMatchesTheScalarMaskedAttention() {
        decodeMatchesTheScalarMaskedAttention(new AttentionKernel(context, true));
    }

    /** The CUDA-core kernel for every head size, head_dim 64 and 128 included (what tensor-decode=false runs). */
    @Test
    void cudaCoreDecodeMatchesTheScalarMaskedAttention() {
        decodeMatchesTheScalarMaskedAttention(new AttentionKernel(context, false));
    }

    private void decodeMatchesTheScalarMaskedAttention(AttentionKernel kernel) {
        SplittableRandom random = new SplittableRandom(8);
        for (Case c : new Case[] {
            new Case(32, 8, 128, 16, new int[] {40, 75, 1, 700}, new int[] {1, 3, 1, 1}, new int[] {4, 1_000_000, 0, 512}),
            new Case(4, 2, 32, 8, new int[] {100, 33}, new int[] {2, 1}, new int[] {16, 3}),
            new Case(16, 2, 64, 16, new int[] {130}, new int[] {1}, new int[] {20}),
            new Case(3, 3, 36, 5, new int[] {23, 9}, new int[] {1, 2}, new int[] {2, 4}),
            new Case(4, 1, 4, 4, new int[] {12}, new int[] {3}, new int[] {1}),
            new Case(8, 4, 256, 32, new int[] {70}, new int[] {2}, new int[] {8}),
            new Case(40, 8, 128, 64, new int[] {300, 50}, new int[] {1, 1}, new int[] {64, 5}),
            new Case(7, 1, 64, 4, new int[] {37, 2}, new int[] {3, 1}, new int[] {5, 0}),
            new Case(6, 2, 128, 16, new int[] {1500}, new int[] {2}, new int[] {512})}) {
            AttentionScene sc = scene(random, c);
            float[] want = sc.reference(false);
            AttentionKernel.Cache cache = cache(sc);
            AttentionKernel.Queries queries = queries(sc);
            int width = sc.heads * sc.headDim;
            for (int pagesPerSplit : new int[] {1000, 2, 1}) {
                AttentionKernel.Split split = split(sc, pagesPerSplit);
                DeviceBuffer out = poisoned(4L * sc.n * width);
                DeviceBuffer outBf16 = poisoned(2L * sc.n * width);
                kernel.decode(cache, queries, sc.layer, null, sc.n, split,
                        new AttentionKernel.Output(out, width, outBf16, width));
                String what = "decode G=" + c.heads() / c.kvHeads() + " D=" + c.headDim() + " splits=" + split.splits();
                assertClose(what, out.toFloats(), want, 2e-6, 2e-5);
                assertClose(what + " bf16", widen(outBf16.toShorts()), want, 1e-5, 1.0 / 256 + 2e-5);
            }
            if (sc.n >= 2) {
                DeviceBuffer out = poisoned(4L * sc.n * width);
                kernel.decode(cache, queries, sc.layer, upload(new int[] {sc.n - 1, 0}), 2,
                        AttentionKernel.Split.none(sc.maxLength()), new AttentionKernel.Output(out, width, null, 0));
                assertTokenList("decode", out.toFloats(), want, sc.n, width);
            }
        }
    }

    /**
     * The balanced grid (dms_attention_decode_tcb_d*) against the same reference: one block to more blocks than pages,
     * the stride {@link AttentionKernel#balancedStride} gives for the scene's lists; a token list.
     */
    @Test
    void balancedDecodeMatchesTheScalarMaskedAttention() {
        SplittableRandom random = new SplittableRandom(18);
        AttentionKernel kernel = new AttentionKernel(context, true);
        for (Case c : new Case[] {
            new Case(32, 8, 128, 16, new int[] {40, 75, 1, 700}, new int[] {1, 3, 1, 1},
                    new int[] {4, 1_000_000, 0, 512}),
            new Case(16, 2, 64, 16, new int[] {130}, new int[] {1}, new int[] {20}),
            new Case(40, 8, 128, 64, new int[] {300, 50}, new int[] {1, 1}, new int[] {64, 5}),
            new Case(7, 1, 64, 4, new int[] {37, 2}, new int[] {3, 1}, new int[] {5, 0}),
            new Case(6, 2, 128, 16, new int[] {1500, 3, 900}, new int[] {2, 1, 1}, new int[] {512, 1, 64})}) {
            AttentionScene sc = scene(random, c);
            float[] want = sc.reference(false);
            AttentionKernel.Cache cache = cache(sc);
            AttentionKernel.Queries queries = queries(sc);
            int width = sc.heads * sc.headDim;
            // Strides from a layer of 1 page (the largest the bound gives); kernel_test takes the scene's own total.
            for (int blocks : new int[] {1, 7, 100, 400}) {
                int stride = AttentionKernel.balancedStride(sc.maxLength(), 1, blocks);
                AttentionKernel.Split split = split(sc, 1, stride, stride);
                DeviceBuffer out = poisoned(4L * sc.n * width);
                kernel.decodeBalanced(cache, queries, sc.layer, null, sc.n, blocks, split,
                        new AttentionKernel.Output(out, width, null, 0));
                assertClose("balanced decode G=" + c.heads() / c.kvHeads() + " D=" + c.headDim() + " blocks=" + blocks
                        + " stride=" + stride, out.toFloats(), want, 2e-6, 2e-5);
            }
            if (sc.n >= 2) {
                int stride = AttentionKernel.balancedStride(sc.maxLength(), 1, 9);
                AttentionKernel.Split split = split(sc, 1, stride, stride);
                DeviceBuffer out = poisoned(4L * sc.n * width);
                kernel.decodeBalanced(cache, queries, sc.layer, upload(new int[] {sc.n - 1, 0}), 2, 9, split,
                        new AttentionKernel.Output(out, width, null, 0));
                assertTokenList("balanced decode", out.toFloats(), want, sc.n, width);
            }
        }
    }

    /** A launch for the token list {n - 1, 0}: those two rows as the reference's, the row between not written. */
    private static void assertTokenList(String what, float[] got, float[] want, int n, int width) {
        assertClose(what + " token list, last token", Arrays.copyOfRange(got, (n - 1) * width, n * width),
                Arrays.copyOfRange(want, (n - 1) * width, n * width), 2e-6, 2e-5);
        assertClose(what + " token list, first token", Arrays.copyOfRange(got, 0, width),
                Arrays.copyOfRange(want, 0, width), 2e-6, 2e-5);
        if (n > 2) {
            assertThat(got[width]).as(what + ": a token not in the list is not written").isNaN();
        }
    }

    @Test
    void chunkMatchesTheScalarMaskedAttentionAndTheDecodeKernel() {
        SplittableRandom random = new SplittableRandom(9);
        AttentionKernel kernel = new AttentionKernel(context);
        for (Case c : new Case[] {
            new Case(32, 8, 128, 16, new int[] {40, 300}, new int[] {17, 200}, new int[] {4, 64}),
            new Case(4, 2, 32, 8, new int[] {100, 33}, new int[] {33, 2}, new int[] {16, 3}),
            new Case(4, 1, 64, 16, new int[] {75}, new int[] {75}, new int[] {6}),
            new Case(10, 2, 64, 4, new int[] {50}, new int[] {13}, new int[] {1000}),
            new Case(16, 8, 128, 64, new int[] {1100}, new int[] {600}, new int[] {512})}) {
            AttentionScene sc = scene(random, c);
            float[] want = sc.reference(false);
            AttentionKernel.Cache cache = cache(sc);
            AttentionKernel.Queries queries = queries(sc);
            int width = sc.heads * sc.headDim;
            int[] tiles = AttentionKernel.tiles(sc.seqFirst, sc.seqLength, c.heads() / c.kvHeads(), 1);
            int[] all = new int[sc.n];
            for (int i = 0; i < sc.n; i++) {
                all[i] = i;
            }
            DeviceBuffer tileBuffer = upload(tiles);
            DeviceBuffer tokenList = upload(all);
            float[] decoded = null;
            for (int pagesPerSplit : new int[] {1000, 3}) {
                AttentionKernel.Split split = split(sc, pagesPerSplit);
                DeviceBuffer out = poisoned(4L * sc.n * width);
                DeviceBuffer outBf16 = poisoned(2L * sc.n * width);
                AttentionKernel.Output output = new AttentionKernel.Output(out, width, outBf16, width);
                kernel.chunk(cache, queries, sc.layer, tileBuffer, tiles.length / 2, tokenList, sc.n, split, output);
                String what = "chunk G=" + c.heads() / c.kvHeads() + " D=" + c.headDim() + " splits=" + split.splits();
                float[] got = out.toFloats();
                assertClose(what, got, want, 1e-5, 1e-4);
                // q and the probabilities as one bf16 each (CudaBackend.CHUNK_ATTENTION_PROPERTY bf16): 2^-9 of
                // rounding in both, outputs within 4e-3 of the reference's (values within 1)
                DeviceBuffer outOne = poisoned(4L * sc.n * width);
                kernel.chunk(cache, queries, sc.layer, tileBuffer, tiles.length / 2, tokenList, sc.n, split,
                        new AttentionKernel.Output(outOne, width, null, 0), true);
                assertClose(what + " bf16", outOne.toFloats(), want, 4e-3, 0);
                if (decoded == null) {
                    DeviceBuffer reference = poisoned(4L * sc.n * width);
                    kernel.decode(cache, queries, sc.layer, null, sc.n, AttentionKernel.Split.none(sc.maxLength()),
                            new AttentionKernel.Output(reference, width, null, 0));
                    decoded = reference.toFloats();
                }
                // The same visible sets token by token (decode) and per tile (chunk): sparse prefill = decode.
                assertClose(what + " vs decode", got, decoded, 1e-5, 1e-4);
            }
        }
    }
}
