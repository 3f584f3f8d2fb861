// attention.cu: GQA attention over the paged KV cache with the DMS visibility mask.
// Java: AttentionKernel; CPU: cpu/ChunkAttention (after kv_write, the chunk's own tokens are in the cache)
//
// The cache (KV contract, native/README.md): keyCache, valueCache bf16 [pageCount * pageSize][D];
// slotPos int32 and slotFlag uint8 [pageCount * pageSize]; pageTable int32
// [maxRows][layers][kvHeads][maxPagesPerHead] (page id or -1), pageTableLen int32 [maxRows][layers][kvHeads].
// Query token i of sequence s = seqOfToken[i] at position q = positions[i], query head qh, kv head
// h = qh / G, scans entries 0 .. len-1 of pageTable[seqRow[s]][layer][h], skips -1 pages, and slot
// (page * pageSize + o) with p = slotPos, f = slotFlag is visible iff
//     p >= 0 && p <= q && !(f && q - p > seqWindow[s])                           (DmsRules.visible)
// Metadata is read before K/V, so invisible slots cost no K/V bandwidth.
// out[i][qh][:] = softmax_visible(q · k * scale) · v, fp32; 0 where nothing is visible.
//
// Kernels:
//   dms_attention_decode_g{1,2,4,8}  one query token per block row: the G query heads of a group share
//       one read of K/V; fp32 q and probabilities (CUDA cores); long contexts split across blocks.
//   dms_attention_chunk_d{32,64,128} a tile of query tokens of one sequence per block: tensor cores
//       (q and probabilities as bf16 high + low parts), for prefill chunks; same mask, same splits.
//   dms_attention_decode_tc_d{64,128} the same on tensor cores (G <= 8), q and probabilities as bf16
//       high + low parts: what the backend runs for these head sizes.
//   dms_attention_merge               combines the splits (flash-decoding).
// Splits: block `split` scans page entries [split * pagesPerSplit, min(len, (split + 1) * pagesPerSplit)).
// With splits == 1 the kernels write out/outBf16 directly; otherwise they write unnormalised partials
//   partialO  fp32 [n][heads][splitStride][D]  (sum of e^(s - m) v over the split's visible slots)
//   partialML float2 [n][heads][splitStride]   (m, l = sum of e^(s - m)); m = -inf, l = 0 when empty
// indexed by the absolute token index i, and dms_attention_merge writes out.
#include "qknorm_rope.cuh"

#define DMS_ATT_WARPS 4
// A warp's visible-key list in the tensor-core decode: fewer than 16 keys carried over plus a tile of 32.
#define DMS_ATT_CARRY 48

struct AttentionCache {
    const bf16_t* keyCache;
    const bf16_t* valueCache;
    const int* slotPos;
    const unsigned char* slotFlag;
};

DMS_DEVICE bool dms_visible(int p, int f, int q, int window) {
    return p >= 0 && p <= q && !(f != 0 && q - p > window);
}

// ===================================================================================================
// Decode. grid (splits, kvHeads, tokenCount), block 128 (4 warps), dynamic shared memory
// attention_decode_smem(G, D) bytes. Entry e of tokenList (or e itself when null) is the token index.
// Lanes: LPK = lanes per key = smallest power of two >= ceil(D / 8) (D <= 256); lane holds channels
// [8 c, 8 c + 8) of its key, c = lane % LPK; 32 / LPK keys per pass, 8 passes of loads in flight.
// Each warp takes tiles of 32 list slots; within a tile only visible slots are read.
__host__ __device__ constexpr int attention_decode_smem(int G, int D) {
    return DMS_ATT_WARPS * G * (D + 2) * 4;
}

// What a decode block (split, kv head h, token entry z) scans: page-table entries [e0, e1) of its (sequence, layer,
// h) list as slots [listStart, listEnd), for the query at qpos of a sequence with DMS window `window`.
struct DecodeBlock {
    int i;          // token index
    int qpos;
    int window;
    const int* table;
    int listStart;
    int listEnd;
};

DMS_DEVICE DecodeBlock decode_block(const int* __restrict__ pageTable, const int* __restrict__ pageTableLen,
                                    int maxPagesPerHead, int layers, int layer, int kvHeads, int pageSize,
                                    const int* __restrict__ positions, const int* __restrict__ seqOfToken,
                                    const int* __restrict__ seqRow, const int* __restrict__ seqWindow,
                                    const int* __restrict__ tokenList, int pagesPerSplit) {
    DecodeBlock b;
    b.i = tokenList != nullptr ? tokenList[blockIdx.z] : static_cast<int>(blockIdx.z);
    const int s = seqOfToken[b.i];
    b.window = seqWindow[s];
    b.qpos = positions[b.i];
    const size_t head = (static_cast<size_t>(seqRow[s]) * layers + layer) * kvHeads + blockIdx.y;
    b.table = pageTable + head * maxPagesPerHead;
    const int len = pageTableLen[head];
    const int e0 = blockIdx.x * pagesPerSplit;
    const int e1 = min(len, e0 + pagesPerSplit);
    b.listStart = e0 * pageSize;
    b.listEnd = e1 > e0 ? e1 * pageSize : b.listStart;
    return b;
}

// The block's warps merged: shared (warp, g) -> [m, l, o[D]] (m = -inf, l = 0 for a warp that saw nothing) to
// out / outBf16 (one split) or to this split's partials.
__device__ __forceinline__ void attention_decode_finish(const float* merge, int G, int D, int h, int i, int heads,
                                                        int split, int splits, int splitStride, float* __restrict__ out,
                                                        int outStride, bf16_t* __restrict__ outBf16, int outBf16Stride,
                                                        float* __restrict__ partialO, float2* __restrict__ partialML) {
    const int rowFloats = D + 2;
    for (int e = threadIdx.x; e < G * D; e += blockDim.x) {
        const int g = e / D;
        const int d = e % D;
        float m = -INFINITY;
        for (int w = 0; w < DMS_ATT_WARPS; w++) {
            m = fmaxf(m, merge[(w * G + g) * rowFloats]);
        }
        float l = 0.f;
        float o = 0.f;
        if (m != -INFINITY) {
            for (int w = 0; w < DMS_ATT_WARPS; w++) {
                const float* mr = merge + (w * G + g) * rowFloats;
                if (mr[0] != -INFINITY) {
                    const float c = expf(mr[0] - m);
                    l += mr[1] * c;
                    o += mr[2 + d] * c;
                }
            }
        }
        const int qh = h * G + g;
        if (splits == 1) {
            const float value = l > 0.f ? o / l : 0.f;
            if (out != nullptr) {
                out[static_cast<size_t>(i) * outStride + static_cast<size_t>(qh) * D + d] = value;
            }
            if (outBf16 != nullptr) {
                outBf16[static_cast<size_t>(i) * outBf16Stride + static_cast<size_t>(qh) * D + d] = dms::f32_to_bf16(value);
            }
        } else {
            const size_t p = (static_cast<size_t>(i) * heads + qh) * splitStride + split;
            partialO[p * D + d] = o;
            if (d == 0) {
                partialML[p] = make_float2(m, l);
            }
        }
    }
}

template <int GM>
__device__ __forceinline__ void attention_decode(
    const float* __restrict__ q, int qStride, AttentionCache cache, const int* __restrict__ pageTable,
    const int* __restrict__ pageTableLen, int maxPagesPerHead, int layers, int layer, int kvHeads, int pageSize,
    const int* __restrict__ positions, const int* __restrict__ seqOfToken, const int* __restrict__ seqRow,
    const int* __restrict__ seqWindow, const int* __restrict__ tokenList, int heads, int D, float scale,
    int pagesPerSplit, int splits, int splitStride, float* __restrict__ out, int outStride,
    bf16_t* __restrict__ outBf16, int outBf16Stride, float* __restrict__ partialO, float2* __restrict__ partialML) {
    dms::pdl_begin_long();
    DMS_SHARED(int, slotList, DMS_ATT_WARPS * 32);        // (warp, visible key) -> slot
    DMS_SHARED(float, weights, DMS_ATT_WARPS * GM * 32);  // (warp, g, visible key) -> score, then e^(s - m)
    DMS_DYNAMIC_SMEM(smem);
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int split = blockIdx.x;
    const int h = blockIdx.y;
    const int G = heads / kvHeads;
    const DecodeBlock block = decode_block(pageTable, pageTableLen, maxPagesPerHead, layers, layer, kvHeads, pageSize,
                                           positions, seqOfToken, seqRow, seqWindow, tokenList, pagesPerSplit);
    const int i = block.i;
    const int window = block.window;
    const int qpos = block.qpos;
    const int* table = block.table;
    const int listStart = block.listStart;
    const int listEnd = block.listEnd;

    int lpk = 1;
    while (lpk * 8 < D) {
        lpk <<= 1;
    }
    const int kpp = 32 / lpk;  // keys per pass
    const int chunk = lane & (lpk - 1);
    const int keyGroup = lane / lpk;
    const bool vec = (D & 7) == 0 && dms::aligned16(cache.keyCache) && dms::aligned16(cache.valueCache);

    float qv[GM][8];
    float ov[GM][8];
    float mrow[GM];
    float lrow[GM];
#pragma unroll
    for (int g = 0; g < GM; g++) {
        const float* qr = q + static_cast<size_t>(i) * qStride + static_cast<size_t>(h * G + g) * D;
#pragma unroll
        for (int e = 0; e < 8; e++) {
            const int ch = 8 * chunk + e;
            qv[g][e] = (g < G && ch < D) ? qr[ch] : 0.f;
            ov[g][e] = 0.f;
        }
        mrow[g] = -INFINITY;
        lrow[g] = 0.f;
    }
    int* myList = slotList + warp * 32;
    float* myWeights = weights + warp * GM * 32;

    for (int tile = listStart + warp * 32; tile < listEnd; tile += DMS_ATT_WARPS * 32) {
        const int index = tile + lane;
        int slot = -1;
        bool visible = false;
        if (index < listEnd) {
            const int page = table[index / pageSize];
            if (page >= 0) {
                slot = page * pageSize + index % pageSize;
                visible = dms_visible(cache.slotPos[slot], cache.slotFlag[slot], qpos, window);
            }
        }
        const unsigned mask = __ballot_sync(DMS_FULL_MASK, visible);
        if (mask == 0) {
            continue;
        }
        const int count = __popc(mask);
        if (visible) {
            myList[__popc(mask & ((1u << lane) - 1u))] = slot;
        }
        __syncwarp();

        // Scores of the visible keys.
        for (int kb = 0; kb < count; kb += 8 * kpp) {
            uint4 raw[8];
#pragma unroll
            for (int u = 0; u < 8; u++) {
                const int key = kb + u * kpp + keyGroup;
                const int ks = key < count ? myList[key] : -1;
                raw[u] = make_uint4(0, 0, 0, 0);
                if (ks >= 0 && 8 * chunk < D) {
                    const bf16_t* kr = cache.keyCache + static_cast<size_t>(ks) * D + 8 * chunk;
                    if (vec) {
                        raw[u] = dms::load16_stream(kr);
                    } else {
                        uint32_t w[4];
#pragma unroll
                        for (int p = 0; p < 4; p++) {
                            const uint32_t lo = 8 * chunk + 2 * p < D ? kr[2 * p] : 0;
                            const uint32_t hi = 8 * chunk + 2 * p + 1 < D ? kr[2 * p + 1] : 0;
                            w[p] = lo | (hi << 16);
                        }
                        raw[u] = make_uint4(w[0], w[1], w[2], w[3]);
                    }
                }
            }
#pragma unroll
            for (int u = 0; u < 8; u++) {
                if (kb + u * kpp >= count) {
                    break;  // uniform across the warp
                }
                float kf[8];
                dms::unpack_bf16x8(raw[u], kf);
                float part[GM];
#pragma unroll
                for (int g = 0; g < GM; g++) {
                    float d = 0.f;
#pragma unroll
                    for (int e = 0; e < 8; e++) {
                        d = fmaf(qv[g][e], kf[e], d);
                    }
                    part[g] = d;
                }
                for (int offset = lpk >> 1; offset > 0; offset >>= 1) {
#pragma unroll
                    for (int g = 0; g < GM; g++) {
                        part[g] += __shfl_xor_sync(DMS_FULL_MASK, part[g], offset);
                    }
                }
                const int key = kb + u * kpp + keyGroup;
                if (chunk == 0 && key < count) {
#pragma unroll
                    for (int g = 0; g < GM; g++) {
                        myWeights[g * 32 + key] = part[g] * scale;
                    }
                }
            }
        }
        __syncwarp();

        // Online softmax over this tile: lane l holds visible key l.
#pragma unroll
        for (int g = 0; g < GM; g++) {
            if (g < G) {
                const float score = lane < count ? myWeights[g * 32 + lane] : -INFINITY;
                const float tileMax = dms::warp_max(score);
                const float mNew = fmaxf(mrow[g], tileMax);
                const float p = lane < count ? expf(score - mNew) : 0.f;
                const float pSum = dms::warp_sum(p);
                const float correction = mrow[g] == -INFINITY ? 0.f : expf(mrow[g] - mNew);
                lrow[g] = lrow[g] * correction + pSum;
                mrow[g] = mNew;
#pragma unroll
                for (int e = 0; e < 8; e++) {
                    ov[g][e] *= correction;
                }
                if (lane < count) {
                    myWeights[g * 32 + lane] = p;
                }
            }
        }
        __syncwarp();

        // Weighted values.
        for (int kb = 0; kb < count; kb += 8 * kpp) {
            uint4 raw[8];
#pragma unroll
            for (int u = 0; u < 8; u++) {
                const int key = kb + u * kpp + keyGroup;
                const int ks = key < count ? myList[key] : -1;
                raw[u] = make_uint4(0, 0, 0, 0);
                if (ks >= 0 && 8 * chunk < D) {
                    const bf16_t* vr = cache.valueCache + static_cast<size_t>(ks) * D + 8 * chunk;
                    if (vec) {
                        raw[u] = dms::load16_stream(vr);
                    } else {
                        uint32_t w[4];
#pragma unroll
                        for (int p = 0; p < 4; p++) {
                            const uint32_t lo = 8 * chunk + 2 * p < D ? vr[2 * p] : 0;
                            const uint32_t hi = 8 * chunk + 2 * p + 1 < D ? vr[2 * p + 1] : 0;
                            w[p] = lo | (hi << 16);
                        }
                        raw[u] = make_uint4(w[0], w[1], w[2], w[3]);
                    }
                }
            }
#pragma unroll
            for (int u = 0; u < 8; u++) {
                const int key = kb + u * kpp + keyGroup;
                if (key < count) {
                    float vf[8];
                    dms::unpack_bf16x8(raw[u], vf);
#pragma unroll
                    for (int g = 0; g < GM; g++) {
                        const float p = myWeights[g * 32 + key];
#pragma unroll
                        for (int e = 0; e < 8; e++) {
                            ov[g][e] = fmaf(p, vf[e], ov[g][e]);
                        }
                    }
                }
            }
        }
        __syncwarp();  // the next tile rewrites myList and myWeights
    }

    // Sum the key groups of the warp (same m and l in every lane).
    for (int offset = lpk; offset < 32; offset <<= 1) {
#pragma unroll
        for (int g = 0; g < GM; g++) {
#pragma unroll
            for (int e = 0; e < 8; e++) {
                ov[g][e] += __shfl_xor_sync(DMS_FULL_MASK, ov[g][e], offset);
            }
        }
    }
    // Merge the warps: shared (warp, g) -> [m, l, o[D]].
    float* merge = reinterpret_cast<float*>(smem);
    const int rowFloats = D + 2;
#pragma unroll
    for (int g = 0; g < GM; g++) {
        if (g < G) {
            float* mr = merge + (warp * G + g) * rowFloats;
            if (lane == 0) {
                mr[0] = mrow[g];
                mr[1] = lrow[g];
            }
            if (keyGroup == 0) {
#pragma unroll
                for (int e = 0; e < 8; e++) {
                    if (8 * chunk + e < D) {
                        mr[2 + 8 * chunk + e] = ov[g][e];
                    }
                }
            }
        }
    }
    __syncthreads();
    attention_decode_finish(merge, G, D, h, i, heads, split, splits, splitStride, out, outStride, outBf16, outBf16Stride,
                            partialO, partialML);
}

// What every attention kernel takes first (the queries, the cache, the page tables, the tokens' sequences), and the
// same names passed on with the cache's four as one AttentionCache.
#define DMS_CACHE_PARAMS                                                                                          \
    const float* __restrict__ q, int qStride, const bf16_t* __restrict__ keyCache,                                \
        const bf16_t* __restrict__ valueCache, const int* __restrict__ slotPos,                                   \
        const unsigned char* __restrict__ slotFlag, const int* __restrict__ pageTable,                            \
        const int* __restrict__ pageTableLen, int maxPagesPerHead, int layers, int layer, int kvHeads,            \
        int pageSize, const int* __restrict__ positions, const int* __restrict__ seqOfToken,                      \
        const int* __restrict__ seqRow, const int* __restrict__ seqWindow
#define DMS_CACHE_ARGS                                                                                            \
    q, qStride, AttentionCache{keyCache, valueCache, slotPos, slotFlag}, pageTable, pageTableLen, maxPagesPerHead, \
        layers, layer, kvHeads, pageSize, positions, seqOfToken, seqRow, seqWindow
// The decode entry points' parameters (native/README.md), and the call of a body template with them.
#define DMS_DECODE_PARAMS                                                                                         \
    DMS_CACHE_PARAMS, const int* __restrict__ tokenList, int heads, int D, float scale, int pagesPerSplit,        \
        int splits, int splitStride, float* __restrict__ out, int outStride, bf16_t* __restrict__ outBf16,        \
        int outBf16Stride, float* __restrict__ partialO, float2* __restrict__ partialML
#define DMS_DECODE_CALL(body)                                                                                     \
    body(DMS_CACHE_ARGS, tokenList, heads, D, scale, pagesPerSplit, splits, splitStride, out, outStride, outBf16, \
         outBf16Stride, partialO, partialML)

#define DMS_ATTENTION_DECODE(GM)                                                                                  \
    extern "C" __global__ void __launch_bounds__(DMS_ATT_WARPS * 32) dms_attention_decode_g##GM(DMS_DECODE_PARAMS) { \
        DMS_DECODE_CALL(attention_decode<GM>);                                                                    \
    }
DMS_ATTENTION_DECODE(1)
DMS_ATTENTION_DECODE(2)
DMS_ATTENTION_DECODE(4)
DMS_ATTENTION_DECODE(8)

// ===================================================================================================
// Decode on tensor cores: dms_attention_decode_tc_d{64,128}, G <= 8. Grid, block, shared memory
// (attention_decode_smem(G, D)), arguments, tiles of 32 list slots and outputs as dms_attention_decode_g*.
// The CUDA-core kernel spends ~0.23 warp instructions per byte of K/V (ncu: issue-bound at 1.9 TB/s);
// here mma.sync m16n8k16 does the dot products and the weighted sums, ~0.02 instructions per byte.
//
// Precision (fp32 as the CUDA-core kernel, to about 2^-16): rows g and g + 8 of the 16-row A operand carry
// query head g's bf16 high part and its rounded rest, q = hi + lo; S = row g + row g + 8. P likewise.
// K and V are bf16 already. Rows g >= G are zero and never stored.
//
// S = Q Kᵀ per 8 keys (n = key, k = channel): lane (g8, q4) loads channels [q4 D/4, (q4 + 1) D/4) of key
// g8 (16-byte loads), and k step ks holds channels q4 D/4 + 4 ks + {0, 1} (b0) and + {2, 3} (b1): a
// permutation of the channels that Q's fragments follow too, so the dot products are unchanged.
// O += P V per 16 keys (k = key, n = channel): lane (g8, q4) needs keys 2 q4, 2 q4 + 1, 2 q4 + 8, 2 q4 + 9
// of channel n = g8; n tile j holds channels 64 (j / 8) + 8 n + j % 8, so one 16-byte load of a key row gives
// the lane its channel in 8 n tiles, and two keys' loads are interleaved into B fragments (b0: keys 2 q4,
// 2 q4 + 1; b1: + 8). The accumulator's column n of tile j is channel 64 (j / 8) + 8 n + j % 8.
// One block's part of one page list: where() gives the part (a DecodeBlock), h is the kv head, `split` where the
// partials go (out / outBf16 directly when splits == 1). Ends with a __syncthreads and the block's writes.
// Fold (NoFold, or FoldedQk below for dms_attention_decode_tcq_d*): where the block's q rows, the step's own slot's
// key and value, and the metadata of that slot and the previous one come from.
struct NoFold {
    static constexpr bool on = false;
};

template <int D, typename Where, typename Wait, typename Fold = NoFold>
__device__ __forceinline__ void attention_decode_tc_list(
    const float* __restrict__ q, int qStride, AttentionCache cache, Where where, Wait wait, int h, int kvHeads,
    int pageSize, int heads, float scale, int split, int splits, int splitStride, float* __restrict__ out,
    int outStride, bf16_t* __restrict__ outBf16, int outBf16Stride, float* __restrict__ partialO,
    float2* __restrict__ partialML, const Fold& fold = Fold()) {
    constexpr int KS = D / 16;   // k steps of S
    constexpr int KL = D / 32;   // 16-byte loads of a key row per lane (D / 4 channels)
    constexpr int NT = D / 8;    // n tiles of O
    constexpr int VL = D / 64;   // 16-byte loads of a value row per lane
    DMS_SHARED(int, slotList, DMS_ATT_WARPS * DMS_ATT_CARRY);  // (warp, visible key) -> slot
    DMS_DYNAMIC_SMEM(smem);
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int g8 = lane >> 2;
    const int q4 = lane & 3;
    const int G = heads / kvHeads;
    const DecodeBlock block = where();
    const int i = block.i;
    const int window = block.window;
    const int qpos = block.qpos;
    const int* table = block.table;
    const int listStart = block.listStart;
    const int listEnd = block.listEnd;

    // The list metadata is read ahead, so that a tile's K/V loads wait for no dependent load: the page of the
    // tile two ahead and the slot position and flag of the next tile are in flight while a tile is processed.
    constexpr int STEP = DMS_ATT_WARPS * 32;
    const auto pageOf = [&](int index) { return index < listEnd ? table[index / pageSize] : -1; };
    const auto slotOf = [&](int page, int index) { return page >= 0 ? page * pageSize + index % pageSize : -1; };
    int tile = listStart + warp * 32;
    int nextPage = pageOf(tile + STEP + lane);
    int slot = slotOf(pageOf(tile + lane), tile + lane);
    int pos = -1;   // the first tile's slot position and flag: read after the wait, or before it when folded with
    int flag = 0;   // dms_attention_early 2 (the fold's own slots then taken after the wait)
    if constexpr (Fold::on) {
        if (fold.metaEarly && slot >= 0) {
            pos = cache.slotPos[slot];
            flag = cache.slotFlag[slot];
        }
    }
    wait();  // (the split grid's pdl_wait: its pages are read before it, the slots' metadata and q after)

    // Q as A fragments: a0/a2 the high parts (row g8), a1/a3 the rest (row g8 + 8).
    uint32_t qa[KS][4];
    {
        const bool real = g8 < G;
        const float* qr;
        if constexpr (Fold::on) {
            qr = fold.q + (real ? g8 : 0) * D + q4 * (D / 4);  // normalised and rotated by the block (shared)
        } else {
            qr = q + static_cast<size_t>(i) * qStride + static_cast<size_t>(h * G + (real ? g8 : 0)) * D + q4 * (D / 4);
        }
#pragma unroll
        for (int ks = 0; ks < KS; ks++) {
#pragma unroll
            for (int half = 0; half < 2; half++) {
                const float x0 = real ? qr[4 * ks + 2 * half] : 0.f;
                const float x1 = real ? qr[4 * ks + 2 * half + 1] : 0.f;
                dms::split_bf16x2(x0, x1, qa[ks][2 * half], qa[ks][2 * half + 1]);
            }
        }
    }
    float oacc[NT][4];
#pragma unroll
    for (int j = 0; j < NT; j++) {
#pragma unroll
        for (int e = 0; e < 4; e++) {
            oacc[j][e] = 0.f;
        }
    }
    float mrow = -INFINITY;  // head g8's running maximum (the same in the 4 lanes of a quad)
    float lsum = 0.f;        // this lane's part of the sum of e^(s - m)
    int* myList = slotList + warp * DMS_ATT_CARRY;

    // One round: the visible keys kb .. min(kb + 16, count) - 1 of myList (kb < count).
    const auto round = [&](int kb, int count) {
        // Loads first (K rows kb + g8 and kb + 8 + g8; V rows kb + 2 q4 + {0, 1, 8, 9}); missing keys read 0.
        uint4 kr[2][KL];
#pragma unroll
        for (int n = 0; n < 2; n++) {
            const int key = kb + 8 * n + g8;
            const int ks = key < count ? myList[key] : -1;
            const bf16_t* kp = cache.keyCache + static_cast<size_t>(ks >= 0 ? ks : 0) * D + q4 * (D / 4);
#pragma unroll
            for (int c = 0; c < KL; c++) {
                if constexpr (Fold::on) {
                    if (ks == fold.slot) {  // the step's own key: the block's, never the cache's (being written)
                        kr[n][c] = *reinterpret_cast<const uint4*>(fold.key + q4 * (D / 4) + 8 * c);
                        continue;
                    }
                }
                kr[n][c] = ks >= 0 ? dms::load16_stream(kp + 8 * c) : make_uint4(0, 0, 0, 0);
            }
        }
        uint4 vr[4][VL];
#pragma unroll
        for (int u = 0; u < 4; u++) {
            const int key = kb + 2 * q4 + (u & 1) + 8 * (u >> 1);
            const int vs = key < count ? myList[key] : -1;
            const bf16_t* vp = cache.valueCache + static_cast<size_t>(vs >= 0 ? vs : 0) * D + 8 * g8;
#pragma unroll
            for (int c = 0; c < VL; c++) {
                if constexpr (Fold::on) {
                    if (vs == fold.slot) {
                        vr[u][c] = *reinterpret_cast<const uint4*>(fold.value + 8 * g8 + 64 * c);
                        continue;
                    }
                }
                vr[u][c] = vs >= 0 ? dms::load16_stream(vp + 64 * c) : make_uint4(0, 0, 0, 0);
            }
        }
        // S for 16 keys: sacc[n] = rows (g8, g8 + 8) x keys kb + 8 n + 2 q4 + {0, 1}.
        float sacc[2][4];
#pragma unroll
        for (int n = 0; n < 2; n++) {
#pragma unroll
            for (int e = 0; e < 4; e++) {
                sacc[n][e] = 0.f;
            }
#pragma unroll
            for (int ks = 0; ks < KS; ks++) {
                const uint4 w = kr[n][ks / 2];
                const uint32_t b[2] = {(ks & 1) ? w.z : w.x, (ks & 1) ? w.w : w.y};
                dms::mma_bf16_16816(sacc[n], qa[ks], b);
            }
        }
        // Online softmax for head g8 over these 16 keys (a quad of lanes holds them all).
        float sc[2][2];
        float tileMax = -INFINITY;
#pragma unroll
        for (int n = 0; n < 2; n++) {
#pragma unroll
            for (int e = 0; e < 2; e++) {
                const int key = kb + 8 * n + 2 * q4 + e;
                sc[n][e] = key < count ? (sacc[n][e] + sacc[n][2 + e]) * scale : -INFINITY;
                tileMax = fmaxf(tileMax, sc[n][e]);
            }
        }
        tileMax = fmaxf(tileMax, __shfl_xor_sync(DMS_FULL_MASK, tileMax, 1));
        tileMax = fmaxf(tileMax, __shfl_xor_sync(DMS_FULL_MASK, tileMax, 2));
        const float mNew = fmaxf(mrow, tileMax);  // finite: key kb is visible
        const float correction = expf(mrow - mNew);  // 0 the first time, exactly 1 when the maximum stays
        mrow = mNew;
        if (__any_sync(DMS_FULL_MASK, correction != 1.f)) {
            lsum *= correction;
#pragma unroll
            for (int j = 0; j < NT; j++) {
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    oacc[j][e] *= correction;
                }
            }
        }
        // P as an A fragment: a0/a2 the high parts (keys 2 q4 + {0, 1}, + 8), a1/a3 the rest.
        uint32_t pa[4];
#pragma unroll
        for (int n = 0; n < 2; n++) {
            const float p0 = expf(sc[n][0] - mrow);
            const float p1 = expf(sc[n][1] - mrow);
            lsum += p0 + p1;
            dms::split_bf16x2(p0, p1, pa[2 * n], pa[2 * n + 1]);
        }
        // O += P V.
#pragma unroll
        for (int c = 0; c < VL; c++) {
#pragma unroll
            for (int w = 0; w < 4; w++) {
                const uint32_t a0 = w == 0 ? vr[0][c].x : w == 1 ? vr[0][c].y : w == 2 ? vr[0][c].z : vr[0][c].w;
                const uint32_t a1 = w == 0 ? vr[1][c].x : w == 1 ? vr[1][c].y : w == 2 ? vr[1][c].z : vr[1][c].w;
                const uint32_t a2 = w == 0 ? vr[2][c].x : w == 1 ? vr[2][c].y : w == 2 ? vr[2][c].z : vr[2][c].w;
                const uint32_t a3 = w == 0 ? vr[3][c].x : w == 1 ? vr[3][c].y : w == 2 ? vr[3][c].z : vr[3][c].w;
                const uint32_t blo[2] = {dms::interleave_lo(a0, a1), dms::interleave_lo(a2, a3)};
                const uint32_t bhi[2] = {dms::interleave_hi(a0, a1), dms::interleave_hi(a2, a3)};
                dms::mma_bf16_16816(oacc[8 * c + 2 * w], pa, blo);
                dms::mma_bf16_16816(oacc[8 * c + 2 * w + 1], pa, bhi);
            }
        }
    };
    int have = 0;  // visible keys carried in front of myList, fewer than 16
    // A slot's position and flag; folded, the step's own slot and the previous token's as this step leaves them.
    const auto posOf = [&](int s) {
        if constexpr (Fold::on) {
            if (s == fold.slot) {
                return qpos;
            }
        }
        return s >= 0 ? cache.slotPos[s] : -1;
    };
    const auto flagOf = [&](int s) {
        if constexpr (Fold::on) {
            if (s == fold.slot) {
                return 0;
            }
            if (s == fold.prevSlot) {
                return fold.prevFlag();
            }
        }
        return s >= 0 ? static_cast<int>(cache.slotFlag[s]) : 0;
    };
    if constexpr (Fold::on) {
        if (fold.metaEarly) {
            pos = slot == fold.slot ? qpos : pos;
            flag = slot == fold.slot ? 0 : slot == fold.prevSlot ? fold.prevFlag() : flag;
        } else {
            pos = posOf(slot);
            flag = flagOf(slot);
        }
    } else {
        pos = posOf(slot);
        flag = flagOf(slot);
    }
    for (; tile < listEnd; tile += STEP) {
        const int laterPage = pageOf(tile + 2 * STEP + lane);
        const int nextSlot = slotOf(nextPage, tile + STEP + lane);
        const int nextPos = posOf(nextSlot);
        const int nextFlag = flagOf(nextSlot);
        const bool visible = slot >= 0 && dms_visible(pos, flag, qpos, window);
        const unsigned mask = __ballot_sync(DMS_FULL_MASK, visible);
        const int count = have + __popc(mask);
        if (visible) {
            myList[have + __popc(mask & ((1u << lane) - 1u))] = slot;
        }
        __syncwarp();

        // Full rounds of 16 now; the rest waits in front of myList for the next tile's keys, so that a list with
        // evicted slots runs about visible / 16 rounds instead of two a tile (the loads are as many either way).
        int kb = 0;
        for (; kb + 16 <= count; kb += 16) {
            round(kb, count);
        }
        have = count - kb;
        const int carried = lane < have ? myList[kb + lane] : 0;
        __syncwarp();  // every lane has read its carried key before any is rewritten
        if (lane < have) {
            myList[lane] = carried;
        }
        __syncwarp();  // the next tile rewrites myList past the carried keys
        nextPage = laterPage;
        slot = nextSlot;
        pos = nextPos;
        flag = nextFlag;
    }
    if (have > 0) {
        round(0, have);
    }

    // This warp's (m, l, o) of head g8 into shared memory: [m, l, o[D]] per (warp, g).
    lsum += __shfl_xor_sync(DMS_FULL_MASK, lsum, 1);
    lsum += __shfl_xor_sync(DMS_FULL_MASK, lsum, 2);
    float* merge = reinterpret_cast<float*>(smem);
    if (g8 < G) {
        float* mr = merge + (warp * G + g8) * (D + 2);
        if (q4 == 0) {
            mr[0] = mrow;
            mr[1] = lsum;
        }
#pragma unroll
        for (int j = 0; j < NT; j++) {
            const int channel = 64 * (j / 8) + 16 * q4 + j % 8;  // columns 2 q4 and 2 q4 + 1 of tile j
            mr[2 + channel] = oacc[j][0] + oacc[j][2];
            mr[2 + channel + 8] = oacc[j][1] + oacc[j][3];
        }
    }
    __syncthreads();
    attention_decode_finish(merge, G, D, h, i, heads, split, splits, splitStride, out, outStride, outBf16, outBf16Stride,
                            partialO, partialML);
}

template <int D>
__device__ __forceinline__ void attention_decode_tc(
    const float* __restrict__ q, int qStride, AttentionCache cache, const int* __restrict__ pageTable,
    const int* __restrict__ pageTableLen, int maxPagesPerHead, int layers, int layer, int kvHeads, int pageSize,
    const int* __restrict__ positions, const int* __restrict__ seqOfToken, const int* __restrict__ seqRow,
    const int* __restrict__ seqWindow, const int* __restrict__ tokenList, int heads, int /* D: the template's */,
    float scale, int pagesPerSplit, int splits, int splitStride, float* __restrict__ out, int outStride,
    bf16_t* __restrict__ outBf16, int outBf16Stride, float* __restrict__ partialO, float2* __restrict__ partialML) {
    // dms_attention_early (dms.cuh): 1 reads the block's list (the step's rows, the page table and the first two tiles'
    // pages: never what the launch just before writes) before its wait, so that under a programmatic launch that
    // chain of dependent loads overlaps the launch before (the q/k norm and RoPE with the KV write); 0 waits first.
    const int early = dms_attention_early;
    if (early == 0) {
        dms::pdl_begin_long();
    }
    const auto where = [&]() {
        return decode_block(pageTable, pageTableLen, maxPagesPerHead, layers, layer, kvHeads, pageSize, positions,
                            seqOfToken, seqRow, seqWindow, tokenList, pagesPerSplit);
    };
    const auto wait = [&]() {
        if (early != 0) {
            dms::pdl_begin_long();
        }
    };
    attention_decode_tc_list<D>(q, qStride, cache, where, wait, blockIdx.y, kvHeads, pageSize, heads, scale,
                                blockIdx.x, splits, splitStride, out, outStride, outBf16, outBf16Stride, partialO,
                                partialML);
}

#define DMS_ATTENTION_DECODE_TC(DD)                                                                               \
    extern "C" __global__ void __launch_bounds__(DMS_ATT_WARPS * 32) dms_attention_decode_tc_d##DD(DMS_DECODE_PARAMS) { \
        DMS_DECODE_CALL(attention_decode_tc<DD>);                                                                 \
    }
DMS_ATTENTION_DECODE_TC(64)
DMS_ATTENTION_DECODE_TC(128)

// ===================================================================================================
// Decode on tensor cores with the q/k norm, RoPE, the DMS decision and the KV write folded in:
// dms_attention_decode_tcq_d{64,128}, for a decode step (every sequence feeds one token) on the split grid. The
// launch before is the q|k|v product: q, k and v are its raw rows, and each block does dms_qknorm_rope_kv_f32's work
// for its own kv head h and token i (qknorm_rope.cuh, the same arithmetic, so the same bits) after its wait: its G
// query heads normalised and rotated into shared memory (q in global memory is left as the product wrote it), the
// key and value of the step's slot slots[(layer kvHeads + h) n + i] as bf16 into shared memory, and the decision.
// The list scan takes that slot's key, value, position (qpos) and flag (0), and the previous token's slot's flag
// (prevSlots[(layer kvHeads + h) S + seqOfToken[i]], this step's decision), from the block itself: the cache holds
// them only once the last split's block has written them, after its scan, so no block reads what another writes
// (the cache's const __restrict__ pointers, read through the non-coherent path, are written through const_cast: safe
// while no page is in two lists, as today, where a fork copies its pages; shared pages would need a launch boundary).
// That block writes the slot's key, value, position and flag 0, the decision (decisions[(i layers + layer) kvHeads +
// h]) and the previous slot's flag, as dms_qknorm_rope_kv_f32 does (a slot < 0 is skipped, as there). The outputs,
// the cache and the decisions are those of dms_qknorm_rope_kv then dms_attention_decode_tc, bit for bit; one launch a
// layer fewer. Grid, block, shared memory and the attention's arguments as dms_attention_decode_tc_d*; G <= 8.
//   k, v        fp32, the product's key and value rows (strides kStride, vStride)   (n, kvHeads, D)
//   qNorm ... S as dms_qknorm_rope_kv (n the step's tokens, S its sequences: n == S)
#define DMS_ATT_MAX_G 8

struct FoldedQk {
    static constexpr bool on = true;
    const float* q;               // shared (G, D): the block's query heads, normalised and rotated
    const bf16_t* key;            // shared (D): the step's key, normalised, rotated, bf16; value likewise
    const bf16_t* value;
    int slot;                     // the step's slot, -2 when none
    int prevSlot;                 // the previous token's slot whose flag this step writes, -2 when none
    const int* decision;          // shared: this step's decision for kv head h
    bool metaEarly;               // the first tile's slot positions and flags read before the wait (dms_attention_early 2)
    DMS_DEVICE int prevFlag() const {
        return *decision;
    }
};

#define DMS_FOLD_PARAMS                                                                                           \
    const float* __restrict__ k, int kStride, const float* __restrict__ v, int vStride,                           \
        const bf16_t* __restrict__ qNorm, const bf16_t* __restrict__ kNorm, const float2* __restrict__ rope,     \
        int ropePositions, float eps, int dms, double alphaScale, double alphaOffset,                             \
        const float* __restrict__ thresholds, unsigned char* __restrict__ decisions, const int* __restrict__ slots, \
        const int* __restrict__ prevSlots, int n, int S

template <int D>
__device__ __forceinline__ void attention_decode_tcq(
    const float* __restrict__ q, int qStride, AttentionCache cache, const int* __restrict__ pageTable,
    const int* __restrict__ pageTableLen, int maxPagesPerHead, int layers, int layer, int kvHeads, int pageSize,
    const int* __restrict__ positions, const int* __restrict__ seqOfToken, const int* __restrict__ seqRow,
    const int* __restrict__ seqWindow, const int* __restrict__ tokenList, int heads, int /* D: the template's */,
    float scale, int pagesPerSplit, int splits, int splitStride, float* __restrict__ out, int outStride,
    bf16_t* __restrict__ outBf16, int outBf16Stride, float* __restrict__ partialO, float2* __restrict__ partialML,
    DMS_FOLD_PARAMS) {
    DMS_SHARED(float, qs, DMS_ATT_MAX_G * D);
    DMS_SHARED(uint4, rows, 2 * D / 8);  // the key, then the value (16-byte aligned for the scan's loads)
    DMS_SHARED(int, decision, 1);
    bf16_t* key = reinterpret_cast<bf16_t*>(rows);
    bf16_t* value = key + D;
    const int early = dms_attention_early;
    if (early == 0) {
        dms::pdl_begin_long();
    }
    const int h = blockIdx.y;
    const int G = heads / kvHeads;
    // The step's rows (uploaded before its first launch), so read before the wait as the lists are.
    const int i = tokenList != nullptr ? tokenList[blockIdx.z] : static_cast<int>(blockIdx.z);
    const int seq = seqOfToken[i];
    const int position = positions[i];
    const int slot = slots[(static_cast<size_t>(layer) * kvHeads + h) * n + i];
    const bool decides = dms != 0 && decisions != nullptr;
    const int prev = decides && prevSlots != nullptr ? prevSlots[(static_cast<size_t>(layer) * kvHeads + h) * S + seq]
                                                     : -1;
    // dms_attention_early 2: the launch just before (the q|k|v product) writes no slot's position or flag (this kernel
    // writes the step's own, and its scan takes those from itself), so the first tile's are read before the wait too.
    const FoldedQk fold{qs, key, value, slot >= 0 ? slot : -2, prev >= 0 ? prev : -2, decision, early == 2};
    const auto where = [&]() {
        return decode_block(pageTable, pageTableLen, maxPagesPerHead, layers, layer, kvHeads, pageSize, positions,
                            seqOfToken, seqRow, seqWindow, tokenList, pagesPerSplit);
    };
    const auto wait = [&]() {
        if (early != 0) {
            dms::pdl_begin_long();
        }
        // dms_qknorm_rope_kv_f32's warps for token i: query heads h G + r (r < G), then kv head h (r == G).
        const int lane = threadIdx.x & 31;
        const int half = D / 2;
        for (int r = threadIdx.x >> 5; r <= G; r += DMS_ATT_WARPS) {
            const bool isQ = r < G;
            const float* x = isQ ? q + static_cast<size_t>(i) * qStride + static_cast<size_t>(h * G + r) * D
                                 : k + static_cast<size_t>(i) * kStride + static_cast<size_t>(h) * D;
            QkConstants constants;
            qk_constants(constants, isQ ? qNorm : kNorm, rope, ropePositions, position, D, lane, true);
            float y1[DMS_ROPE_PAIRS];
            float y2[DMS_ROPE_PAIRS];
            float lastChannel = 0.f;
            const bool owner = qk_head(x, constants, D, eps, isQ && dms != 0 && r == 0, lane, y1, y2, &lastChannel);
            if (owner && decides) {
                decision[0] = qk_decide(lastChannel, alphaScale, alphaOffset,
                                        thresholds[static_cast<size_t>(seq) * layers + layer]);
            }
#pragma unroll
            for (int c = 0; c < DMS_ROPE_PAIRS; c++) {
                const int j = lane + 32 * c;
                if (j < half) {
                    if (isQ) {
                        qs[r * D + j] = y1[c];
                        qs[r * D + j + half] = y2[c];
                    } else {
                        key[j] = dms::f32_to_bf16(y1[c]);
                        key[j + half] = dms::f32_to_bf16(y2[c]);
                    }
                }
            }
        }
        const float* vr = v + static_cast<size_t>(i) * vStride + static_cast<size_t>(h) * D;
        for (int e = threadIdx.x; e < D; e += blockDim.x) {
            value[e] = dms::f32_to_bf16(vr[e]);
        }
        __syncthreads();
    };
    attention_decode_tc_list<D>(q, qStride, cache, where, wait, h, kvHeads, pageSize, heads, scale, blockIdx.x, splits,
                                splitStride, out, outStride, outBf16, outBf16Stride, partialO, partialML, fold);
    // The last split's block, after its scan (attention_decode_tc_list ends past a __syncthreads): the cache and the
    // decision, as dms_qknorm_rope_kv_f32 writes them.
    if (blockIdx.x + 1 == gridDim.x) {
        if (slot >= 0) {
            uint4* kc = reinterpret_cast<uint4*>(const_cast<bf16_t*>(cache.keyCache) + static_cast<size_t>(slot) * D);
            uint4* vc = reinterpret_cast<uint4*>(const_cast<bf16_t*>(cache.valueCache) + static_cast<size_t>(slot) * D);
            for (int e = threadIdx.x; e < D / 8; e += blockDim.x) {
                kc[e] = rows[e];
                vc[e] = rows[D / 8 + e];
            }
            if (threadIdx.x == 0) {
                const_cast<int*>(cache.slotPos)[slot] = position;
                const_cast<unsigned char*>(cache.slotFlag)[slot] = 0;
            }
        }
        if (decides && threadIdx.x == 0) {
            decisions[(static_cast<size_t>(i) * layers + layer) * kvHeads + h] = static_cast<unsigned char>(decision[0]);
            if (prev >= 0) {
                const_cast<unsigned char*>(cache.slotFlag)[prev] = static_cast<unsigned char>(decision[0]);
            }
        }
    }
}

#define DMS_ATTENTION_DECODE_TCQ(DD)                                                                              \
    extern "C" __global__ void __launch_bounds__(DMS_ATT_WARPS * 32)                                               \
        dms_attention_decode_tcq_d##DD(DMS_DECODE_PARAMS, DMS_FOLD_PARAMS) {                                       \
        attention_decode_tcq<DD>(DMS_CACHE_ARGS, tokenList, heads, D, scale, pagesPerSplit, splits, splitStride,  \
                                 out, outStride, outBf16, outBf16Stride, partialO, partialML, k, kStride, v,      \
                                 vStride, qNorm, kNorm, rope, ropePositions, eps, dms, alphaScale, alphaOffset,   \
                                 thresholds, decisions, slots, prevSlots, n, S);                                  \
    }

DMS_ATTENTION_DECODE_TCQ(64)
DMS_ATTENTION_DECODE_TCQ(128)

// ===================================================================================================
// Decode on tensor cores with balanced blocks: dms_attention_decode_tcb_d{64,128}, G <= 8. grid (blocks), block
// 128, dynamic shared memory attention_decode_tcb_smem(G, D, lists), lists = tokenCount x kvHeads <= 4096.
// The split grid gives every page list the same number of blocks, sized by the longest list: with DMS the lists
// differ, so many blocks have nothing to read and the rest leave a partial last wave (16 x 32K DMS: the
// multiprocessors idle 23% of the decode attention; Nsight Compute, H200, 2026-11-30). Here the layer's lists are laid
// end to end, list j = (token entry j / kvHeads, kv head j % kvHeads), T pages in all, and block b takes pages
// [b T / blocks, (b + 1) T / blocks): every block reads as many pages (one more at most; blocks beyond T pages have
// none, and leave at once). A list crossed by k blocks
// gets k parts; its part from block b goes to split slot b - first(j), first(j) the block holding the list's first page
// (a page p lies in block ((p + 1) blocks - 1) / T), so every list's parts are slots 0 .. k - 1, and the block holding
// its first page (the last block for lists that start at T, empty ones) marks slots k .. splitStride - 1 empty
// (m = -inf) for dms_attention_merge. splitStride must exceed the parts of the longest list: at most
// ceil(longest x blocks / T) + 1. Every part, even a whole list, goes through the partials and the merge.
__host__ __device__ constexpr int attention_decode_tcb_smem(int G, int D, int lists) {
    return attention_decode_smem(G, D) + 4 * (lists + 1);
}

// start[0 .. lists]: on entry start[j + 1] is list j's length; on exit start[j] is the sum of the lengths before
// list j (start[lists] the total). Each thread takes a run of entries; one __syncthreads between reading the lengths
// and writing the sums, and a thread keeps its run's last length, which the next thread's first write replaces.
DMS_DEVICE void attention_prefix_pages(int* start, int lists, int* warpSums) {
    const int per = (lists + blockDim.x - 1) / blockDim.x;
    const int a = min(lists, static_cast<int>(threadIdx.x) * per);
    const int b = min(lists, a + per);
    int sum = 0;
    for (int j = a; j < b; j++) {
        sum += start[j + 1];
    }
    const int lastLength = b > a ? start[b] : 0;
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    int inclusive = sum;
    for (int o = 1; o < 32; o <<= 1) {
        const int v = __shfl_up_sync(DMS_FULL_MASK, inclusive, o);
        if (lane >= o) {
            inclusive += v;
        }
    }
    if (lane == 31) {
        warpSums[warp] = inclusive;
    }
    __syncthreads();
    int run = inclusive - sum;
    for (int w = 0; w < warp; w++) {
        run += warpSums[w];
    }
    for (int j = a; j < b; j++) {
        const int length = j + 1 < b ? start[j + 1] : lastLength;
        start[j] = run;
        run += length;
    }
    if (b == lists && b > a) {
        start[lists] = run;
    }
    if (lists == 0 && threadIdx.x == 0) {
        start[0] = 0;
    }
    __syncthreads();
}

template <int D>
__device__ __forceinline__ void attention_decode_tc_balanced(
    const float* __restrict__ q, int qStride, AttentionCache cache, const int* __restrict__ pageTable,
    const int* __restrict__ pageTableLen, int maxPagesPerHead, int layers, int layer, int kvHeads, int pageSize,
    const int* __restrict__ positions, const int* __restrict__ seqOfToken, const int* __restrict__ seqRow,
    const int* __restrict__ seqWindow, const int* __restrict__ tokenList, int tokenCount, int heads, float scale,
    int splitStride, float* __restrict__ partialO, float2* __restrict__ partialML) {
    // Before the wait (dms.cuh, pdl_wait): the lists' lengths, their prefix and this block's first list, from the page
    // table's lengths and the step's sequence rows, which the step's first launches wrote, never the launch just before
    // (q/k norm and RoPE, the KV write). Under a programmatic launch this overlaps that launch.
    DMS_SHARED(int, warpSums, DMS_ATT_WARPS);
    DMS_DYNAMIC_SMEM(smem);
    const int G = heads / kvHeads;
    const int lists = tokenCount * kvHeads;
    int* start = reinterpret_cast<int*>(smem + attention_decode_smem(G, D));
    const auto tokenOf = [&](int j) { return tokenList != nullptr ? tokenList[j / kvHeads] : j / kvHeads; };
    const auto headOf = [&](int i, int h) {
        return (static_cast<size_t>(seqRow[seqOfToken[i]]) * layers + layer) * kvHeads + h;
    };
    for (int j = threadIdx.x; j < lists; j += blockDim.x) {
        start[j + 1] = pageTableLen[headOf(tokenOf(j), j % kvHeads)];
    }
    __syncthreads();
    attention_prefix_pages(start, lists, warpSums);
    // Past T blocks some would hold no page, and a list's parts would skip slots: the blocks beyond T (beyond 1 when
    // T is 0, the one then marking every list empty) have nothing to do.
    const long long T = start[lists];
    const long long blocks = max(1LL, min(static_cast<long long>(gridDim.x), T));
    const long long b = blockIdx.x;
    if (b >= blocks) {
        return;  // (block 0 never leaves here: it waits, so a launch after this one still follows the one before)
    }
    const long long b0 = b * T / blocks;
    const long long b1 = (b + 1) * T / blocks;
    const bool last = b + 1 == blocks;
    const auto blockOf = [&](long long p) { return static_cast<int>(((p + 1) * blocks - 1) / T); };
    // The first list that ends after b0 or starts at or after it (the lists before lie wholly before the block).
    int lo = 0;
    int hi = lists;
    while (lo < hi) {
        const int mid = (lo + hi) / 2;
        if (start[mid] >= b0 || start[mid + 1] > b0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    dms::pdl_begin_long();
    for (int j = lo; j < lists; j++) {
        const long long s0 = start[j];
        const long long s1 = start[j + 1];
        if (s0 >= b1 && !last) {
            break;
        }
        const int i = tokenOf(j);
        const int h = j % kvHeads;
        const long long p0 = max(b0, s0);
        const long long p1 = min(b1, s1);
        const int part = p0 < p1 ? static_cast<int>(b) - blockOf(s0) : 0;
        if (p0 < p1 && part < splitStride) {  // (a stride below the bound loses parts, never writes past the partials)
            const auto where = [&]() {
                DecodeBlock d;
                d.i = i;
                d.window = seqWindow[seqOfToken[i]];
                d.qpos = positions[i];
                d.table = pageTable + headOf(i, h) * maxPagesPerHead;
                d.listStart = static_cast<int>(p0 - s0) * pageSize;
                d.listEnd = static_cast<int>(p1 - s0) * pageSize;
                return d;
            };
            attention_decode_tc_list<D>(q, qStride, cache, where, [] {}, h, kvHeads, pageSize, heads, scale, part,
                                        splitStride, splitStride, nullptr, 0, nullptr, 0, partialO, partialML);
            __syncthreads();  // the next part rewrites the merge rows
        }
        if (s0 >= b0 && (s0 < b1 || last)) {
            // This block holds the list's first page (or the list starts at T): the slots past its parts are empty.
            const int parts = s1 > s0 ? blockOf(s1 - 1) - blockOf(s0) + 1 : 0;
            for (int e = threadIdx.x; e < G * splitStride; e += blockDim.x) {
                const int g = e / splitStride;
                const int slot = e % splitStride;
                if (slot >= parts) {
                    partialML[(static_cast<size_t>(i) * heads + h * G + g) * splitStride + slot] =
                        make_float2(-INFINITY, 0.f);
                }
            }
        }
    }
}

#define DMS_TCB_PARAMS                                                                                            \
    DMS_CACHE_PARAMS, const int* __restrict__ tokenList, int tokenCount, int heads, float scale, int splitStride, \
        float* __restrict__ partialO, float2* __restrict__ partialML
#define DMS_TCB_ARGS                                                                                              \
    DMS_CACHE_ARGS, tokenList, tokenCount, heads, scale, splitStride, partialO, partialML
// dms_attention_decode_tcb_d*: partials, merged by a launch after (a merge in the kernel, by the block that writes a
// list's last part, measured slower on the H200: docs/benchmarks.md, eleventh pass).
#define DMS_ATTENTION_DECODE_TCB(DD)                                                                              \
    extern "C" __global__ void __launch_bounds__(DMS_ATT_WARPS * 32, 3)                                            \
        dms_attention_decode_tcb_d##DD(DMS_TCB_PARAMS) {                                                          \
        attention_decode_tc_balanced<DD>(DMS_TCB_ARGS);                                                           \
    }
DMS_ATTENTION_DECODE_TCB(64)
DMS_ATTENTION_DECODE_TCB(128)

// ===================================================================================================
// Chunk (prefill). grid (tileCount, kvHeads, splits), block 128 (4 warps), dynamic shared memory
// attention_chunk_smem(D, packs) bytes. tiles[b] = (first token index, token count) of query tile b: tokens
// of ONE sequence, count <= 64 / G. The block's 64 query rows are (token t, group head g) = row / G,
// row % G; each warp owns 16 rows. Key tiles of 64 list slots, or of 64 of the slots some query of the block sees
// where keys may be evicted for all of it (PACK, below): metadata first (a tile that no query of
// the block can see is skipped before any K/V byte is read), then K and V by cp.async (invisible slots
// zero-filled), S = Q Kᵀ and O += P V by mma.sync m16n8k16 bf16 with fp32 accumulators, online softmax
// in fp32 registers (flash-attention 2). Q and P each go to the tensor cores as two bf16 parts (high, and
// the rounded rest), so they keep about 16 bits: rounding them to one bf16 moved DMS decisions against
// the fp32 CPU reference (CudaGoldenTest: 24 of 30,000 flipped, none within 1e-3 of the threshold).
// Double-buffered: the metadata and the K/V loads of key tile t + 1 are issued before tile t is multiplied, so the
// loads of one tile overlap the mma of the other (the sums are those of the single-buffered loop, bit for bit).
// Blocks take the query tiles last to first: a sequence's later tiles see more keys, and started first they do not
// leave a tail of long blocks after the short ones.
#define DMS_CHUNK_ROWS 64
#define DMS_CHUNK_KEYS 64
// PACK: the longest part of a list a block packs (its keys' slots are held in shared memory), and the rounds of 128
// slots whose metadata its scan loads at once.
#ifndef DMS_CHUNK_SEG
#define DMS_CHUNK_SEG 8192
#endif
#ifndef DMS_CHUNK_SCAN
#define DMS_CHUNK_SCAN 8
#endif
// Whether the code compiled here packs: the sm_90a code does; the compute_80 code, which every device but compute 9.0
// runs, does not, so that its blocks keep the shared memory they had (two an SM on an A100; 8.6 and 8.9 devices would
// not launch 103 KB a block at all).
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 900
#define DMS_CHUNK_PACKS 0
#else
#define DMS_CHUNK_PACKS 1
#endif

// packs: the device runs the sm_90a code (dms_compute90; AttentionKernel.chunkSharedBytes likewise).
__host__ __device__ constexpr int attention_chunk_smem(int D, bool packs) {
    // Two buffers of: K and V tiles [64][D + 8] bf16 (Q is staged in buffer 0's first), then slot, position, flag of
    // 64 keys; then PACK's slots of the keys.
    return 2 * (2 * DMS_CHUNK_KEYS * (D + 8) * 2 + 3 * DMS_CHUNK_KEYS * 4) + (packs ? DMS_CHUNK_SEG * 4 : 0) + 16;
}

// Variants of attention_chunk (bits of OPT; the fatbin's kernels take DMS_CHUNK_OPT, FULL | EXP2 | META | PACK, and
// native/bench/chunk_bench.cu times the others: the first three 1.29-1.48x faster than none of them on the H200,
// docs/benchmarks.md twenty-third pass; PACK 1.46-1.62x more at 87.5% flagged, twenty-seventh pass): FULL, a key
// tile whose 64 keys every query of the block sees skips the per-element mask; EXP2,
// the softmax in base 2 (scores scaled by scale log2 e, exp2f where expf was: fewer instructions an element, the
// outputs within about 1e-6 of expf's); META, each key tile's page and slot metadata loaded into registers one and two
// tiles before the barrier that publishes them, so that barrier waits for no load; P_BF16 and Q_BF16 (bench only: what
// the split costs), P or q to the tensor cores as one bf16; PACK, key tiles of the useful slots only: where the
// earliest query of the block is past the sequence's window (so keys may be evicted for every query of the block)
// and its part of the list is at most DMS_CHUNK_SEG slots, the block first scans that part for the slots some query
// of it sees and keeps them, in list order, in shared memory; its key tiles are then the 1st to 64th, 65th to 128th,
// ... of those: the keys evicted for the whole block (seven in eight of a DMS-8x prompt's older keys) and the holes
// of freed slots are neither loaded nor multiplied. The same sums as without PACK, in other groups of 64 keys (other
// rounding).
#define DMS_CHUNK_FULL 1
#define DMS_CHUNK_EXP2 2
#define DMS_CHUNK_P_BF16 4
#define DMS_CHUNK_Q_BF16 8
#define DMS_CHUNK_META 16
#define DMS_CHUNK_PACK 32
// Bench only (chunk_bench), other rounding: FOLD, the scale applied in the exponent's fma (exp(s scale - m)) rather
// than to each score first (the row maxima are the same bits: rounding is monotonic); FTZ, exp2 as ex2.approx.ftz
// (probabilities below 2^-126 flushed to zero).
#define DMS_CHUNK_FOLD 64
#define DMS_CHUNK_FTZ 128
// FULL: the bit of a key tile's metadata count (at most 64 keys) that says every query of the block sees all 64.
#define DMS_CHUNK_ALL_SEE 0x10000
#ifndef DMS_CHUNK_OPT
#define DMS_CHUNK_OPT (DMS_CHUNK_FULL | DMS_CHUNK_EXP2 | DMS_CHUNK_META | DMS_CHUNK_PACK)
#endif

// attention_chunk's parameters, and its body's arguments.
#define DMS_CHUNK_BODY_PARAMS                                                                                     \
    const float* __restrict__ q, int qStride, AttentionCache cache, const int* __restrict__ pageTable,             \
        const int* __restrict__ pageTableLen, int maxPagesPerHead, int layers, int layer, int kvHeads,             \
        int pageSize, const int* __restrict__ positions, const int* __restrict__ seqOfToken,                       \
        const int* __restrict__ seqRow, const int* __restrict__ seqWindow, const int2* __restrict__ tiles,          \
        int heads, float scale, int pagesPerSplit, int splits, int splitStride, float* __restrict__ out,            \
        int outStride, bf16_t* __restrict__ outBf16, int outBf16Stride, float* __restrict__ partialO,              \
        float2* __restrict__ partialML
#define DMS_CHUNK_BODY_ARGS                                                                                        \
    q, qStride, cache, pageTable, pageTableLen, maxPagesPerHead, layers, layer, kvHeads, pageSize, positions,      \
        seqOfToken, seqRow, seqWindow, tiles, heads, scale, pagesPerSplit, splits, splitStride, out, outStride,     \
        outBf16, outBf16Stride, partialO, partialML

template <int D, int OPT, bool PACKED>
__device__ __forceinline__ void attention_chunk_body(DMS_CHUNK_BODY_PARAMS) {
    constexpr int LD = D + 8;    // bf16 per smem row: rows (D + 8) * 2 bytes apart, no ldmatrix conflicts
    constexpr int KS = D / 16;   // k16 steps of Q Kᵀ
    constexpr int DT = D / 8;    // n8 tiles of O
    constexpr int ST = DMS_CHUNK_KEYS / 8;  // n8 tiles of S
    DMS_DYNAMIC_SMEM(smem);
    constexpr int KV_TILE = DMS_CHUNK_KEYS * LD;        // bf16 of one K or V tile
    bf16_t* Kbuf = reinterpret_cast<bf16_t*>(smem);     // [2][64][LD]; Q [64][LD] in buffer 0 before the key loop
    bf16_t* Vbuf = Kbuf + 2 * KV_TILE;                  // [2][64][LD]
    int* metaBuf = reinterpret_cast<int*>(Vbuf + 2 * KV_TILE);  // [2][slot, position, flag][64]
    bf16_t* Ks = Kbuf;
    bf16_t* Vs = Vbuf;
    DMS_SHARED(int, range, 2);                          // min and max query position of the tile

    const int tid = threadIdx.x;
    const int lane = tid & 31;
    const int warp = tid >> 5;
    const int g8 = lane >> 2;
    const int q4 = lane & 3;
    const int2 tile = tiles[gridDim.x - 1 - blockIdx.x];  // last to first: the longest first
    const int h = blockIdx.y;
    const int split = blockIdx.z;
    const int G = heads / kvHeads;
    const int s = seqOfToken[tile.x];
    const int window = seqWindow[s];
    const size_t head = (static_cast<size_t>(seqRow[s]) * layers + layer) * kvHeads + h;
    const int* table = pageTable + head * maxPagesPerHead;
    const int len = pageTableLen[head];
    const int e0 = split * pagesPerSplit;
    const int e1 = min(len, e0 + pagesPerSplit);
    const int listStart = e0 * pageSize;
    const int listEnd = e1 > e0 ? e1 * pageSize : listStart;

    if (warp == 0) {
        // The tile's positions by warp 0's lanes at once (a thread's serial loop waited for each load in turn).
        int lo = 0x7fffffff, hi = -1;
        for (int t = lane; t < tile.y; t += 32) {
            lo = min(lo, positions[tile.x + t]);
            hi = max(hi, positions[tile.x + t]);
        }
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) {
            lo = min(lo, __shfl_xor_sync(DMS_FULL_MASK, lo, o));
            hi = max(hi, __shfl_xor_sync(DMS_FULL_MASK, hi, o));
        }
        if (lane == 0) {
            range[0] = lo;
            range[1] = hi;
        }
    }
    // Q rows -> bf16 pairs: the high part in the K tile, the rest (q - high, rounded) in the V tile. Each thread
    // takes channel pairs, Q_BATCH of them with their loads issued before any is used (one element at a time, each
    // load waited for in turn, showed as long-scoreboard stalls in ncu: docs/benchmarks.md, thirty-third pass). Every
    // launch has DMS_ATT_WARPS * 32 threads, which this split of the rows assumes.
    constexpr int Q_PAIRS = DMS_CHUNK_ROWS * D / 2 / (DMS_ATT_WARPS * 32);  // a thread's: 32, 16, 8 for D 128, 64, 32
    constexpr int Q_BATCH = Q_PAIRS < 16 ? Q_PAIRS : 16;
    static_assert(Q_PAIRS % Q_BATCH == 0, "a thread's channel pairs of Q in whole batches");
#pragma unroll 1
    for (int b0 = 0; b0 < Q_PAIRS; b0 += Q_BATCH) {
        float2 v[Q_BATCH];
#pragma unroll
        for (int u = 0; u < Q_BATCH; u++) {
            const int e = 2 * ((b0 + u) * DMS_ATT_WARPS * 32 + tid);  // element (row e / D, channel e % D)
            const int r = e / D;
            const int t = r / G;
            v[u] = make_float2(0.f, 0.f);
            if (t < tile.y && r < (DMS_CHUNK_ROWS / G) * G) {
                const float* row =
                    q + static_cast<size_t>(tile.x + t) * qStride + static_cast<size_t>(h * G + r % G) * D;
                v[u] = make_float2(row[e % D], row[e % D + 1]);
            }
        }
#pragma unroll
        for (int u = 0; u < Q_BATCH; u++) {
            const int e = 2 * ((b0 + u) * DMS_ATT_WARPS * 32 + tid);
            const int at = (e / D) * LD + e % D;  // even: LD and the channel are
            uint32_t hi, lo;
            dms::split_bf16x2(v[u].x, v[u].y, hi, lo);
            *reinterpret_cast<uint32_t*>(Ks + at) = hi;
            *reinterpret_cast<uint32_t*>(Vs + at) = lo;
        }
    }
    __syncthreads();
    uint32_t qf[KS][4];
    uint32_t qlo[KS][4];
#pragma unroll
    for (int ks = 0; ks < KS; ks++) {
        dms::ldmatrix_x4(qf[ks], Ks + (warp * 16 + (lane & 15)) * LD + ks * 16 + (lane >> 4) * 8);
        dms::ldmatrix_x4(qlo[ks], Vs + (warp * 16 + (lane & 15)) * LD + ks * 16 + (lane >> 4) * 8);
    }
    const int qmin = range[0];
    const int qmax = range[1];
    // This thread's two rows: warp*16 + g8 and + 8.
    int qp[2];
#pragma unroll
    for (int r = 0; r < 2; r++) {
        const int rowIndex = warp * 16 + g8 + 8 * r;
        const int t = rowIndex / G;
        qp[r] = (t < tile.y && rowIndex < (DMS_CHUNK_ROWS / G) * G) ? positions[tile.x + t] : -1;
    }
    __syncthreads();  // Q fragments are in registers: the K tile may be overwritten

    float oacc[DT][4];
#pragma unroll
    for (int j = 0; j < DT; j++) {
#pragma unroll
        for (int e = 0; e < 4; e++) {
            oacc[j][e] = 0.f;
        }
    }
    float mrow[2] = {-INFINITY, -INFINITY};  // in base 2 under EXP2
    float lrow[2] = {0.f, 0.f};
    const float softmaxScale = (OPT & DMS_CHUNK_EXP2) ? scale * 1.44269504088896341f : scale;
    const auto softmaxExp = [](float x) {
#ifndef DMS_EMU
        if constexpr ((OPT & DMS_CHUNK_FTZ) != 0 && (OPT & DMS_CHUNK_EXP2) != 0) {
            float y;
            asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
            return y;
        }
#endif
        return (OPT & DMS_CHUNK_EXP2) ? exp2f(x) : expf(x);
    };
    constexpr bool FOLD = (OPT & DMS_CHUNK_FOLD) != 0;

    // [SEG] PACKED: the keys' slots, in list order.
    int* packedSlot = metaBuf + 2 * 3 * DMS_CHUNK_KEYS;
    DMS_SHARED(int, marked, DMS_CHUNK_SCAN * DMS_ATT_WARPS);  // PACK: the keys of each word of a scan's rounds
    const auto commitMeta = [&](int b, int slot, int p, int f) {
        int useful = 0;
        int full = 0;
        if (tid < DMS_CHUNK_KEYS) {
            int* kslot = metaBuf + b * 3 * DMS_CHUNK_KEYS;
            // Visible to some query of the tile: p <= qmax, and not evicted for the earliest query.
            useful = p >= 0 && p <= qmax && !(f != 0 && qmin - p > window);
            // Visible to every query of the tile: p <= qmin, and not evicted for the latest query.
            full = useful && p <= qmin && !(f != 0 && qmax - p > window);
            kslot[tid] = useful ? slot : -1;
            kslot[DMS_CHUNK_KEYS + tid] = useful ? p : -1;
            kslot[2 * DMS_CHUNK_KEYS + tid] = f;
        }
        const int count = __syncthreads_count(useful);
        // FULL: DMS_CHUNK_ALL_SEE when all 64 keys are visible to every query (a second barrier).
        return (OPT & DMS_CHUNK_FULL) && __syncthreads_count(full) == DMS_CHUNK_KEYS ? count | DMS_CHUNK_ALL_SEE
                                                                                       : count;
    };
    // Its visible keys' K and V rows into buffer b by cp.async (the others zero-filled).
    const auto loadKv = [&](int b) {
        const int* kslot = metaBuf + b * 3 * DMS_CHUNK_KEYS;
        bf16_t* Kb = Kbuf + b * KV_TILE;
        bf16_t* Vb = Vbuf + b * KV_TILE;
        for (int c = tid; c < DMS_CHUNK_KEYS * (D / 8); c += blockDim.x) {
            const int key = c / (D / 8);
            const int ch = (c % (D / 8)) * 8;
            const int slot = kslot[key];
            const size_t offset = static_cast<size_t>(slot >= 0 ? slot : 0) * D + ch;
            dms::cp_async16(Kb + key * LD + ch, cache.keyCache + offset, slot >= 0);
            dms::cp_async16(Vb + key * LD + ch, cache.valueCache + offset, slot >= 0);
        }
    };
    // The key tiles: 64 consecutive list slots each or, PACKED, 64 marked slots each (the list's useful slots, in
    // order).
    // PACKED: the slots of the list that some query of the block sees (commitMeta's useful), in list order, into
    // packedSlot; returns how many. DMS_CHUNK_SCAN rounds of 128 slots load at once; a warp's
    // 32 slots of a round are one word of marks, and a slot's place is the marks of the words before its own and
    // of the lanes below it in its word.
    const auto scan = [&]() {
        int total = 0;
        for (int i0 = listStart; i0 < listEnd; i0 += DMS_CHUNK_SCAN * DMS_ATT_WARPS * 32) {
            int slot[DMS_CHUNK_SCAN];
            int pos[DMS_CHUNK_SCAN];
            int flag[DMS_CHUNK_SCAN];
#pragma unroll
            for (int u = 0; u < DMS_CHUNK_SCAN; u++) {
                const int index = i0 + u * DMS_ATT_WARPS * 32 + tid;
                slot[u] = index < listEnd ? table[index / pageSize] : -1;  // the page, then the slot
            }
#pragma unroll
            for (int u = 0; u < DMS_CHUNK_SCAN; u++) {
                const int index = i0 + u * DMS_ATT_WARPS * 32 + tid;
                pos[u] = -1;
                flag[u] = 0;
                if (slot[u] >= 0) {
                    slot[u] = slot[u] * pageSize + index % pageSize;
                    pos[u] = cache.slotPos[slot[u]];
                    flag[u] = cache.slotFlag[slot[u]];
                }
            }
            unsigned marks[DMS_CHUNK_SCAN];
#pragma unroll
            for (int u = 0; u < DMS_CHUNK_SCAN; u++) {
                const bool useful = pos[u] >= 0 && pos[u] <= qmax && !(flag[u] != 0 && qmin - pos[u] > window);
                marks[u] = __ballot_sync(DMS_FULL_MASK, useful);
                if (lane == 0) {
                    marked[u * DMS_ATT_WARPS + warp] = __popc(marks[u]);
                }
            }
            __syncthreads();
            const unsigned below = (1u << lane) - 1u;
#pragma unroll
            for (int u = 0; u < DMS_CHUNK_SCAN; u++) {
                int before = total;
#pragma unroll
                for (int w = 0; w < DMS_ATT_WARPS; w++) {
                    before += w < warp ? marked[u * DMS_ATT_WARPS + w] : 0;
                    total += marked[u * DMS_ATT_WARPS + w];
                }
                if ((marks[u] >> lane) & 1u) {
                    packedSlot[before + __popc(marks[u] & below)] = slot[u];
                }
            }
            __syncthreads();  // the counts are read (and, after the last rounds, packedSlot is written)
        }
        return total;
    };
    // Its keys: the marked slots (PACKED) or all of its slots; tile kt has keys kt .. kt + 63.
    const int keys = PACKED ? scan() : listEnd - listStart;
    // Key tile kt's metadata, in three steps so that META can issue them tiles ahead: the page of this thread's
    // key (threads 0-63, one key each; -1 past the keys or on no page) or, PACKED, its slot (no load: an index
    // through shared memory before the page table's load and its division cost the packed tiles 6% on the H200), its
    // slot's position and flag, then into buffer b with how many of the tile's keys some query of the tile can see (a
    // barrier).
    const auto fetchPage = [&](int kt) {
        if (tid >= DMS_CHUNK_KEYS || kt + tid >= keys) {
            return -1;
        }
        return PACKED ? packedSlot[kt + tid] : table[(listStart + kt + tid) / pageSize];
    };
    const auto fetchSlot = [&](int kt, int page, int& slot, int& p, int& f) {
        slot = -1;
        p = -1;
        f = 0;
        if (page >= 0) {
            slot = PACKED ? page : page * pageSize + (listStart + kt + tid) % pageSize;
            p = cache.slotPos[slot];
            f = cache.slotFlag[slot];
        }
    };
    const auto readMeta = [&](int kt, int b) {
        int slot, p, f;
        fetchSlot(kt, fetchPage(kt), slot, p, f);
        return commitMeta(b, slot, p, f);
    };
    int b = 0;
    int usefulNow = keys > 0 ? readMeta(0, 0) : 0;
    if (usefulNow != 0) {
        loadKv(0);
    }
    dms::cp_async_commit();
    // META: tile kt + 64's slot metadata and tile kt + 128's page held in registers, loaded an iteration early.
    int aheadSlot = -1, aheadPos = -1, aheadFlag = 0, aheadPage = -1;
    if constexpr ((OPT & DMS_CHUNK_META) != 0) {
        fetchSlot(DMS_CHUNK_KEYS, fetchPage(DMS_CHUNK_KEYS), aheadSlot, aheadPos, aheadFlag);
        aheadPage = fetchPage(2 * DMS_CHUNK_KEYS);
    }
    for (int kt = 0; kt < keys; kt += DMS_CHUNK_KEYS) {
        // Tile kt + 64 into the other buffer, free since the barrier that ended tile kt - 64.
        int usefulNext = 0;
        if (kt + DMS_CHUNK_KEYS < keys) {
            if constexpr ((OPT & DMS_CHUNK_META) != 0) {
                usefulNext = commitMeta(b ^ 1, aheadSlot, aheadPos, aheadFlag);
            } else {
                usefulNext = readMeta(kt + DMS_CHUNK_KEYS, b ^ 1);
            }
            if (usefulNext != 0) {
                loadKv(b ^ 1);
            }
        }
        dms::cp_async_commit();
        if constexpr ((OPT & DMS_CHUNK_META) != 0) {
            // Issued now, used an iteration later: tile kt + 128's slots (its page came last iteration) and the page
            // of tile kt + 192.
            fetchSlot(kt + 2 * DMS_CHUNK_KEYS, aheadPage, aheadSlot, aheadPos, aheadFlag);
            aheadPage = fetchPage(kt + 3 * DMS_CHUNK_KEYS);
        }
        if (usefulNow == 0) {
            b ^= 1;
            usefulNow = usefulNext;
            continue;  // no query of the tile sees any of its keys (no barrier needed: nothing of buffer b was read)
        }
        dms::cp_async_wait<1>();  // this thread's loads of tile kt have landed
        __syncthreads();          // and every thread's
        Ks = Kbuf + b * KV_TILE;
        Vs = Vbuf + b * KV_TILE;
        const int* kpos = metaBuf + b * 3 * DMS_CHUNK_KEYS + DMS_CHUNK_KEYS;
        const int* kflag = kpos + DMS_CHUNK_KEYS;

        // S = Q Kᵀ for this warp's 16 rows x 64 keys.
        float sacc[ST][4];
#pragma unroll
        for (int j = 0; j < ST; j++) {
#pragma unroll
            for (int e = 0; e < 4; e++) {
                sacc[j][e] = 0.f;
            }
        }
#pragma unroll
        for (int ks = 0; ks < KS; ks++) {
#pragma unroll
            for (int jp = 0; jp < ST / 2; jp++) {
                uint32_t r[4];
                dms::ldmatrix_x4(r, Ks + (jp * 16 + (lane & 7) + (lane >> 4) * 8) * LD + ks * 16 + ((lane >> 3) & 1) * 8);
                const uint32_t b0[2] = {r[0], r[1]};
                const uint32_t b1[2] = {r[2], r[3]};
                dms::mma_bf16_16816(sacc[2 * jp], qf[ks], b0);
                dms::mma_bf16_16816(sacc[2 * jp + 1], qf[ks], b1);
                if constexpr (!(OPT & DMS_CHUNK_Q_BF16)) {
                    dms::mma_bf16_16816(sacc[2 * jp], qlo[ks], b0);
                    dms::mma_bf16_16816(sacc[2 * jp + 1], qlo[ks], b1);
                }
            }
        }
        // Mask, scale, online softmax (rows g8 and g8 + 8; a quad of lanes shares a row).
        float tileMax[2] = {-INFINITY, -INFINITY};
        if ((OPT & DMS_CHUNK_FULL) && (usefulNow & DMS_CHUNK_ALL_SEE) != 0) {
#pragma unroll
            for (int j = 0; j < ST; j++) {
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    sacc[j][e] = FOLD ? sacc[j][e] : sacc[j][e] * softmaxScale;
                    tileMax[e >> 1] = fmaxf(tileMax[e >> 1], sacc[j][e]);
                }
            }
        } else {
#pragma unroll
            for (int j = 0; j < ST; j++) {
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    const int key = j * 8 + 2 * q4 + (e & 1);
                    const int r = e >> 1;
                    const bool visible = dms_visible(kpos[key], kflag[key], qp[r], window);
                    sacc[j][e] = visible ? (FOLD ? sacc[j][e] : sacc[j][e] * softmaxScale) : -INFINITY;
                    tileMax[r] = fmaxf(tileMax[r], sacc[j][e]);
                }
            }
        }
        float correction[2];
#pragma unroll
        for (int r = 0; r < 2; r++) {
            tileMax[r] = fmaxf(tileMax[r], __shfl_xor_sync(DMS_FULL_MASK, tileMax[r], 1));
            tileMax[r] = fmaxf(tileMax[r], __shfl_xor_sync(DMS_FULL_MASK, tileMax[r], 2));
            if constexpr (FOLD) {
                tileMax[r] *= softmaxScale;
            }
            const float mNew = fmaxf(mrow[r], tileMax[r]);
            correction[r] = mNew == -INFINITY ? 1.f : (mrow[r] == -INFINITY ? 0.f : softmaxExp(mrow[r] - mNew));
            mrow[r] = mNew;
            lrow[r] *= correction[r];
        }
        // A row's max is -inf only while every key it has met is invisible (its scores -inf): subtracting 0 instead
        // keeps exp(-inf) = 0 for them, where -inf - -inf would be NaN.
        float mSub[2];
#pragma unroll
        for (int r = 0; r < 2; r++) {
            mSub[r] = mrow[r] == -INFINITY ? 0.f : mrow[r];
        }
        uint32_t pa[ST / 2][4];   // P as A fragments, 16 keys per k-step: the bf16 high part
        uint32_t pal[ST / 2][4];  // and the rest, so that V gets P to about 16 bits
#pragma unroll
        for (int j = 0; j < ST; j++) {
            float v[4];
#pragma unroll
            for (int e = 0; e < 4; e++) {
                v[e] = softmaxExp(FOLD ? fmaf(sacc[j][e], softmaxScale, -mSub[e >> 1]) : sacc[j][e] - mSub[e >> 1]);
                lrow[e >> 1] += v[e];
            }
            // One cvt a pair (split_bf16x2: the high part rounded to nearest even, then the rest), the bits of the
            // software rounding these finite values had, at a tenth of its instructions (ALU was the busiest pipe).
            dms::split_bf16x2(v[0], v[1], pa[j / 2][(j & 1) * 2 + 0], pal[j / 2][(j & 1) * 2 + 0]);
            dms::split_bf16x2(v[2], v[3], pa[j / 2][(j & 1) * 2 + 1], pal[j / 2][(j & 1) * 2 + 1]);
        }
#pragma unroll
        for (int j = 0; j < DT; j++) {
#pragma unroll
            for (int e = 0; e < 4; e++) {
                oacc[j][e] *= correction[e >> 1];
            }
        }
        // O += P V.
#pragma unroll
        for (int kk = 0; kk < ST / 2; kk++) {
#pragma unroll
            for (int dp = 0; dp < DT / 2; dp++) {
                uint32_t r[4];
                dms::ldmatrix_x4_trans(
                    r, Vs + (kk * 16 + (lane & 7) + ((lane >> 3) & 1) * 8) * LD + dp * 16 + (lane >> 4) * 8);
                const uint32_t b0[2] = {r[0], r[1]};
                const uint32_t b1[2] = {r[2], r[3]};
                dms::mma_bf16_16816(oacc[2 * dp], pa[kk], b0);
                dms::mma_bf16_16816(oacc[2 * dp + 1], pa[kk], b1);
                if constexpr (!(OPT & DMS_CHUNK_P_BF16)) {
                    dms::mma_bf16_16816(oacc[2 * dp], pal[kk], b0);
                    dms::mma_bf16_16816(oacc[2 * dp + 1], pal[kk], b1);
                }
            }
        }
        __syncthreads();  // buffer b is free: the tile after next overwrites its K, V and metadata
        b ^= 1;
        usefulNow = usefulNext;
    }
    dms::cp_async_wait<0>();

#pragma unroll
    for (int r = 0; r < 2; r++) {
        lrow[r] += __shfl_xor_sync(DMS_FULL_MASK, lrow[r], 1);
        lrow[r] += __shfl_xor_sync(DMS_FULL_MASK, lrow[r], 2);
    }
#pragma unroll
    for (int r = 0; r < 2; r++) {
        const int rowIndex = warp * 16 + g8 + 8 * r;
        const int t = rowIndex / G;
        if (t >= tile.y || rowIndex >= (DMS_CHUNK_ROWS / G) * G) {
            continue;
        }
        const int i = tile.x + t;
        const int qh = h * G + rowIndex % G;
        const size_t p = (static_cast<size_t>(i) * heads + qh) * splitStride + split;
#pragma unroll
        for (int j = 0; j < DT; j++) {
#pragma unroll
            for (int e = 0; e < 2; e++) {
                const int d = j * 8 + 2 * q4 + e;
                const float o = oacc[j][2 * r + e];
                if (splits == 1) {
                    const float value = lrow[r] > 0.f ? o / lrow[r] : 0.f;
                    if (out != nullptr) {
                        out[static_cast<size_t>(i) * outStride + static_cast<size_t>(qh) * D + d] = value;
                    }
                    if (outBf16 != nullptr) {
                        outBf16[static_cast<size_t>(i) * outBf16Stride + static_cast<size_t>(qh) * D + d] =
                            dms::f32_to_bf16(value);
                    }
                } else {
                    partialO[p * D + d] = o;
                }
            }
        }
        if (splits > 1 && q4 == 0) {
            // The merge takes m in natural units.
            partialML[p] = make_float2((OPT & DMS_CHUNK_EXP2) ? mrow[r] * 0.69314718055994531f : mrow[r], lrow[r]);
        }
    }
}

// The chunk kernel's body in two instances, so that the tiles of consecutive slots keep the registers they had
// without PACK (one body with both, or with the choice inside, spilled): PACK where the block's first query is past
// its sequence's window, so that keys may be evicted for it (a sequence that keeps every token has an unbounded
// window), and the block's part of the list fits the shared slots. Either instance gives the same sums.
template <int D, int OPT = DMS_CHUNK_OPT>
__device__ __forceinline__ void attention_chunk(DMS_CHUNK_BODY_PARAMS) {
    dms::pdl_begin_long();
    if constexpr ((OPT & DMS_CHUNK_PACK) != 0 && DMS_CHUNK_PACKS) {
        const int first = tiles[gridDim.x - 1 - blockIdx.x].x;
        const int s = seqOfToken[first];
        const size_t head = (static_cast<size_t>(seqRow[s]) * layers + layer) * kvHeads + blockIdx.y;
        const int e0 = blockIdx.z * pagesPerSplit;
        const int e1 = min(pageTableLen[head], e0 + pagesPerSplit);
        if (positions[first] > seqWindow[s] && (e1 - e0) * pageSize <= DMS_CHUNK_SEG) {
            attention_chunk_body<D, OPT, true>(DMS_CHUNK_BODY_ARGS);
            return;
        }
    }
    attention_chunk_body<D, OPT, false>(DMS_CHUNK_BODY_ARGS);
}

#define DMS_ATTENTION_CHUNK(DD)                                                                                   \
    extern "C" __global__ void __launch_bounds__(DMS_ATT_WARPS * 32) dms_attention_chunk_d##DD(                   \
        DMS_CACHE_PARAMS, const int2* __restrict__ tiles, int heads, float scale, int pagesPerSplit,              \
        int splits, int splitStride, float* __restrict__ out, int outStride, bf16_t* __restrict__ outBf16,        \
        int outBf16Stride, float* __restrict__ partialO, float2* __restrict__ partialML) {                        \
        attention_chunk<DD>(DMS_CACHE_ARGS, tiles, heads, scale, pagesPerSplit, splits, splitStride, out,         \
                            outStride, outBf16, outBf16Stride, partialO, partialML);                              \
    }
DMS_ATTENTION_CHUNK(32)
DMS_ATTENTION_CHUNK(64)
DMS_ATTENTION_CHUNK(128)

// dms_attention_chunk_bf16_d{32,64,128}: the same with q and the probabilities to the tensor cores as one bf16 each
// (rounded to nearest: the split's high parts) instead of two, half the mma work; for the products on bf16
// activations (a dense checkpoint, CudaBackend), whose error the rounding matches (2^-9): outputs within about 2e-3
// of the largest (kernel_test attention_chunk_bf16). A DMS checkpoint keeps the split kernels: its decisions follow
// the CPU's only at about 16 bits (docs/benchmarks.md, sixth and twenty-third passes).
#define DMS_ATTENTION_CHUNK_BF16(DD)                                                                              \
    extern "C" __global__ void __launch_bounds__(DMS_ATT_WARPS * 32) dms_attention_chunk_bf16_d##DD(              \
        DMS_CACHE_PARAMS, const int2* __restrict__ tiles, int heads, float scale, int pagesPerSplit,              \
        int splits, int splitStride, float* __restrict__ out, int outStride, bf16_t* __restrict__ outBf16,        \
        int outBf16Stride, float* __restrict__ partialO, float2* __restrict__ partialML) {                        \
        attention_chunk<DD, DMS_CHUNK_OPT | DMS_CHUNK_P_BF16 | DMS_CHUNK_Q_BF16>(                                 \
            DMS_CACHE_ARGS, tiles, heads, scale, pagesPerSplit, splits, splitStride, out, outStride, outBf16,     \
            outBf16Stride, partialO, partialML);                                                                  \
    }
DMS_ATTENTION_CHUNK_BF16(32)
DMS_ATTENTION_CHUNK_BF16(64)
DMS_ATTENTION_CHUNK_BF16(128)

// ===================================================================================================
// Merge. grid (heads, tokenCount), block a multiple of 32 (128). Entry e of tokenList (or e) is the token.
//   out[i][qh][d] = sum_s e^(m_s - M) o_s[d] / sum_s e^(m_s - M) l_s, M = max_s m_s; 0 when nothing visible.
// Block (head, token): out = Σ_s O_s e^(m_s − m) / Σ_s l_s e^(m_s − m) over the splits s with m_s > −∞, in split
// order. The splits' weights are staged in shared memory a chunk at a time, and each thread loads 8 splits' O
// before it adds them (in order, as one sequential loop would: the same bits), so that the loads overlap instead of
// waiting one after another (at batch 1 the sequential loop took 11 µs a layer on the H200). Block 128 threads,
// D <= 256 (two channels a thread).
#define DMS_MERGE_CHUNK 128
#define DMS_MERGE_AHEAD 8
extern "C" __global__ void __launch_bounds__(DMS_MERGE_CHUNK)
    dms_attention_merge(const float* __restrict__ partialO, const float2* __restrict__ partialML, int splits,
                        int splitStride, const int* __restrict__ tokenList, int heads, int D, float* __restrict__ out,
                        int outStride, bf16_t* __restrict__ outBf16, int outBf16Stride) {
    dms::pdl_begin();
    DMS_SHARED(float, weight, DMS_MERGE_CHUNK);   // e^(m_s − m), for the chunk's splits
    DMS_SHARED(float, rowSum, DMS_MERGE_CHUNK);   // l_s
    DMS_SHARED(int, valid, DMS_MERGE_CHUNK);      // m_s > −∞
    DMS_SHARED(float, scratch, 32);
    const int qh = blockIdx.x;
    const int i = tokenList != nullptr ? tokenList[blockIdx.y] : static_cast<int>(blockIdx.y);
    const size_t base = (static_cast<size_t>(i) * heads + qh) * splitStride;
    float m = -INFINITY;
    for (int s = threadIdx.x; s < splits; s += blockDim.x) {
        m = fmaxf(m, partialML[base + s].x);
    }
    m = dms::block_max(m, scratch);
    float l = 0.f;
    float o[2] = {0.f, 0.f};  // channels threadIdx.x and threadIdx.x + blockDim.x
    if (m != -INFINITY) {
        for (int s0 = 0; s0 < splits; s0 += DMS_MERGE_CHUNK) {
            const int s = s0 + threadIdx.x;
            if (threadIdx.x < DMS_MERGE_CHUNK) {
                const float2 ml = s < splits ? partialML[base + s] : make_float2(-INFINITY, 0.f);
                const bool ok = ml.x != -INFINITY;
                weight[threadIdx.x] = ok ? expf(ml.x - m) : 0.f;
                rowSum[threadIdx.x] = ml.y;
                valid[threadIdx.x] = ok ? 1 : 0;
            }
            __syncthreads();
            const int count = min(DMS_MERGE_CHUNK, splits - s0);
            for (int t0 = 0; t0 < count; t0 += DMS_MERGE_AHEAD) {
                float v[DMS_MERGE_AHEAD][2];
#pragma unroll
                for (int u = 0; u < DMS_MERGE_AHEAD; u++) {
#pragma unroll
                    for (int c = 0; c < 2; c++) {
                        const int d = threadIdx.x + c * blockDim.x;
                        v[u][c] = t0 + u < count && d < D ? partialO[(base + s0 + t0 + u) * D + d] : 0.f;
                    }
                }
#pragma unroll
                for (int u = 0; u < DMS_MERGE_AHEAD; u++) {
                    const int t = t0 + u;
                    if (t < count && valid[t] != 0) {
                        l += rowSum[t] * weight[t];
#pragma unroll
                        for (int c = 0; c < 2; c++) {
                            o[c] += v[u][c] * weight[t];
                        }
                    }
                }
            }
            __syncthreads();
        }
    }
#pragma unroll
    for (int c = 0; c < 2; c++) {
        const int d = threadIdx.x + c * blockDim.x;
        if (d < D) {
            const float value = l > 0.f ? o[c] / l : 0.f;
            if (out != nullptr) {
                out[static_cast<size_t>(i) * outStride + static_cast<size_t>(qh) * D + d] = value;
            }
            if (outBf16 != nullptr) {
                outBf16[static_cast<size_t>(i) * outBf16Stride + static_cast<size_t>(qh) * D + d] =
                    dms::f32_to_bf16(value);
            }
        }
    }
}

// ===================================================================================================
// Launchers and checked entry points. Common arguments, as in the kernels above.

struct AttentionArgs {
    const float* q;
    int qStride;
    const bf16_t* keyCache;
    const bf16_t* valueCache;
    const int* slotPos;
    const unsigned char* slotFlag;
    const int* pageTable;
    const int* pageTableLen;
    int maxPagesPerHead;
    int layers;
    int layer;
    int heads;
    int kvHeads;
    int D;
    int pageSize;
    const int* positions;
    const int* seqOfToken;
    const int* seqRow;
    const int* seqWindow;
    float scale;
    int pagesPerSplit;
    int splits;
    int splitStride;
    float* out;
    int outStride;
    bf16_t* outBf16;
    int outBf16Stride;
    float* partialO;
    float2* partialML;
};

static bool attention_args_ok(const AttentionArgs& a) {
    return a.q != nullptr && a.keyCache != nullptr && a.valueCache != nullptr && a.slotPos != nullptr &&
           a.slotFlag != nullptr && a.pageTable != nullptr && a.pageTableLen != nullptr && a.positions != nullptr &&
           a.seqOfToken != nullptr && a.seqRow != nullptr && a.seqWindow != nullptr && a.heads > 0 &&
           a.kvHeads > 0 && a.heads % a.kvHeads == 0 && a.D > 0 && a.pageSize > 0 && a.maxPagesPerHead > 0 &&
           a.layers > 0 && a.layer >= 0 && a.layer < a.layers && a.pagesPerSplit > 0 && a.splits >= 1 &&
           a.splits <= 65535 && a.qStride >= a.heads * a.D && (a.out != nullptr || a.outBf16 != nullptr) &&
           (a.out == nullptr || a.outStride >= a.heads * a.D) &&
           (a.outBf16 == nullptr || a.outBf16Stride >= a.heads * a.D) &&
           (a.splits == 1 || (a.partialO != nullptr && a.partialML != nullptr && a.splitStride >= a.splits));
}

static void launch_attention_merge(const AttentionArgs& a, const int* tokenList, int tokenCount, cudaStream_t stream) {
    dim3 grid(a.heads, tokenCount);
    DMS_LAUNCH(dms_attention_merge, grid, 128, 0, stream, a.partialO, a.partialML, a.splits, a.splitStride, tokenList,
               a.heads, a.D, a.out, a.outStride, a.outBf16, a.outBf16Stride);
}

static void launch_attention_decode(const AttentionArgs& a, const int* tokenList, int tokenCount, cudaStream_t stream) {
    const int G = a.heads / a.kvHeads;
    dim3 grid(a.splits, a.kvHeads, tokenCount);
    const int smem = attention_decode_smem(G, a.D);
#define DMS_DECODE_CASE(GM)                                                                                        \
    if (G <= GM) {                                                                                                 \
        DMS_LAUNCH(dms_attention_decode_g##GM, grid, DMS_ATT_WARPS * 32, smem, stream, a.q, a.qStride, a.keyCache, \
                   a.valueCache, a.slotPos, a.slotFlag, a.pageTable, a.pageTableLen, a.maxPagesPerHead, a.layers,  \
                   a.layer, a.kvHeads, a.pageSize, a.positions, a.seqOfToken, a.seqRow, a.seqWindow, tokenList,    \
                   a.heads, a.D, a.scale, a.pagesPerSplit, a.splits, a.splitStride, a.out, a.outStride, a.outBf16, \
                   a.outBf16Stride, a.partialO, a.partialML);                                                      \
    } else
    DMS_DECODE_CASE(1)
    DMS_DECODE_CASE(2)
    DMS_DECODE_CASE(4)
    DMS_DECODE_CASE(8) {
    }
#undef DMS_DECODE_CASE
    if (a.splits > 1) {
        launch_attention_merge(a, tokenList, tokenCount, stream);
    }
}

static void launch_attention_decode_tc(const AttentionArgs& a, const int* tokenList, int tokenCount,
                                      cudaStream_t stream) {
    dim3 grid(a.splits, a.kvHeads, tokenCount);
    const int smem = attention_decode_smem(a.heads / a.kvHeads, a.D);
#define DMS_DECODE_TC_CASE(DD)                                                                                      \
    if (a.D == DD) {                                                                                                \
        DMS_LAUNCH(dms_attention_decode_tc_d##DD, grid, DMS_ATT_WARPS * 32, smem, stream, a.q, a.qStride,           \
                   a.keyCache, a.valueCache, a.slotPos, a.slotFlag, a.pageTable, a.pageTableLen, a.maxPagesPerHead, \
                   a.layers, a.layer, a.kvHeads, a.pageSize, a.positions, a.seqOfToken, a.seqRow, a.seqWindow,      \
                   tokenList, a.heads, a.D, a.scale, a.pagesPerSplit, a.splits, a.splitStride, a.out, a.outStride,  \
                   a.outBf16, a.outBf16Stride, a.partialO, a.partialML);                                            \
    }
    DMS_DECODE_TC_CASE(64)
    DMS_DECODE_TC_CASE(128)
#undef DMS_DECODE_TC_CASE
    if (a.splits > 1) {
        launch_attention_merge(a, tokenList, tokenCount, stream);
    }
}

// bf16: the kernels with q and P as one bf16 each (dms_attention_chunk_bf16_d*), else the split ones.
static void launch_attention_chunk(const AttentionArgs& a, const int2* tiles, int tileCount, const int* tokenList,
                                   int tokenCount, bool bf16, cudaStream_t stream) {
    dim3 grid(tileCount, a.kvHeads, a.splits);
    const int smem = attention_chunk_smem(a.D, dms_compute90());
#define DMS_CHUNK_CASE(DD)                                                                                          \
    if (a.D == DD) {                                                                                                \
        const auto kernel = bf16 ? dms_attention_chunk_bf16_d##DD : dms_attention_chunk_d##DD;                     \
        /* two buffers of K/V tiles: past the 48 KB default for D = 128 */                                          \
        cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);                            \
        DMS_LAUNCH(kernel, grid, DMS_ATT_WARPS * 32, smem, stream, a.q, a.qStride, a.keyCache,                     \
                   a.valueCache, a.slotPos, a.slotFlag, a.pageTable, a.pageTableLen, a.maxPagesPerHead, a.layers,   \
                   a.layer, a.kvHeads, a.pageSize, a.positions, a.seqOfToken, a.seqRow, a.seqWindow, tiles, a.heads, \
                   a.scale, a.pagesPerSplit, a.splits, a.splitStride, a.out, a.outStride, a.outBf16,                \
                   a.outBf16Stride, a.partialO, a.partialML);                                                       \
    }
    DMS_CHUNK_CASE(32)
    DMS_CHUNK_CASE(64)
    DMS_CHUNK_CASE(128)
#undef DMS_CHUNK_CASE
    if (a.splits > 1) {
        launch_attention_merge(a, tokenList, tokenCount, stream);
    }
}

// Decode attention for the tokens of tokenList (or tokens 0 .. tokenCount-1), then the merge when split.
extern "C" cudaError_t dms_attention_decode(AttentionArgs args, const int* tokenList, int tokenCount,
                                            cudaStream_t stream) {
    DMS_CHECK(attention_args_ok(args));
    DMS_CHECK(args.heads / args.kvHeads <= 8 && args.D <= 256 && tokenCount > 0 && args.kvHeads <= 65535);
    DMS_CHECK(tokenCount <= 65535);
    launch_attention_decode(args, tokenList, tokenCount, stream);
    return cudaGetLastError();
}

// The same on tensor cores: D 64 or 128, G <= 8, 16-byte aligned caches.
// The balanced grid's most lists a launch (its shared memory holds their page starts).
#define DMS_ATT_TCB_MAX_LISTS 4096

static void launch_attention_decode_tcb(const AttentionArgs& a, const int* tokenList, int tokenCount, int blocks,
                                        cudaStream_t stream) {
    const int smem = attention_decode_tcb_smem(a.heads / a.kvHeads, a.D, tokenCount * a.kvHeads);
#define DMS_DECODE_TCB_CASE(DD)                                                                                    \
    if (a.D == DD) {                                                                                               \
        DMS_LAUNCH(dms_attention_decode_tcb_d##DD, blocks, DMS_ATT_WARPS * 32, smem, stream, a.q, a.qStride,       \
                   a.keyCache, a.valueCache, a.slotPos, a.slotFlag, a.pageTable, a.pageTableLen, a.maxPagesPerHead, \
                   a.layers, a.layer, a.kvHeads, a.pageSize, a.positions, a.seqOfToken, a.seqRow, a.seqWindow,      \
                   tokenList, tokenCount, a.heads, a.scale, a.splitStride, a.partialO, a.partialML);               \
    }
    DMS_DECODE_TCB_CASE(64)
    DMS_DECODE_TCB_CASE(128)
#undef DMS_DECODE_TCB_CASE
    launch_attention_merge(a, tokenList, tokenCount, stream);
}

// Decode attention on tensor cores with `blocks` balanced blocks (dms_attention_decode_tcb_d*) and the merge: args as
// dms_attention_decode_tc, with splits == splitStride >= 2 (the merge reads every slot; pagesPerSplit is unused) and
// splitStride above the parts of the longest list (ceil(longest x blocks / T) + 1, T the lists' pages in all);
// tokenCount x kvHeads <= DMS_ATT_TCB_MAX_LISTS.
static bool attention_tcb_ok(const AttentionArgs& a, int tokenCount, int blocks) {
    return attention_args_ok(a) && a.heads / a.kvHeads <= 8 && (a.D == 64 || a.D == 128) &&
           dms::aligned16(a.keyCache) && dms::aligned16(a.valueCache) && tokenCount > 0 && blocks >= 1 &&
           blocks <= 65535 && static_cast<long long>(tokenCount) * a.kvHeads <= DMS_ATT_TCB_MAX_LISTS &&
           a.splitStride >= 2 && a.splits == a.splitStride && a.partialO != nullptr && a.partialML != nullptr;
}

extern "C" cudaError_t dms_attention_decode_tc_balanced(AttentionArgs args, const int* tokenList, int tokenCount,
                                                        int blocks, cudaStream_t stream) {
    DMS_CHECK(attention_tcb_ok(args, tokenCount, blocks));
    launch_attention_decode_tcb(args, tokenList, tokenCount, blocks, stream);
    return cudaGetLastError();
}

extern "C" cudaError_t dms_attention_decode_tc(AttentionArgs args, const int* tokenList, int tokenCount,
                                               cudaStream_t stream) {
    DMS_CHECK(attention_args_ok(args));
    DMS_CHECK(args.heads / args.kvHeads <= 8 && (args.D == 64 || args.D == 128) && dms::aligned16(args.keyCache) &&
              dms::aligned16(args.valueCache) && tokenCount > 0 && args.kvHeads <= 65535 && tokenCount <= 65535);
    launch_attention_decode_tc(args, tokenList, tokenCount, stream);
    return cudaGetLastError();
}

// What dms_attention_decode_tcq folds in (the kernel's DMS_FOLD_PARAMS).
struct FoldArgs {
    const float* k;
    int kStride;
    const float* v;
    int vStride;
    const bf16_t* qNorm;
    const bf16_t* kNorm;
    const float2* rope;
    int ropePositions;
    float eps;
    int dms;
    double alphaScale;
    double alphaOffset;
    const float* thresholds;
    unsigned char* decisions;
    const int* slots;
    const int* prevSlots;
    int n;
    int S;
};

// Decode attention on tensor cores with the q/k norm, RoPE, decision and KV write folded in (dms_attention_decode_tcq_d*),
// then the merge: args as dms_attention_decode_tc with q the product's raw rows; a decode step (n == S tokens, each of
// its own sequence, tokenList null or a permutation of all of them: the fold writes only the listed tokens' slots);
// f as dms_qknorm_rope_kv.
extern "C" cudaError_t dms_attention_decode_tcq(AttentionArgs a, const int* tokenList, int tokenCount, FoldArgs f,
                                                cudaStream_t stream) {
    DMS_CHECK(attention_args_ok(a));
    DMS_CHECK(a.heads / a.kvHeads <= DMS_ATT_MAX_G && (a.D == 64 || a.D == 128) && dms::aligned16(a.keyCache) &&
              dms::aligned16(a.valueCache) && tokenCount > 0 && a.kvHeads <= 65535 && tokenCount <= 65535);
    DMS_CHECK(f.k != nullptr && f.v != nullptr && f.qNorm != nullptr && f.kNorm != nullptr && f.rope != nullptr &&
              f.ropePositions > 0 && f.slots != nullptr && f.n > 0 && f.n == f.S && tokenCount == f.n);
    DMS_CHECK(f.kStride >= a.kvHeads * a.D && f.vStride >= a.kvHeads * a.D);
    DMS_CHECK(f.dms == 0 || f.decisions == nullptr || f.thresholds != nullptr);
    dim3 grid(a.splits, a.kvHeads, tokenCount);
    const int smem = attention_decode_smem(a.heads / a.kvHeads, a.D);
#define DMS_DECODE_TCQ_CASE(DD)                                                                                     \
    if (a.D == DD) {                                                                                                \
        DMS_LAUNCH(dms_attention_decode_tcq_d##DD, grid, DMS_ATT_WARPS * 32, smem, stream, a.q, a.qStride,          \
                   a.keyCache, a.valueCache, a.slotPos, a.slotFlag, a.pageTable, a.pageTableLen, a.maxPagesPerHead, \
                   a.layers, a.layer, a.kvHeads, a.pageSize, a.positions, a.seqOfToken, a.seqRow, a.seqWindow,      \
                   tokenList, a.heads, a.D, a.scale, a.pagesPerSplit, a.splits, a.splitStride, a.out, a.outStride,  \
                   a.outBf16, a.outBf16Stride, a.partialO, a.partialML, f.k, f.kStride, f.v, f.vStride, f.qNorm,    \
                   f.kNorm, f.rope, f.ropePositions, f.eps, f.dms, f.alphaScale, f.alphaOffset, f.thresholds,       \
                   f.decisions, f.slots, f.prevSlots, f.n, f.S);                                                    \
    }
    DMS_DECODE_TCQ_CASE(64)
    DMS_DECODE_TCQ_CASE(128)
#undef DMS_DECODE_TCQ_CASE
    if (a.splits > 1) {
        launch_attention_merge(a, tokenList, tokenCount, stream);
    }
    return cudaGetLastError();
}

// Chunk attention for query tiles (first token, count <= 64 / G) of one sequence each; tokenList lists
// every token the tiles cover (for the merge when split).
static bool attention_chunk_ok(const AttentionArgs& args, const int2* tiles, int tileCount, const int* tokenList,
                               int tokenCount) {
    return attention_args_ok(args) && tiles != nullptr && tileCount > 0 &&
           (args.D == 32 || args.D == 64 || args.D == 128) && args.heads / args.kvHeads <= DMS_CHUNK_ROWS &&
           args.kvHeads <= 65535 &&
           (args.splits == 1 || (tokenList != nullptr && tokenCount > 0 && tokenCount <= 65535));
}

extern "C" cudaError_t dms_attention_chunk(AttentionArgs args, const int2* tiles, int tileCount, const int* tokenList,
                                           int tokenCount, cudaStream_t stream) {
    DMS_CHECK(attention_chunk_ok(args, tiles, tileCount, tokenList, tokenCount));
    launch_attention_chunk(args, tiles, tileCount, tokenList, tokenCount, false, stream);
    return cudaGetLastError();
}

// dms_attention_chunk on the bf16 kernels (q and P as one bf16 each: for bf16 activations).
extern "C" cudaError_t dms_attention_chunk_bf16(AttentionArgs args, const int2* tiles, int tileCount,
                                                const int* tokenList, int tokenCount, cudaStream_t stream) {
    DMS_CHECK(attention_chunk_ok(args, tiles, tileCount, tokenList, tokenCount));
    launch_attention_chunk(args, tiles, tileCount, tokenList, tokenCount, true, stream);
    return cudaGetLastError();
}
