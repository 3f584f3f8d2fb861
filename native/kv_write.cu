// kv_write.cu: this step's roped keys and values into their reserved slots.      Java: KvWriteKernel
#include "dms.cuh"

// dms_kv_write_bf16, one warp per (token i, kv head h) of layer `layer`:
//   slot = slots[(layer * kvHeads + h) * n + i]   (skipped when < 0)
//   keyCache[slot][:] = bf16(k[i][h][:]), valueCache[slot][:] = bf16(v[i][h][:])
//   slotPos[slot] = positions[i]
//   slotFlag[slot] = i is not the last token of its sequence in this step ? decisions[i + 1][layer][h] : 0
//   and when i is the first token of sequence s in this step:
//   slotFlag[prevSlots[(layer * kvHeads + h) * S + s]] = decisions[i][layer][h]   (if that slot is >= 0)
// (the decision made at token t flags token t - 1, DESIGN.md §3). Each slot is written by one thread.
//   k, v        fp32, token rows of stride kStride / vStride floats, head h at offset h * D (q|k|v of a
//               fused projection: k = qkv + heads * D, v = k + kvHeads * D, both strides (heads + 2 kvHeads) D)
//   slots       int32 (layers, kvHeads, n)
//   prevSlots   int32 (layers, kvHeads, S) or null: slot of each sequence's token at position first - 1
//   decisions   uint8 (n, layers, kvHeads) or null (a model without DMS: every flag 0)
//   positions, seqOfToken int32 (n); seqFirst, seqLength int32 (S): the step's tokens of sequence s are
//               first .. first + length - 1
//   keyCache, valueCache bf16 [pageCount * pageSize][D]; slotPos int32, slotFlag uint8 [pageCount * pageSize]
// grid (ceil(n * kvHeads / (blockDim.x / 32))), block a multiple of 32 (128); no shared memory.
// D % 8 == 0, strides % 4 == 0 and 16-byte aligned k, v, caches take 16-byte accesses; any even D works.
extern "C" __global__ void dms_kv_write_bf16(const float* __restrict__ k, int kStride, const float* __restrict__ v,
                                        int vStride, const int* __restrict__ slots, const int* __restrict__ prevSlots,
                                        const unsigned char* __restrict__ decisions, const int* __restrict__ positions,
                                        const int* __restrict__ seqOfToken, const int* __restrict__ seqFirst,
                                        const int* __restrict__ seqLength, int n, int S, int layers, int layer,
                                        int kvHeads, int D, bf16_t* __restrict__ keyCache,
                                        bf16_t* __restrict__ valueCache, int* __restrict__ slotPos,
                                        unsigned char* __restrict__ slotFlag) {
    dms::pdl_begin();
    const int lane = threadIdx.x & 31;
    const long long warpIndex = (static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
    if (warpIndex >= static_cast<long long>(n) * kvHeads) {
        return;
    }
    const int i = static_cast<int>(warpIndex / kvHeads);
    const int h = static_cast<int>(warpIndex % kvHeads);
    const int slot = slots[(static_cast<size_t>(layer) * kvHeads + h) * n + i];
    if (slot >= 0) {
        const float* kr = k + static_cast<size_t>(i) * kStride + static_cast<size_t>(h) * D;
        const float* vr = v + static_cast<size_t>(i) * vStride + static_cast<size_t>(h) * D;
        bf16_t* kc = keyCache + static_cast<size_t>(slot) * D;
        bf16_t* vc = valueCache + static_cast<size_t>(slot) * D;
        const bool vec = (D & 7) == 0 && (kStride & 3) == 0 && (vStride & 3) == 0 && dms::aligned16(k) &&
                         dms::aligned16(v) && dms::aligned16(keyCache) && dms::aligned16(valueCache);
        if (vec) {
            for (int c = lane; c < D / 8; c += 32) {
                const float4 k0 = reinterpret_cast<const float4*>(kr + 8 * c)[0];
                const float4 k1 = reinterpret_cast<const float4*>(kr + 8 * c)[1];
                const float4 v0 = reinterpret_cast<const float4*>(vr + 8 * c)[0];
                const float4 v1 = reinterpret_cast<const float4*>(vr + 8 * c)[1];
                reinterpret_cast<uint4*>(kc)[c] = make_uint4(dms::pack_bf16x2(k0.x, k0.y), dms::pack_bf16x2(k0.z, k0.w),
                                                            dms::pack_bf16x2(k1.x, k1.y), dms::pack_bf16x2(k1.z, k1.w));
                reinterpret_cast<uint4*>(vc)[c] = make_uint4(dms::pack_bf16x2(v0.x, v0.y), dms::pack_bf16x2(v0.z, v0.w),
                                                            dms::pack_bf16x2(v1.x, v1.y), dms::pack_bf16x2(v1.z, v1.w));
            }
        } else {
            for (int j = lane; j < D; j += 32) {
                kc[j] = dms::f32_to_bf16(kr[j]);
                vc[j] = dms::f32_to_bf16(vr[j]);
            }
        }
    }
    if (lane == 0) {
        const int s = seqOfToken[i];
        const int first = seqFirst[s];
        const int last = first + seqLength[s] - 1;
        if (slot >= 0) {
            slotPos[slot] = positions[i];
            slotFlag[slot] = (decisions != nullptr && i < last)
                                 ? decisions[(static_cast<size_t>(i + 1) * layers + layer) * kvHeads + h]
                                 : 0;
        }
        if (i == first && prevSlots != nullptr && decisions != nullptr) {
            const int prev = prevSlots[(static_cast<size_t>(layer) * kvHeads + h) * S + s];
            if (prev >= 0) {
                slotFlag[prev] = decisions[(static_cast<size_t>(i) * layers + layer) * kvHeads + h];
            }
        }
    }
}

static void launch_kv_write(const float* k, int kStride, const float* v, int vStride, const int* slots,
                            const int* prevSlots, const unsigned char* decisions, const int* positions,
                            const int* seqOfToken, const int* seqFirst, const int* seqLength, int n, int S, int layers,
                            int layer, int kvHeads, int D, bf16_t* keyCache, bf16_t* valueCache, int* slotPos,
                            unsigned char* slotFlag, cudaStream_t stream) {
    const int block = 128;
    const int grid = dms::ceil_div(static_cast<long long>(n) * kvHeads, block / 32);
    DMS_LAUNCH(dms_kv_write_bf16, grid, block, 0, stream, k, kStride, v, vStride, slots, prevSlots, decisions, positions,
               seqOfToken, seqFirst, seqLength, n, S, layers, layer, kvHeads, D, keyCache, valueCache, slotPos, slotFlag);
}

extern "C" cudaError_t dms_kv_write(const float* k, int kStride, const float* v, int vStride, const int* slots,
                                    const int* prevSlots, const unsigned char* decisions, const int* positions,
                                    const int* seqOfToken, const int* seqFirst, const int* seqLength, int n, int S,
                                    int layers, int layer, int kvHeads, int D, bf16_t* keyCache, bf16_t* valueCache,
                                    int* slotPos, unsigned char* slotFlag, cudaStream_t stream) {
    DMS_CHECK(k != nullptr && v != nullptr && slots != nullptr && positions != nullptr && seqOfToken != nullptr);
    DMS_CHECK(seqFirst != nullptr && seqLength != nullptr && keyCache != nullptr && valueCache != nullptr);
    DMS_CHECK(slotPos != nullptr && slotFlag != nullptr);
    DMS_CHECK(n > 0 && S > 0 && layers > 0 && layer >= 0 && layer < layers && kvHeads > 0 && D > 0 && D % 2 == 0);
    DMS_CHECK(kStride >= kvHeads * D && vStride >= kvHeads * D);
    launch_kv_write(k, kStride, v, vStride, slots, prevSlots, decisions, positions, seqOfToken, seqFirst, seqLength, n,
                    S, layers, layer, kvHeads, D, keyCache, valueCache, slotPos, slotFlag, stream);
    return cudaGetLastError();
}
