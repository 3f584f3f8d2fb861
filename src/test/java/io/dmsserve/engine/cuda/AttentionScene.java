package io.dmsserve.engine.cuda;

import io.dmsserve.dms.DmsRules;
import io.dmsserve.engine.HalfAccess;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A paged KV cache as the KV contract lays it out, filled at random for the attention tests: sequences in
 * page-table rows out of order; page lists with holes (-1) and a spare page of empty slots; tokens in random
 * slot order; about a third of them flagged, so that flagged tokens lie both inside and beyond each
 * sequence's window; garbage (positions, flags) in pages nobody lists. Each sequence's step tokens are the
 * last {@code lengths[s]} of its {@code contexts[s]} tokens (already in the cache, as after kv_write).
 */
final class AttentionScene {

    final int heads;
    final int kvHeads;
    final int headDim;
    final int layers = 2;
    final int layer = 1;
    final int pageSize;
    final int pageCount;
    final int maxPagesPerHead;
    final int maxRows;
    final short[] keys;          // (slots, D) bf16
    final short[] values;        // (slots, D) bf16
    final int[] slotPos;         // (slots)
    final byte[] slotFlag;       // (slots)
    final int[] pageTable;       // (maxRows, layers, kvHeads, maxPagesPerHead)
    final int[] pageTableLen;    // (maxRows, layers, kvHeads)
    final int n;
    final int qStride;
    final float[] q;             // (n, heads, D), rows of qStride
    final int[] positions;
    final int[] seqOfToken;
    final int[] seqRow;
    final int[] seqWindow;
    final int[] seqFirst;
    final int[] seqLength;

    AttentionScene(SplittableRandom random, int heads, int kvHeads, int headDim, int pageSize, int[] contexts,
            int[] lengths, int[] windows) {
        this.heads = heads;
        this.kvHeads = kvHeads;
        this.headDim = headDim;
        this.pageSize = pageSize;
        int sequences = contexts.length;
        this.maxRows = sequences + 1;
        int maxPages = 0;
        for (int c : contexts) {
            maxPages = Math.max(maxPages, (c + pageSize - 1) / pageSize * 2 + 2);
        }
        this.maxPagesPerHead = maxPages;
        this.pageCount = maxRows * layers * kvHeads * maxPages;
        int slots = pageCount * pageSize;
        this.keys = GpuTest.randomBf16(random, slots * headDim, 1f);
        this.values = GpuTest.randomBf16(random, slots * headDim, 1f);
        this.slotPos = new int[slots];
        this.slotFlag = new byte[slots];
        for (int s = 0; s < slots; s++) {
            slotPos[s] = random.nextInt(50) - 20; // garbage: must never be scanned
            slotFlag[s] = (byte) random.nextInt(2);
        }
        this.pageTable = new int[maxRows * layers * kvHeads * maxPages];
        Arrays.fill(pageTable, -9);
        this.pageTableLen = new int[maxRows * layers * kvHeads];
        int[] free = new int[pageCount];
        for (int p = 0; p < pageCount; p++) {
            free[p] = p;
        }
        for (int p = pageCount - 1; p > 0; p--) {
            int j = random.nextInt(p + 1);
            int t = free[p];
            free[p] = free[j];
            free[j] = t;
        }
        int nextPage = 0;
        this.seqRow = new int[sequences];
        this.seqWindow = windows.clone();
        this.seqFirst = new int[sequences];
        this.seqLength = lengths.clone();
        int total = 0;
        for (int length : lengths) {
            total += length;
        }
        this.n = total;
        this.positions = new int[n];
        this.seqOfToken = new int[n];
        int token = 0;
        for (int s = 0; s < sequences; s++) {
            seqRow[s] = sequences - s;
            seqFirst[s] = token;
            for (int t = 0; t < lengths[s]; t++) {
                positions[token] = contexts[s] - lengths[s] + t;
                seqOfToken[token++] = s;
            }
            for (int h = 0; h < kvHeads; h++) {
                int head = (seqRow[s] * layers + layer) * kvHeads + h;
                List<Integer> pages = new ArrayList<>();
                int need = (contexts[s] + pageSize - 1) / pageSize + 1;
                for (int e = 0; e < need; e++) {
                    if (random.nextInt(4) == 0 && pages.size() + 1 < maxPages) {
                        pages.add(-1);
                    }
                    pages.add(free[nextPage++]);
                }
                List<Integer> slotList = new ArrayList<>();
                for (int page : pages) {
                    if (page >= 0) {
                        for (int o = 0; o < pageSize; o++) {
                            slotList.add(page * pageSize + o);
                            slotPos[page * pageSize + o] = -1;
                            slotFlag[page * pageSize + o] = (byte) random.nextInt(2);
                        }
                    }
                }
                java.util.Collections.shuffle(slotList, new java.util.Random(random.nextLong()));
                for (int pos = 0; pos < contexts[s]; pos++) {
                    int slot = slotList.get(pos);
                    slotPos[slot] = pos;
                    slotFlag[slot] = (byte) (random.nextInt(3) == 0 ? 1 : 0);
                }
                for (int e = 0; e < pages.size(); e++) {
                    pageTable[head * maxPages + e] = pages.get(e);
                }
                pageTableLen[head] = pages.size();
            }
        }
        this.qStride = heads * headDim + 8;
        this.q = GpuTest.randomFloats(random, n * qStride, 1.5f);
    }

    int maxLength() {
        int max = 0;
        for (int length : pageTableLen) {
            max = Math.max(max, length);
        }
        return max;
    }

    /**
     * out (n, heads, D) by ChunkAttention's math over the cache: visible slots by DmsRules.visible, scores
     * q·k * (float) (1 / sqrt(D)), softmax, weighted sum of values; accumulated in double. With roundQ, q is
     * rounded to bf16 first, as the tensor-core kernel does.
     */
    float[] reference(boolean roundQ) {
        int group = heads / kvHeads;
        float scale = AttentionKernel.scale(headDim);
        float[] out = new float[n * heads * headDim];
        for (int i = 0; i < n; i++) {
            int s = seqOfToken[i];
            for (int qh = 0; qh < heads; qh++) {
                int head = (seqRow[s] * layers + layer) * kvHeads + qh / group;
                List<double[]> scored = new ArrayList<>(); // (score, slot)
                for (int e = 0; e < pageTableLen[head]; e++) {
                    int page = pageTable[head * maxPagesPerHead + e];
                    if (page < 0) {
                        continue;
                    }
                    for (int o = 0; o < pageSize; o++) {
                        int slot = page * pageSize + o;
                        if (slotPos[slot] < 0
                                || !DmsRules.visible(positions[i], slotPos[slot], slotFlag[slot] != 0, seqWindow[s])) {
                            continue;
                        }
                        double dot = 0;
                        for (int c = 0; c < headDim; c++) {
                            float qv = q[i * qStride + qh * headDim + c];
                            dot += (double) (roundQ ? HalfAccess.roundToBf16(qv) : qv)
                                    * GpuTest.bf16(keys[slot * headDim + c]);
                        }
                        scored.add(new double[] {dot * scale, slot});
                    }
                }
                if (scored.isEmpty()) {
                    continue;
                }
                double max = Double.NEGATIVE_INFINITY;
                for (double[] e : scored) {
                    max = Math.max(max, e[0]);
                }
                double sum = 0;
                for (double[] e : scored) {
                    e[0] = Math.exp(e[0] - max);
                    sum += e[0];
                }
                for (int c = 0; c < headDim; c++) {
                    double o = 0;
                    for (double[] e : scored) {
                        o += e[0] / sum * GpuTest.bf16(values[(int) e[1] * headDim + c]);
                    }
                    out[(i * heads + qh) * headDim + c] = (float) o;
                }
            }
        }
        return out;
    }
}
