// embedding.cu: token ids -> rows of the residual stream.      Java: EmbeddingKernel
#include "dms.cuh"

// dms_embedding_bf16: x[i][:] = embedding[tokens[i]][:] widened to fp32 (exact).
//   embedding  bf16  (vocab, hidden)   model.embed_tokens.weight
//   tokens     int32 (n)
//   x          fp32  (n, hidden)       written
// grid (n, ceil(hidden / (8 * blockDim.x))), block a multiple of 32 (256); no shared memory.
// hidden % 8 == 0 with 16-byte aligned embedding and x takes 16-byte loads; any hidden works.
// A token id outside [0, vocab) writes a row of NaN (the host checks ids; this keeps a bad id from
// reading outside the table and makes it visible).
extern "C" __global__ void dms_embedding_bf16(const bf16_t* __restrict__ embedding, const int* __restrict__ tokens,
                                              int n, int hidden, int vocab, float* __restrict__ x) {
    dms::pdl_begin();
    const int i = blockIdx.x;
    if (i >= n) {
        return;
    }
    const int token = tokens[i];
    const bool valid = token >= 0 && token < vocab;
    const bf16_t* row = embedding + static_cast<size_t>(valid ? token : 0) * hidden;
    float* out = x + static_cast<size_t>(i) * hidden;
    const int span = 8 * blockDim.x;  // elements per block along the row
    const bool vec = (hidden & 7) == 0 && dms::aligned16(embedding) && dms::aligned16(x);
    if (vec) {
        const int j = blockIdx.y * span + 8 * threadIdx.x;
        if (j < hidden) {
            float v[8];
            if (valid) {
                dms::unpack_bf16x8(dms::load16_ro(row + j), v);
            } else {
#pragma unroll
                for (int e = 0; e < 8; e++) {
                    v[e] = NAN;
                }
            }
            reinterpret_cast<float4*>(out + j)[0] = make_float4(v[0], v[1], v[2], v[3]);
            reinterpret_cast<float4*>(out + j)[1] = make_float4(v[4], v[5], v[6], v[7]);
        }
    } else {
        const int end = min(hidden, static_cast<int>((blockIdx.y + 1) * span));
        for (int j = blockIdx.y * span + threadIdx.x; j < end; j += blockDim.x) {
            out[j] = valid ? dms::bf16_to_f32(row[j]) : NAN;
        }
    }
}

static void launch_embedding(const bf16_t* embedding, const int* tokens, int n, int hidden, int vocab, float* x,
                             cudaStream_t stream) {
    const int block = 256;
    dim3 grid(n, dms::ceil_div(hidden, 8 * block));
    DMS_LAUNCH(dms_embedding_bf16, grid, block, 0, stream, embedding, tokens, n, hidden, vocab, x);
}

extern "C" cudaError_t dms_embedding(const bf16_t* embedding, const int* tokens, int n, int hidden, int vocab,
                                     float* x, cudaStream_t stream) {
    DMS_CHECK(embedding != nullptr && tokens != nullptr && x != nullptr);
    DMS_CHECK(n > 0 && hidden > 0 && vocab > 0);
    launch_embedding(embedding, tokens, n, hidden, vocab, x, stream);
    return cudaGetLastError();
}
