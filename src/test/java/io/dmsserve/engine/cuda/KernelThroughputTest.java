package io.dmsserve.engine.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Not a correctness test: prints throughput figures of the other hot kernels on Qwen3-8B's shapes, so that one
 * run of the bundle says where the time goes: the tensor-core matmul (prefill), decode attention over a dense
 * 32K-token cache (bandwidth), chunk attention (prefill), and sampling on the full vocabulary. Only results
 * that are not finite fail it.
 */
@org.junit.jupiter.api.Tag("benchmark")
class KernelThroughputTest extends GpuTest {

    @Test
    void tensorCoreMatmul() {
        MatMulKernel kernel = new MatMulKernel(context);
        for (int[] shape : new int[][] {{2048, 4096, 4096}, {512, 24576, 4096}, {2048, 4096, 12288}, {64, 6144, 4096}}) {
            int n = shape[0];
            int m = shape[1];
            int k = shape[2];
            DeviceBuffer a = track(context.allocate(2L * n * k));
            DeviceBuffer w = track(context.allocate(2L * m * k));
            DeviceBuffer c = track(context.allocate(4L * n * m));
            a.fill(0x3c);
            w.fill(0x3c);
            kernel.matmul(a, k, w, c, m, n, m, k, false);
            int repeats = 10;
            float ms = context.time(() -> {
                for (int i = 0; i < repeats; i++) {
                    kernel.matmul(a, k, w, c, m, n, m, k, false);
                }
            }) / repeats;
            double tflops = 2.0 * n * m * k / (ms * 1e-3) / 1e12;
            System.out.printf("[gpu] matmul %5d x %5d x %5d: %8.1f us, %.0f TFLOP/s%n", n, m, k, ms * 1e3, tflops);
            assertThat(tflops).isPositive().isFinite();
        }
    }

    @Test
    void decodeAndChunkAttention() {
        AttentionKernel kernel = new AttentionKernel(context);
        int heads = 32;
        int kvHeads = 8;
        int d = 128;
        int pageSize = 16;
        int context = 32768;
        for (int sequences : new int[] {1, 16}) {
            int pagesPerHead = context / pageSize;
            int layers = 1;
            int pageCount = sequences * kvHeads * pagesPerHead;
            long slots = (long) pageCount * pageSize;
            int[] table = new int[sequences * kvHeads * pagesPerHead];
            for (int i = 0; i < table.length; i++) {
                table[i] = i;
            }
            int[] lengths = new int[sequences * kvHeads];
            Arrays.fill(lengths, pagesPerHead);
            int[] slotPos = new int[(int) slots];
            for (int s = 0; s < slotPos.length; s++) {
                slotPos[s] = s % context;
            }
            DeviceBuffer keys = track(GpuTest.context.allocate(2L * slots * d));
            DeviceBuffer values = track(GpuTest.context.allocate(2L * slots * d));
            keys.fill(0x3c);
            values.fill(0x3c);
            DeviceBuffer flags = track(GpuTest.context.allocate(slots));
            flags.fill(0);
            int[] positions = new int[sequences];
            int[] seqOf = new int[sequences];
            int[] rows = new int[sequences];
            int[] windows = new int[sequences];
            for (int s = 0; s < sequences; s++) {
                positions[s] = context - 1;
                seqOf[s] = s;
                rows[s] = s;
                windows[s] = 512;
            }
            AttentionKernel.Cache cache = new AttentionKernel.Cache(keys, values, upload(slotPos), flags, pageSize,
                    pageCount, upload(table), upload(lengths), sequences, layers, kvHeads, pagesPerHead, d);
            AttentionKernel.Queries queries = new AttentionKernel.Queries(upload(randomFloats(new SplittableRandom(1),
                    sequences * heads * d, 1f)), heads * d, heads, upload(positions), upload(seqOf), sequences,
                    upload(rows), upload(windows), sequences);
            int perSplit = AttentionKernel.pagesPerSplit(pagesPerHead, pageSize, (long) sequences * kvHeads,
                    GpuTest.context.info().multiprocessors());
            int splits = AttentionKernel.splits(pagesPerHead, perSplit);
            AttentionKernel.Split split = new AttentionKernel.Split(perSplit, splits, splits,
                    track(GpuTest.context.allocate(4L * sequences * heads * splits * d)),
                    track(GpuTest.context.allocate(8L * sequences * heads * splits)));
            DeviceBuffer out = track(GpuTest.context.allocate(4L * sequences * heads * d));
            AttentionKernel.Output output = new AttentionKernel.Output(out, heads * d, null, 0);
            kernel.decode(cache, queries, 0, null, sequences, split, output);
            int repeats = 10;
            float ms = GpuTest.context.time(() -> {
                for (int i = 0; i < repeats; i++) {
                    kernel.decode(cache, queries, 0, null, sequences, split, output);
                }
            }) / repeats;
            double bytes = (double) sequences * kvHeads * context * (2.0 * 2 * d + 5);
            System.out.printf("[gpu] decode attention %2d x %d tokens (%d splits of %d pages): %8.1f us, %.2f TB/s%n",
                    sequences, context, splits, perSplit, ms * 1e3, bytes / (ms * 1e-3) / 1e12);
            assertThat(ms).isPositive().isFinite();
        }
        // Prefill: a 4096-token chunk of one sequence on a 4096-token cache (causal, no eviction).
        int n = 4096;
        int pagesPerHead = n / pageSize;
        int pageCount = kvHeads * pagesPerHead;
        long slots = (long) pageCount * pageSize;
        int[] table = new int[kvHeads * pagesPerHead];
        for (int i = 0; i < table.length; i++) {
            table[i] = i;
        }
        int[] lengths = new int[kvHeads];
        Arrays.fill(lengths, pagesPerHead);
        int[] slotPos = new int[(int) slots];
        for (int s = 0; s < slotPos.length; s++) {
            slotPos[s] = s % n;
        }
        int[] positions = new int[n];
        for (int i = 0; i < n; i++) {
            positions[i] = i;
        }
        DeviceBuffer keys = track(GpuTest.context.allocate(2L * slots * d));
        DeviceBuffer values = track(GpuTest.context.allocate(2L * slots * d));
        keys.fill(0x3c);
        values.fill(0x3c);
        DeviceBuffer flags = track(GpuTest.context.allocate(slots));
        flags.fill(0);
        AttentionKernel.Cache cache = new AttentionKernel.Cache(keys, values, upload(slotPos), flags, pageSize, pageCount,
                upload(table), upload(lengths), 1, 1, kvHeads, pagesPerHead, d);
        AttentionKernel.Queries queries = new AttentionKernel.Queries(upload(randomFloats(new SplittableRandom(2),
                n * heads * d, 1f)), heads * d, heads, upload(positions), upload(new int[n]), n, upload(new int[] {0}),
                upload(new int[] {1 << 30}), 1);
        int[] tiles = AttentionKernel.tiles(new int[] {0}, new int[] {n}, heads / kvHeads, 1);
        DeviceBuffer tileBuffer = upload(tiles);
        DeviceBuffer out = track(GpuTest.context.allocate(4L * n * heads * d));
        AttentionKernel.Output output = new AttentionKernel.Output(out, heads * d, null, 0);
        AttentionKernel.Split none = AttentionKernel.Split.none(pagesPerHead);
        kernel.chunk(cache, queries, 0, tileBuffer, tiles.length / 2, null, 0, none, output);
        float ms = GpuTest.context.time(() -> kernel.chunk(cache, queries, 0, tileBuffer, tiles.length / 2, null, 0, none,
                output));
        double flops = 4.0 * heads * d * (double) n * n / 2; // causal half of QKᵀ and PV
        System.out.printf("[gpu] chunk attention %d tokens, 32 heads: %8.1f us, %.0f TFLOP/s (causal)%n", n, ms * 1e3,
                flops / (ms * 1e-3) / 1e12);
        assertThat(ms).isPositive().isFinite();
    }

    @Test
    void samplingOnTheFullVocabulary() {
        SamplingKernel kernel = new SamplingKernel(context);
        int vocab = 151936;
        for (int rows : new int[] {1, 64}) {
            DeviceBuffer logits = upload(randomFloats(new SplittableRandom(rows), rows * vocab, 10f));
            DeviceBuffer tokens = track(context.allocate(4L * rows));
            for (String mode : new String[] {"greedy", "top-p 0.9 T 0.7", "T 1.0"}) {
                SamplingKernel.Params[] params = new SamplingKernel.Params[rows];
                for (int r = 0; r < rows; r++) {
                    params[r] = switch (mode) {
                        case "greedy" -> SamplingKernel.Params.greedy();
                        case "T 1.0" -> new SamplingKernel.Params(1.0, 1, 0, 0, 1, 0, 0, r, 0, -1, 0, 0, -1, -1, false);
                        default -> new SamplingKernel.Params(0.7, 0.9, 0, 0, 1, 0, 0, r, 0, -1, 0, 0, -1, -1, false);
                    };
                }
                DeviceBuffer p = upload(SamplingKernel.Params.pack(params));
                DeviceBuffer processed = track(context.allocate(4L * rows * vocab));
                kernel.sample(logits, vocab, processed, vocab, rows, vocab, p, null, null, null, null, null, 0, tokens,
                        null, null, null);
                float ms = context.time(() -> kernel.sample(logits, vocab, processed, vocab, rows, vocab, p, null, null,
                        null, null, null, 0, tokens, null, null, null));
                System.out.printf("[gpu] sampling %2d rows x %d, %s: %8.1f us%n", rows, vocab, mode, ms * 1e3);
                assertThat(ms).isPositive().isFinite();
            }
        }
    }
}
