// qknorm_rope.cuh: one warp's per-head RMSNorm, DMS decision channel and RoPE (qknorm_rope.cu's arithmetic), shared by
// dms_qknorm_rope(_kv)_f32 and the decode attention that folds them in (attention.cu, dms_attention_decode_tcq_d*),
// so that both give the same bits. Lane `lane` holds pairs (j, j + D/2), j = lane + 32 c, c < DMS_ROPE_PAIRS.
#pragma once
#include "dms.cuh"

// Pairs (j, j + D/2) per lane: D <= 2 * 32 * 8 = 512.
#define DMS_ROPE_PAIRS 8

// What a head's warp needs besides x, none of it written by a launch of the step (so it may be read before the
// programmatic-launch wait): the norm weight of channels j and j + D/2, and the RoPE (cos, sin) of pair j at the
// token's position (NaN outside [0, ropePositions), as Rope gives no row there).
// P pairs a lane (P = DMS_ROPE_PAIRS for any D up to 512; D / 64 for the kernel made for D = 128, whose lanes then
// hold no pair past D / 2: the same values, in registers for the pairs that exist only).
template <int P>
struct QkConstantsP {
    float wa[P];
    float wb[P];
    float2 cs[P];
};
using QkConstants = QkConstantsP<DMS_ROPE_PAIRS>;

template <int P>
DMS_DEVICE void qk_constants(QkConstantsP<P>& k, const bf16_t* __restrict__ weight, const float2* __restrict__ rope,
                             int ropePositions, int position, int D, int lane, bool active) {
    const int half = D / 2;
    const bool inTable = position >= 0 && position < ropePositions;
    const float2* ropeRow = rope + static_cast<size_t>(inTable ? position : 0) * half;
#pragma unroll
    for (int c = 0; c < P; c++) {
        const int j = lane + 32 * c;
        const bool in = active && j < half;
        k.wa[c] = in ? dms::bf16_to_f32(weight[j]) : 0.f;
        k.wb[c] = in ? dms::bf16_to_f32(weight[j + half]) : 0.f;
        k.cs[c] = in && inTable ? ropeRow[j] : make_float2(NAN, NAN);
    }
}

// One head x (D fp32) of the warp: y1[c], y2[c] = channels j and j + D/2 of x / rms(x) * weight, rotated. With
// `decides` (the query head h G of its group under DMS), channel D - 1 before the rotation goes to *lastChannel on
// the lane that holds it (the owner, returned true) and is zeroed before and after the rotation.
// The sum of squares adds a lane's pairs in c order, then the warp's lanes (dms::warp_sum): a pair past D / 2 adds
// +0, which leaves the sum's bits as they are, so P = 2 gives the bits of P = DMS_ROPE_PAIRS at D = 128 (kernel_test
// qknorm_rope_dims; not P = 1 at D = 64 on the H200, whose compiler evaluated that one-term sum otherwise).
template <int P>
DMS_DEVICE bool qk_head(const float* __restrict__ x, const QkConstantsP<P>& k, int D, float eps, bool decides,
                        int lane, float (&y1)[P], float (&y2)[P], float* lastChannel) {
    const int half = D / 2;
    float a[P];  // channel j = lane + 32 c
    float b[P];  // channel j + D/2
    float sumSquares = 0.f;
#pragma unroll
    for (int c = 0; c < P; c++) {
        const int j = lane + 32 * c;
        a[c] = j < half ? x[j] : 0.f;
        b[c] = j < half ? x[j + half] : 0.f;
        sumSquares += a[c] * a[c] + b[c] * b[c];
    }
    sumSquares = dms::warp_sum(sumSquares);
    const float meanSquare = __fadd_rn(__fdiv_rn(sumSquares, static_cast<float>(D)), eps);
    const float scale = static_cast<float>(1.0 / sqrt(static_cast<double>(meanSquare)));
#pragma unroll
    for (int c = 0; c < P; c++) {
        const int j = lane + 32 * c;
        if (j < half) {
            a[c] = __fmul_rn(k.wa[c], __fmul_rn(a[c], scale));
            b[c] = __fmul_rn(k.wb[c], __fmul_rn(b[c], scale));
        }
    }
    // Channel D - 1 is b[c] with j = half - 1: lane (half - 1) % 32, c = (half - 1) / 32.
    const bool owner = decides && lane == (half - 1) % 32;
    const int lastC = (half - 1) / 32;
    if (owner) {
#pragma unroll
        for (int c = 0; c < P; c++) {
            if (c == lastC) {
                *lastChannel = b[c];
                b[c] = 0.f;
            }
        }
    }
#pragma unroll
    for (int c = 0; c < P; c++) {
        const int j = lane + 32 * c;
        if (j < half) {
            const float2 t = k.cs[c];
            y1[c] = __fsub_rn(__fmul_rn(a[c], t.x), __fmul_rn(b[c], t.y));
            y2[c] = __fadd_rn(__fmul_rn(b[c], t.x), __fmul_rn(a[c], t.y));
            if (owner && c == lastC) {
                y2[c] = 0.f;
            }
        } else {
            y1[c] = 0.f;
            y2[c] = 0.f;
        }
    }
    return owner;
}

// The DMS decision of a head's channel D - 1 (DmsRules.decisionLogit against the sequence's threshold).
DMS_DEVICE unsigned char qk_decide(float lastChannel, double alphaScale, double alphaOffset, float threshold) {
    const float logit = static_cast<float>(static_cast<double>(lastChannel) * alphaScale - alphaOffset);
    return logit > threshold ? 1 : 0;
}
