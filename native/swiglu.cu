// swiglu.cu: the MLP's gated activation.      Java: SwiGluKernel; CPU: cpu/Ops.swiglu
#include "dms.cuh"

// dms_swiglu_f32: out[t][j] = silu(gate[t][j]) * up[t][j], silu(g) = g / (1 + e^-g) computed in double and
// rounded to fp32 before the product, exactly as Ops.swiglu.
//   gate     fp32 (n, inter), row stride ldGate   (gate_proj output, w1)
//   up       fp32 (n, inter), row stride ldUp     (up_proj output, w3); gate and up may be the two halves of
//            one fused (n, 2*inter) product: up = gate + inter, ldGate = ldUp = 2*inter
//   out      fp32 (n, inter), row stride ldOut, or null; may be gate itself (in place)
//   outBf16  bf16 (n, inter), row stride ldOutBf16, or null: the A operand of the down_proj (w2) matmul
// grid (ceil(inter / (4 * blockDim.x)), min(n, 65535)), block a multiple of 32 (256); no shared memory. Thread x of
// block (bx, by) takes features j = 4 (bx blockDim.x + x) .. + 3 of tokens by, by + gridDim.y, ...: one 16-byte load
// of gate and of up and one 16-byte store when every row of the operands starts 16-byte aligned (8-byte for
// outBf16), element by element otherwise. The row from the grid, not from a 64-bit division of a flat index (a
// 4K prompt's 72 launches took 10.7 ms, about twice their bytes' time: twenty-third and twenty-ninth passes).
// silu(gate[e]) * up[e] for e < count into s (zeros past count); vec: 16-byte loads.
DMS_DEVICE void swiglu4_values(const float* gate, const float* up, int count, bool vec, float (&s)[4]) {
    float g[4];
    float u[4];
    if (vec) {
        const float4 g4 = *reinterpret_cast<const float4*>(gate);
        const float4 u4 = *reinterpret_cast<const float4*>(up);
        g[0] = g4.x, g[1] = g4.y, g[2] = g4.z, g[3] = g4.w;
        u[0] = u4.x, u[1] = u4.y, u[2] = u4.z, u[3] = u4.w;
    } else {
        for (int e = 0; e < count; e++) {
            g[e] = gate[e];
            u[e] = up[e];
        }
    }
#pragma unroll
    for (int e = 0; e < 4; e++) {
        s[e] = e < count ? dms::silu_mul(g[e], u[e]) : 0.f;
    }
}

DMS_DEVICE void swiglu4(const float* gate, const float* up, float* out, bf16_t* outBf16, int count, bool vec) {
    float s[4];
    swiglu4_values(gate, up, count, vec, s);
    if (out != nullptr) {
        if (vec) {
            *reinterpret_cast<float4*>(out) = make_float4(s[0], s[1], s[2], s[3]);
        } else {
            for (int e = 0; e < count; e++) {
                out[e] = s[e];
            }
        }
    }
    if (outBf16 != nullptr) {
        if (vec) {
            *reinterpret_cast<uint2*>(outBf16) = make_uint2(dms::pack_bf16x2(s[0], s[1]), dms::pack_bf16x2(s[2], s[3]));
        } else {
            for (int e = 0; e < count; e++) {
                outBf16[e] = dms::f32_to_bf16(s[e]);
            }
        }
    }
}

extern "C" __global__ void dms_swiglu_f32(const float* gate, int ldGate, const float* up, int ldUp, float* out, int ldOut,
                                          bf16_t* __restrict__ outBf16, int ldOutBf16, int n, int inter) {
    dms::pdl_begin();
    const int j = 4 * (blockIdx.x * blockDim.x + threadIdx.x);
    if (j >= inter) {
        return;
    }
    const int count = min(4, inter - j);
    // Every row's j-th element 16-byte aligned (8-byte for bf16), and four features left.
    const bool vec = count == 4 && dms::aligned16(gate) && dms::aligned16(up) && (ldGate & 3) == 0 && (ldUp & 3) == 0 &&
                     (out == nullptr || (dms::aligned16(out) && (ldOut & 3) == 0)) &&
                     (outBf16 == nullptr || ((reinterpret_cast<uintptr_t>(outBf16) & 7) == 0 && (ldOutBf16 & 3) == 0));
    for (int t = blockIdx.y; t < n; t += gridDim.y) {
        swiglu4(gate + static_cast<size_t>(t) * ldGate + j, up + static_cast<size_t>(t) * ldUp + j,
                out != nullptr ? out + static_cast<size_t>(t) * ldOut + j : nullptr,
                outBf16 != nullptr ? outBf16 + static_cast<size_t>(t) * ldOutBf16 + j : nullptr, count, vec);
    }
}

static void launch_swiglu(const float* gate, int ldGate, const float* up, int ldUp, float* out, int ldOut,
                          bf16_t* outBf16, int ldOutBf16, int n, int inter, cudaStream_t stream) {
    const int block = 256;
    const dim3 grid(dms::ceil_div(inter, 4 * block), min(n, 65535));
    DMS_LAUNCH(dms_swiglu_f32, grid, block, 0, stream, gate, ldGate, up, ldUp, out, ldOut, outBf16, ldOutBf16, n,
               inter);
}

extern "C" cudaError_t dms_swiglu(const float* gate, int ldGate, const float* up, int ldUp, float* out, int ldOut,
                                  bf16_t* outBf16, int ldOutBf16, int n, int inter, cudaStream_t stream) {
    DMS_CHECK(gate != nullptr && up != nullptr && (out != nullptr || outBf16 != nullptr));
    DMS_CHECK(n > 0 && inter > 0 && ldGate >= inter && ldUp >= inter);
    DMS_CHECK(out == nullptr || ldOut >= inter);
    DMS_CHECK(outBf16 == nullptr || ldOutBf16 >= inter);
    DMS_CHECK(static_cast<long long>(n) * inter < (1ll << 31) * 256);
    launch_swiglu(gate, ldGate, up, ldUp, out, ldOut, outBf16, ldOutBf16, n, inter, stream);
    return cudaGetLastError();
}

// dms_swiglu_image_f32: the same values written not as rows but into the activation tile image the bulk-copy down
// product reads (dms.cuh, act_image_at), split (as dms_tile_split_f32 splits rows) or bf16 (as outBf16): the same bytes
// as those launches make, zeros past n (to a multiple of 128 rows) and past inter (to a multiple of 64) included: one
// launch and a pass over h fewer a prompt chunk's layer. grid (ceil(inter rounded up to 64 / (4 blockDim.x)),
// min(n rounded up to 128, 65535)), block as dms_swiglu_f32; inter % 8 == 0, image 16-byte aligned.
extern "C" __global__ void dms_swiglu_image_f32(const float* gate, int ldGate, const float* up, int ldUp, int n,
                                                int inter, unsigned char* __restrict__ image, int split) {
    dms::pdl_begin();
    const int kTiles = (inter + dms::ACT_IMAGE_COLS - 1) / dms::ACT_IMAGE_COLS;
    const int j = 4 * (blockIdx.x * blockDim.x + threadIdx.x);
    if (j >= kTiles * dms::ACT_IMAGE_COLS) {
        return;
    }
    const int count = j < inter ? 4 : 0;  // inter % 8 == 0: a group of four is all in or all out
    const bool vec = dms::aligned16(gate) && dms::aligned16(up) && (ldGate & 3) == 0 && (ldUp & 3) == 0;
    const int rows = (n + dms::ACT_IMAGE_ROWS - 1) / dms::ACT_IMAGE_ROWS * dms::ACT_IMAGE_ROWS;
    for (int t = blockIdx.y; t < rows; t += gridDim.y) {
        float s[4] = {0.f, 0.f, 0.f, 0.f};
        if (t < n && count > 0) {
            swiglu4_values(gate + static_cast<size_t>(t) * ldGate + j, up + static_cast<size_t>(t) * ldUp + j, count,
                           vec, s);
        }
        dms::act_image_put4(image, t, j, kTiles, split != 0, s[0], s[1], s[2], s[3]);
    }
}

extern "C" cudaError_t dms_swiglu_image(const float* gate, int ldGate, const float* up, int ldUp, int n, int inter,
                                        unsigned char* image, int split, cudaStream_t stream) {
    DMS_CHECK(gate != nullptr && up != nullptr && image != nullptr && dms::aligned16(image));
    DMS_CHECK(n > 0 && n <= 0x7fffffff - 127 && inter >= 8 && inter % 8 == 0 && (inter + 63) / 64 <= 65535);
    DMS_CHECK(ldGate >= inter && ldUp >= inter);
    const int block = 256;
    const int rows = (n + dms::ACT_IMAGE_ROWS - 1) / dms::ACT_IMAGE_ROWS * dms::ACT_IMAGE_ROWS;
    const int padded = (inter + dms::ACT_IMAGE_COLS - 1) / dms::ACT_IMAGE_COLS * dms::ACT_IMAGE_COLS;
    const dim3 grid(dms::ceil_div(padded, 4 * block), min(rows, 65535));
    DMS_LAUNCH(dms_swiglu_image_f32, grid, block, 0, stream, gate, ldGate, up, ldUp, n, inter, image, split);
    return cudaGetLastError();
}
