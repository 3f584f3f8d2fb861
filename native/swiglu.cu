// swiglu.cu: the MLP's gated activation.      Java: SwiGluKernel; CPU: cpu/Ops.swiglu
#include "dms.cuh"

// dms_swiglu_f32: out[t][j] = silu(gate[t][j]) * up[t][j], silu(g) = g / (1 + e^-g) computed in double and
// rounded to fp32 before the product, exactly as Ops.swiglu.
//   gate     fp32 (n, inter), row stride ldGate   (gate_proj output, w1)
//   up       fp32 (n, inter), row stride ldUp     (up_proj output, w3); gate and up may be the two halves of
//            one fused (n, 2*inter) product: up = gate + inter, ldGate = ldUp = 2*inter
//   out      fp32 (n, inter), row stride ldOut, or null; may be gate itself (in place)
//   outBf16  bf16 (n, inter), row stride ldOutBf16, or null: the A operand of the down_proj (w2) matmul
// grid (ceil(n * inter / blockDim.x)), block a multiple of 32 (256); elementwise, no shared memory.
extern "C" __global__ void dms_swiglu_f32(const float* gate, int ldGate, const float* up, int ldUp, float* out, int ldOut,
                                          bf16_t* __restrict__ outBf16, int ldOutBf16, int n, int inter) {
    dms::pdl_begin();
    const long long index = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
    if (index >= static_cast<long long>(n) * inter) {
        return;
    }
    const int t = static_cast<int>(index / inter);
    const int j = static_cast<int>(index % inter);
    const float g = gate[static_cast<size_t>(t) * ldGate + j];
    const float u = up[static_cast<size_t>(t) * ldUp + j];
    const float s = dms::silu_mul(g, u);
    if (out != nullptr) {
        out[static_cast<size_t>(t) * ldOut + j] = s;
    }
    if (outBf16 != nullptr) {
        outBf16[static_cast<size_t>(t) * ldOutBf16 + j] = dms::f32_to_bf16(s);
    }
}

static void launch_swiglu(const float* gate, int ldGate, const float* up, int ldUp, float* out, int ldOut,
                          bf16_t* outBf16, int ldOutBf16, int n, int inter, cudaStream_t stream) {
    const int block = 256;
    DMS_LAUNCH(dms_swiglu_f32, dms::ceil_div(static_cast<long long>(n) * inter, block), block, 0, stream, gate, ldGate,
               up, ldUp, out, ldOut, outBf16, ldOutBf16, n, inter);
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
