package io.dmsserve.engine.cuda;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * sampling.cu against SamplingReference (the sampler's semantics with a full sort) on vocabularies of 77 and
 * 151936, rows mixing greedy, plain temperature, top-p, top-k, min-p, flat distributions whose draws walk deep
 * into the sorted order, masks, logit bias and penalties, with ties among the logits.
 *
 * <p>Processed logits and tokens are compared exactly (a draw within double rounding of a boundary could
 * differ; with these seeds none does). Logprobs: 1e-5. The output counts gain exactly the sampled tokens.
 */
class SamplingKernelTest extends GpuTest {

    @Test
    void smallVocabulary() {
        run(77, 40, 10);
    }

    @Test
    void qwenVocabulary() {
        run(151936, 30, 11);
    }

    @Test
    void countsMarkPromptsAndOutputs() {
        SamplingKernel kernel = new SamplingKernel(context);
        int vocab = 77;
        int words = (vocab + 31) / 32;
        DeviceBuffer bits = upload(new int[2 * words]);
        DeviceBuffer counts = upload(new int[2 * vocab]);
        DeviceBuffer ids = upload(new int[] {5, 76, 5, 100, 40, -1});
        DeviceBuffer rows = upload(new int[] {0, 1, 0, 0, -1, 1});
        kernel.count(ids, rows, 6, vocab, bits, null);
        kernel.count(ids, rows, 6, vocab, null, counts);
        int[] wantBits = new int[2 * words];
        wantBits[0] = 1 << 5;
        wantBits[words + 2] = 1 << (76 - 64);
        int[] wantCounts = new int[2 * vocab];
        wantCounts[5] = 2;
        wantCounts[vocab + 76] = 1;
        assertThat(bits.toInts()).containsExactly(wantBits);
        assertThat(counts.toInts()).containsExactly(wantCounts);
    }

    /**
     * Plain greedy rows split over vocabulary slices ({@link SamplingKernel.Splits}) give the one-block results: every
     * row greedy but one in ten (sampled) and one with a logprob, with masks, bias and penalties as above; ties across
     * slices from the rounded logits; more slices than the small vocabulary fills.
     */
    @Test
    void splitGreedyRowsGiveTheSameTokens() {
        run(77, 20, 12, 3, true);
        run(77, 8, 13, 64, true);
        run(151936, 8, 14, 32, true);
        run(5000, 10, 15, 16, false);
    }

    private void run(int vocab, int rows, long seed) {
        run(vocab, rows, seed, 1, false);
    }

    private void run(int vocab, int rows, long seed, int splits, boolean greedy) {
        SplittableRandom random = new SplittableRandom(seed);
        SamplingKernel kernel = new SamplingKernel(context);
        int words = (vocab + 31) / 32;
        List<SamplingKernel.Params> params = new ArrayList<>();
        List<Integer> biasIds = new ArrayList<>();
        List<Float> biasValues = new ArrayList<>();
        int[] maskWords = new int[2 * words];
        for (int m = 0; m < 2; m++) {
            for (int id = 0; id < vocab; id++) {
                if (random.nextInt(3) != 0) {
                    maskWords[m * words + id / 32] |= 1 << (id % 32);
                }
            }
        }
        int[] counts = new int[rows * vocab];
        int[] prompt = new int[rows * words];
        for (int c = 0; c < rows; c++) {
            for (int e = 0; e < Math.min(vocab / 4, 2000); e++) {
                counts[c * vocab + random.nextInt(vocab)] += 1 + random.nextInt(3);
                int t = random.nextInt(vocab);
                prompt[c * words + t / 32] |= 1 << (t % 32);
            }
        }
        for (int r = 0; r < rows; r++) {
            long s = random.nextLong();
            int logprobs = r % 3 == 0 ? 20 : r % 3 == 1 ? 0 : (r % 2 == 1 ? 3 : -1);
            int kind = r % 10;
            int maskOffset = kind == 2 || kind == 5 ? (kind == 2 ? 0 : words) : -1;
            int biasStart = biasIds.size();
            int biasCount = 0;
            if (kind == 3 || kind == 4) {
                for (int e = 0; e < 7; e++) {
                    biasIds.add((r * 13 + e * 29) % vocab);
                    biasValues.add(e % 2 == 1 ? 100f : -3.5f);
                }
                biasIds.add(vocab + 5); // ignored
                biasValues.add(1f);
                biasCount = 8;
            }
            boolean penalties = kind == 1 || kind == 4 || kind == 8;
            int countsRow = penalties ? r : -1;
            double rep = penalties ? 1.3 : 1;
            double presence = penalties ? 0.4 : 0;
            double frequency = penalties ? 0.25 : 0;
            SamplingKernel.Params p = switch (kind) {
                case 0 -> new SamplingKernel.Params(0, 1, 0, 0, rep, presence, frequency, s, r, logprobs, biasStart,
                        biasCount, maskOffset, countsRow, penalties);
                case 1 -> new SamplingKernel.Params(1.0, 1, 0, 0, rep, presence, frequency, s, r, logprobs, biasStart,
                        biasCount, maskOffset, countsRow, penalties);
                case 2 -> new SamplingKernel.Params(0.7, 0.9, 0, 0, rep, presence, frequency, s, r, logprobs, biasStart,
                        biasCount, maskOffset, countsRow, penalties);
                case 3 -> new SamplingKernel.Params(1.3, 1, 5, 0, rep, presence, frequency, s, r, logprobs, biasStart,
                        biasCount, maskOffset, countsRow, penalties);
                case 4 -> new SamplingKernel.Params(0.8, 0.95, 40, 0.05, rep, presence, frequency, s, r, logprobs,
                        biasStart, biasCount, maskOffset, countsRow, penalties);
                case 5 -> new SamplingKernel.Params(5.0, 1, 0, 0, rep, presence, frequency, s, r, logprobs, biasStart,
                        biasCount, maskOffset, countsRow, penalties);
                case 6 -> new SamplingKernel.Params(3.0, 0.999, 0, 0, rep, presence, frequency, s, r, logprobs,
                        biasStart, biasCount, maskOffset, countsRow, penalties);
                case 7 -> new SamplingKernel.Params(1.0, 1, 1, 0, rep, presence, frequency, s, r, logprobs, biasStart,
                        biasCount, maskOffset, countsRow, penalties);
                case 8 -> new SamplingKernel.Params(2.0, 0.5, 0, 0.2, rep, presence, frequency, s, r, logprobs,
                        biasStart, biasCount, maskOffset, countsRow, penalties);
                default -> new SamplingKernel.Params(1.0, 1, 1_000_000, 0, rep, presence, frequency, s, r, logprobs,
                        biasStart, biasCount, maskOffset, countsRow, penalties);
            };
            if (greedy && kind != 6) {
                p = new SamplingKernel.Params(0, p.topP(), p.topK(), p.minP(), p.repetitionPenalty(),
                        p.presencePenalty(), p.frequencyPenalty(), p.seed(), p.drawIndex(), kind == 9 ? 0 : -1,
                        p.biasStart(), p.biasCount(), p.maskOffset(), p.countsRow(), p.countOutput());
            }
            params.add(p);
        }
        float[] logits = new float[rows * vocab];
        for (int r = 0; r < rows; r++) {
            for (int id = 0; id < vocab; id++) {
                float v = nonZero(random, r % 4 == 1 ? 2f : 8f);
                if (random.nextInt(20) == 0) {
                    v = Math.round(v); // ties
                }
                logits[r * vocab + id] = v;
            }
        }
        int[] bIds = biasIds.stream().mapToInt(Integer::intValue).toArray();
        float[] bValues = new float[biasValues.size()];
        for (int i = 0; i < bValues.length; i++) {
            bValues[i] = biasValues.get(i);
        }
        DeviceBuffer dLogits = upload(logits);
        DeviceBuffer processed = poisoned(4L * rows * vocab);
        DeviceBuffer dCounts = upload(counts);
        DeviceBuffer tokens = poisoned(4L * rows);
        DeviceBuffer logprobs = poisoned(4L * rows);
        DeviceBuffer topIds = poisoned(4L * rows * SamplingKernel.TOP);
        DeviceBuffer topLogprobs = poisoned(4L * rows * SamplingKernel.TOP);
        kernel.sample(dLogits, vocab, processed, vocab, rows, vocab,
                upload(SamplingKernel.Params.pack(params.toArray(new SamplingKernel.Params[0]))), upload(maskWords),
                bIds.length > 0 ? upload(bIds) : null, bValues.length > 0 ? upload(bValues) : null, upload(prompt), dCounts,
                rows, tokens, logprobs, topIds, topLogprobs, splits == 1 ? SamplingKernel.Splits.NONE
                        : new SamplingKernel.Splits(splits, poisoned(8L * rows * splits), upload(new int[rows])));

        float[] gotProcessed = processed.toFloats();
        int[] gotTokens = tokens.toInts();
        float[] gotLogprobs = logprobs.toFloats();
        int[] gotTopIds = topIds.toInts();
        float[] gotTopLogprobs = topLogprobs.toFloats();
        int[] wantCounts = counts.clone();
        for (int r = 0; r < rows; r++) {
            SamplingKernel.Params p = params.get(r);
            int[] mask = p.maskOffset() >= 0 ? Arrays.copyOfRange(maskWords, p.maskOffset(), p.maskOffset() + words) : null;
            int[] rowCounts = p.countsRow() >= 0 ? Arrays.copyOfRange(counts, p.countsRow() * vocab, (p.countsRow() + 1) * vocab) : null;
            int[] rowPrompt = p.countsRow() >= 0 ? Arrays.copyOfRange(prompt, p.countsRow() * words, (p.countsRow() + 1) * words) : null;
            SamplingReference.Result want = SamplingReference.sample(Arrays.copyOfRange(logits, r * vocab, (r + 1) * vocab),
                    p, mask, bIds, bValues, rowCounts, rowPrompt);
            String what = "vocab " + vocab + " row " + r + " " + p;
            assertSame("processed logits, " + what, Arrays.copyOfRange(gotProcessed, r * vocab, (r + 1) * vocab),
                    want.processed());
            assertThat(gotTokens[r]).as("token, " + what).isEqualTo(want.token());
            if (p.logprobs() >= 0) {
                assertClose("logprob, " + what, new float[] {gotLogprobs[r]}, new float[] {want.logprob()}, 1e-5, 1e-5);
            }
            if (p.logprobs() > 0) {
                assertThat(Arrays.copyOfRange(gotTopIds, r * SamplingKernel.TOP, r * SamplingKernel.TOP + p.logprobs()))
                        .as("top ids, " + what).containsExactly(Arrays.copyOf(want.topIds(), p.logprobs()));
                assertClose("top logprobs, " + what,
                        Arrays.copyOfRange(gotTopLogprobs, r * SamplingKernel.TOP, (r + 1) * SamplingKernel.TOP),
                        want.topLogprobs(), 1e-5, 1e-5);
            }
            if (p.countOutput()) {
                wantCounts[p.countsRow() * vocab + gotTokens[r]] += 1;
            }
        }
        int[] gotCounts = dCounts.toInts();
        for (int i = 0; i < wantCounts.length; i++) {
            if (gotCounts[i] != wantCounts[i]) {
                throw new AssertionError("output counts differ first at " + i + ": " + gotCounts[i] + ", want "
                        + wantCounts[i]);
            }
        }
    }

    /**
     * Bit-for-bit equal float arrays, failing with the first differences. (AssertJ's containsExactly diffs two
     * arrays in quadratic time: on 151,936 differing elements it ran for minutes, which looked like a hung kernel.)
     */
    static void assertSame(String what, float[] got, float[] want) {
        StringBuilder first = new StringBuilder();
        int differ = 0;
        for (int i = 0; i < want.length; i++) {
            if (Float.floatToIntBits(got[i]) != Float.floatToIntBits(want[i])) {
                if (differ++ < 5) {
                    first.append(String.format(" [%d] %s (want %s)", i, got[i], want[i]));
                }
            }
        }
        if (differ > 0) {
            throw new AssertionError(what + ": " + differ + " of " + want.length + " differ:" + first);
        }
    }
}
