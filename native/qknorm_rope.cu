// qknorm_rope.cu: per-head RMSNorm of q and k, the DMS decision, RoPE.
// Java: QkNormRopeKernel; CPU: CpuBackend.step (q_norm/k_norm, decide, Rope.rotate, zeroDecisionChannel)
#include "qknorm_rope.cuh"

// dms_qknorm_rope_f32, one warp per (token i, head), q heads first then k heads, in place:
//   1. x = x / rms(x) * norm weight (q_norm for q heads, k_norm for k heads), as Ops.rmsNorm
//   2. DMS (dms != 0), query head h*G of each group (G = heads / kvHeads), kv head h:
//        logit = (float)(x[D-1] * alphaScale - alphaOffset)                (DmsRules.decisionLogit)
//        decisions[(i * layers + layer) * kvHeads + h] = logit > thresholds[seqOfToken[i] * layers + layer]
//        x[D-1] = 0
//   3. RoPE, rotate-half: for j < D/2, (c, s) = rope[positions[i]][j]:
//        x[j] = x[j] c - x[j + D/2] s,  x[j + D/2] = x[j + D/2] c + x[j] s      (Rope.rotate)
//   4. DMS: x[D-1] = 0 again in query head h*G.
//   q           fp32, token rows of stride qStride floats, head at offset head * D   (n, heads, D)
//   k           fp32, token rows of stride kStride floats                           (n, kvHeads, D)
//   qNorm, kNorm bf16 (D)
//   rope        float2 (ropePositions, D/2): (cos, sin) of position p * inv_freq[j], computed in double and
//               rounded to fp32, exactly Rope's table (the Java launcher builds it); a position outside
//               [0, ropePositions) gives NaN
//   positions, seqOfToken int32 (n); thresholds fp32 (S, layers): the policy threshold of each sequence
//               (+inf flags nothing); decisions uint8 (n, layers, kvHeads), written for layer `layer` only
// grid (ceil(n * (heads + kvHeads) / (blockDim.x / 32))), block a multiple of 32 (128); D even, D <= 512.
//
// dms_qknorm_rope_kv_f32: the same, and dms_kv_write_bf16's work for a decode step (every sequence feeds one
// token, so a token's own slot flag is 0 and only the previous token's flag comes from this step): the k-head warp
// writes bf16 of its roped k and of v[i][h] into slot slots[(layer kvHeads + h) n + i] (skipped when < 0), the
// slot's position and flag 0; the decision head's owner lane writes its decision into the flag of
// prevSlots[(layer kvHeads + h) S + seqOfToken[i]] (when decisions and prevSlots are given and that slot >= 0).
// The values are those of qknorm_rope then kv_write, bit for bit, in one launch.
//   v (fp32, rows of vStride), slots, prevSlots, keyCache, valueCache, slotPos, slotFlag: as dms_kv_write_bf16.
template <bool KV, int P>
__device__ __forceinline__ void qknorm_rope(float* __restrict__ q, int qStride, float* __restrict__ k, int kStride,
                                            const bf16_t* __restrict__ qNorm, const bf16_t* __restrict__ kNorm,
                                            const float2* __restrict__ rope, int ropePositions,
                                            const int* __restrict__ positions, int n, int heads, int kvHeads, int D,
                                            float eps, int dms, double alphaScale, double alphaOffset,
                                            const int* __restrict__ seqOfToken, const float* __restrict__ thresholds,
                                            int layers, int layer, unsigned char* __restrict__ decisions,
                                            const float* __restrict__ v, int vStride, const int* __restrict__ slots,
                                            const int* __restrict__ prevSlots, int S, bf16_t* __restrict__ keyCache,
                                            bf16_t* __restrict__ valueCache, int* __restrict__ slotPos,
                                            unsigned char* __restrict__ slotFlag) {
    const int lane = threadIdx.x & 31;
    const int perToken = heads + kvHeads;
    const long long warpIndex = (static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x) >> 5;
    const bool active = warpIndex < static_cast<long long>(n) * perToken;
    const int i = active ? static_cast<int>(warpIndex / perToken) : 0;
    const int r = static_cast<int>(warpIndex % perToken);
    const bool isQ = r < heads;
    const int head = isQ ? r : r - heads;
    float* x = isQ ? q + static_cast<size_t>(i) * qStride + static_cast<size_t>(head) * D
                   : k + static_cast<size_t>(i) * kStride + static_cast<size_t>(head) * D;
    const bf16_t* weight = isQ ? qNorm : kNorm;
    const int half = D / 2;
    // Before the wait (dms.cuh): the norm weights, the token's position and its RoPE row, which no launch of the step
    // writes, so that under a programmatic launch their loads overlap the product before (which writes x).
    QkConstantsP<P> constants;
    const int position = active ? positions[i] : 0;
    qk_constants(constants, weight, rope, ropePositions, position, D, lane, active);
    dms::pdl_begin();
    if (!active) {
        return;
    }
    const int group = heads / kvHeads;
    const bool decisionHead = isQ && dms != 0 && head % group == 0;
    float y1[P];
    float y2[P];
    float lastChannel = 0.f;
    const bool owner = qk_head(x, constants, D, eps, decisionHead, lane, y1, y2, &lastChannel);
    if (owner && decisions != nullptr) {
        const unsigned char decision = qk_decide(lastChannel, alphaScale, alphaOffset,
                                                 thresholds[static_cast<size_t>(seqOfToken[i]) * layers + layer]);
        decisions[(static_cast<size_t>(i) * layers + layer) * kvHeads + head / group] = decision;
        if (KV && prevSlots != nullptr) {
            const int prev = prevSlots[(static_cast<size_t>(layer) * kvHeads + head / group) * S + seqOfToken[i]];
            if (prev >= 0) {
                slotFlag[prev] = decision;
            }
        }
    }
    const int slot = KV && !isQ ? slots[(static_cast<size_t>(layer) * kvHeads + head) * n + i] : -1;
    bf16_t* kc = keyCache + static_cast<size_t>(slot < 0 ? 0 : slot) * D;
    bf16_t* vc = valueCache + static_cast<size_t>(slot < 0 ? 0 : slot) * D;
    const float* vr = KV ? v + static_cast<size_t>(i) * vStride + static_cast<size_t>(head) * D : nullptr;

#pragma unroll
    for (int c = 0; c < P; c++) {
        const int j = lane + 32 * c;
        if (j < half) {
            x[j] = y1[c];
            x[j + half] = y2[c];
            if (KV && slot >= 0) {
                kc[j] = dms::f32_to_bf16(y1[c]);
                kc[j + half] = dms::f32_to_bf16(y2[c]);
                vc[j] = dms::f32_to_bf16(vr[j]);
                vc[j + half] = dms::f32_to_bf16(vr[j + half]);
            }
        }
    }
    if (KV && slot >= 0 && lane == 0) {
        slotPos[slot] = position;
        slotFlag[slot] = 0;
    }
}

// The kernels: _d128 for D = 128 alone (Qwen3's head size; two pairs a lane: 40 and 43 registers where the general
// kernel's 8 pairs take 76 and 82, so more warps a multiprocessor hide the loads; 44 us a 2,048-token chunk of
// Qwen3-8B against 75 on the H200), the general one for any even D up to 512; the same bits (qk_head; kernel_test
// qknorm_rope_dims). A _d64 form with one pair a lane gave other bits than the general kernel on the H200 (the
// compiler evaluates its one-term sum of squares otherwise; 2026-12-04), so D = 64 keeps the general kernel. The
// host entries pick by D, as Java's QkNormRopeKernel does; their launchers take byDim false for the general kernel
// alone (kernel_test compares the two bit for bit).
#define DMS_QKNORM_ROPE(SUFFIX, P)                                                                                \
    extern "C" __global__ void dms_qknorm_rope_f32##SUFFIX(                                                       \
        float* __restrict__ q, int qStride, float* __restrict__ k, int kStride, const bf16_t* __restrict__ qNorm, \
        const bf16_t* __restrict__ kNorm, const float2* __restrict__ rope, int ropePositions,                      \
        const int* __restrict__ positions, int n, int heads, int kvHeads, int D, float eps, int dms,               \
        double alphaScale, double alphaOffset, const int* __restrict__ seqOfToken,                                \
        const float* __restrict__ thresholds, int layers, int layer, unsigned char* __restrict__ decisions) {     \
        qknorm_rope<false, P>(q, qStride, k, kStride, qNorm, kNorm, rope, ropePositions, positions, n, heads,    \
                              kvHeads, D, eps, dms, alphaScale, alphaOffset, seqOfToken, thresholds, layers, layer, \
                              decisions, nullptr, 0, nullptr, nullptr, 0, nullptr, nullptr, nullptr, nullptr);     \
    }                                                                                                             \
    extern "C" __global__ void dms_qknorm_rope_kv_f32##SUFFIX(                                                    \
        float* __restrict__ q, int qStride, float* __restrict__ k, int kStride, const bf16_t* __restrict__ qNorm, \
        const bf16_t* __restrict__ kNorm, const float2* __restrict__ rope, int ropePositions,                     \
        const int* __restrict__ positions, int n, int heads, int kvHeads, int D, float eps, int dms,               \
        double alphaScale, double alphaOffset, const int* __restrict__ seqOfToken,                                \
        const float* __restrict__ thresholds, int layers, int layer, unsigned char* __restrict__ decisions,       \
        const float* __restrict__ v, int vStride, const int* __restrict__ slots, const int* __restrict__ prevSlots, \
        int S, bf16_t* __restrict__ keyCache, bf16_t* __restrict__ valueCache, int* __restrict__ slotPos,         \
        unsigned char* __restrict__ slotFlag) {                                                                   \
        qknorm_rope<true, P>(q, qStride, k, kStride, qNorm, kNorm, rope, ropePositions, positions, n, heads,     \
                             kvHeads, D, eps, dms, alphaScale, alphaOffset, seqOfToken, thresholds, layers, layer,  \
                             decisions, v, vStride, slots, prevSlots, S, keyCache, valueCache, slotPos, slotFlag);  \
    }
DMS_QKNORM_ROPE(, DMS_ROPE_PAIRS)
DMS_QKNORM_ROPE(_d128, 2)

// byDim: the kernel made for D (128) where there is one, else always the general one.
static void launch_qknorm_rope(float* q, int qStride, float* k, int kStride, const bf16_t* qNorm, const bf16_t* kNorm,
                               const float2* rope, int ropePositions, const int* positions, int n, int heads,
                               int kvHeads, int D, float eps, int dms, double alphaScale, double alphaOffset,
                               const int* seqOfToken, const float* thresholds, int layers, int layer,
                               unsigned char* decisions, bool byDim, cudaStream_t stream) {
    const int block = 128;
    const int grid = dms::ceil_div(static_cast<long long>(n) * (heads + kvHeads), block / 32);
    const auto kernel = byDim && D == 128 ? dms_qknorm_rope_f32_d128 : dms_qknorm_rope_f32;
    DMS_LAUNCH(kernel, grid, block, 0, stream, q, qStride, k, kStride, qNorm, kNorm, rope, ropePositions,
               positions, n, heads, kvHeads, D, eps, dms, alphaScale, alphaOffset, seqOfToken, thresholds, layers, layer,
               decisions);
}

// The kernel made for D (128) where there is one, as launch_qknorm_rope with byDim.
static void launch_qknorm_rope_kv(float* q, int qStride, float* k, int kStride, const bf16_t* qNorm,
                                  const bf16_t* kNorm, const float2* rope, int ropePositions, const int* positions,
                                  int n, int heads, int kvHeads, int D, float eps, int dms, double alphaScale,
                                  double alphaOffset, const int* seqOfToken, const float* thresholds, int layers,
                                  int layer, unsigned char* decisions, const float* v, int vStride, const int* slots,
                                  const int* prevSlots, int S, bf16_t* keyCache, bf16_t* valueCache, int* slotPos,
                                  unsigned char* slotFlag, cudaStream_t stream) {
    const int block = 128;
    const int grid = dms::ceil_div(static_cast<long long>(n) * (heads + kvHeads), block / 32);
    const auto kernel = D == 128 ? dms_qknorm_rope_kv_f32_d128 : dms_qknorm_rope_kv_f32;
    DMS_LAUNCH(kernel, grid, block, 0, stream, q, qStride, k, kStride, qNorm, kNorm, rope, ropePositions, positions, n,
               heads, kvHeads, D, eps, dms, alphaScale, alphaOffset, seqOfToken, thresholds, layers, layer, decisions,
               v, vStride, slots, prevSlots, S, keyCache, valueCache, slotPos, slotFlag);
}

// A decode step's qknorm_rope and kv_write in one launch: every token is the only one of its sequence in the step
// (the caller's promise; seqOfToken maps token i to its sequence, S of them).
extern "C" cudaError_t dms_qknorm_rope_kv(float* q, int qStride, float* k, int kStride, const bf16_t* qNorm,
                                          const bf16_t* kNorm, const float2* rope, int ropePositions,
                                          const int* positions, int n, int heads, int kvHeads, int D, float eps,
                                          int dms, double alphaScale, double alphaOffset, const int* seqOfToken,
                                          const float* thresholds, int layers, int layer, unsigned char* decisions,
                                          const float* v, int vStride, const int* slots, const int* prevSlots, int S,
                                          bf16_t* keyCache, bf16_t* valueCache, int* slotPos, unsigned char* slotFlag,
                                          cudaStream_t stream) {
    DMS_CHECK(q != nullptr && k != nullptr && qNorm != nullptr && kNorm != nullptr && rope != nullptr);
    DMS_CHECK(positions != nullptr && n > 0 && heads > 0 && kvHeads > 0 && heads % kvHeads == 0);
    DMS_CHECK(D > 0 && D % 2 == 0 && D <= 64 * DMS_ROPE_PAIRS && ropePositions > 0);
    DMS_CHECK(qStride >= heads * D && kStride >= kvHeads * D && vStride >= kvHeads * D);
    DMS_CHECK(dms == 0 || decisions == nullptr || thresholds != nullptr);
    DMS_CHECK(layers > 0 && layer >= 0 && layer < layers && S > 0 && seqOfToken != nullptr);
    DMS_CHECK(v != nullptr && slots != nullptr && keyCache != nullptr && valueCache != nullptr && slotPos != nullptr &&
              slotFlag != nullptr);
    launch_qknorm_rope_kv(q, qStride, k, kStride, qNorm, kNorm, rope, ropePositions, positions, n, heads, kvHeads, D,
                          eps, dms, alphaScale, alphaOffset, seqOfToken, thresholds, layers, layer, decisions, v,
                          vStride, slots, prevSlots, S, keyCache, valueCache, slotPos, slotFlag, stream);
    return cudaGetLastError();
}

extern "C" cudaError_t dms_qknorm_rope(float* q, int qStride, float* k, int kStride, const bf16_t* qNorm,
                                       const bf16_t* kNorm, const float2* rope, int ropePositions, const int* positions,
                                       int n, int heads, int kvHeads, int D, float eps, int dms, double alphaScale,
                                       double alphaOffset, const int* seqOfToken, const float* thresholds, int layers,
                                       int layer, unsigned char* decisions, cudaStream_t stream) {
    DMS_CHECK(q != nullptr && k != nullptr && qNorm != nullptr && kNorm != nullptr && rope != nullptr);
    DMS_CHECK(positions != nullptr && n > 0 && heads > 0 && kvHeads > 0 && heads % kvHeads == 0);
    DMS_CHECK(D > 0 && D % 2 == 0 && D <= 64 * DMS_ROPE_PAIRS && ropePositions > 0);
    DMS_CHECK(qStride >= heads * D && kStride >= kvHeads * D);
    DMS_CHECK(dms == 0 || decisions == nullptr || (seqOfToken != nullptr && thresholds != nullptr));
    DMS_CHECK(layers > 0 && layer >= 0 && layer < layers);
    launch_qknorm_rope(q, qStride, k, kStride, qNorm, kNorm, rope, ropePositions, positions, n, heads, kvHeads, D, eps,
                       dms, alphaScale, alphaOffset, seqOfToken, thresholds, layers, layer, decisions, true, stream);
    return cudaGetLastError();
}
