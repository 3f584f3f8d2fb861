// rmsnorm.cu: the residual add fused with RMSNorm.      Java: RmsNormKernel; CPU: cpu/Ops.rmsNorm
#include "dms.cuh"

// The residual add (xr += dr when dr) and the row's scale 1 / sqrt(mean square + eps), as Ops.rmsNorm: the mean
// square in fp32, the inverse square root in double rounded to fp32. vec: 16-byte accesses. Every thread of the block;
// block_sum's barriers make the row's new values visible to all of them.
DMS_DEVICE float rmsnorm_scale(float* xr, const float* dr, int hidden, float eps, bool vec, float* scratch) {
    float sumSquares = 0.f;
    if (vec) {
        for (int j = 4 * threadIdx.x; j < hidden; j += 4 * blockDim.x) {
            float4 v = *reinterpret_cast<const float4*>(xr + j);
            if (dr != nullptr) {
                float4 d = *reinterpret_cast<const float4*>(dr + j);
                v.x = __fadd_rn(v.x, d.x);
                v.y = __fadd_rn(v.y, d.y);
                v.z = __fadd_rn(v.z, d.z);
                v.w = __fadd_rn(v.w, d.w);
                *reinterpret_cast<float4*>(xr + j) = v;
            }
            sumSquares += v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
        }
    } else {
        for (int j = threadIdx.x; j < hidden; j += blockDim.x) {
            float v = xr[j];
            if (dr != nullptr) {
                v = __fadd_rn(v, dr[j]);
                xr[j] = v;
            }
            sumSquares += v * v;
        }
    }
    sumSquares = dms::block_sum(sumSquares, scratch);
    const float meanSquare = __fadd_rn(__fdiv_rn(sumSquares, static_cast<float>(hidden)), eps);
    return static_cast<float>(1.0 / sqrt(static_cast<double>(meanSquare)));
}

// dms_rmsnorm_f32, for output row i, reading residual row r = rowIndex ? rowIndex[i] : i:
//   if delta:  x[r][:] += delta[r][:]                    (the residual add; written back to x)
//   out[i][j] = weight[j] * (x[r][j] * scale),  scale = 1 / sqrt(sum_j x[r][j]^2 / hidden + eps)
// as Ops.rmsNorm: the mean square in fp32, the inverse square root in double rounded to fp32, the two
// products rounded separately (no fused multiply-add), so only the order of the sum of squares differs.
//   x         fp32 (rows, hidden)   residual stream; rows >= max row read
//   delta     fp32 (rows, hidden)   or null
//   weight    bf16 (hidden)         input_layernorm / post_attention_layernorm / model.norm weight
//   rowIndex  int32 (n)             or null (rows 0..n-1); the final norm passes the last token of each
//                                   sequence here, and only those rows get delta added
//   out       fp32 (n, hidden)      or null
//   outBf16   bf16 (n, hidden)      or null: the same values rounded to bf16, the A operand of the
//                                   tensor-core matmul
// grid (n), block a multiple of 32 up to 1024 (256; 512 below 128 rows); no dynamic shared memory.
// x must not alias out; hidden % 4 == 0 with 16-byte aligned pointers takes 16-byte accesses; any hidden works.
extern "C" __global__ void __launch_bounds__(1024) dms_rmsnorm_f32(float* __restrict__ x, const float* __restrict__ delta,
                                                                   const bf16_t* __restrict__ weight,
                                                                   const int* __restrict__ rowIndex, int n, int hidden,
                                                                   float eps, float* __restrict__ out,
                                                                   bf16_t* __restrict__ outBf16) {
    dms::pdl_begin();
    DMS_SHARED(float, scratch, 32);
    const int i = blockIdx.x;
    if (i >= n) {
        return;
    }
    const int r = rowIndex != nullptr ? rowIndex[i] : i;
    float* xr = x + static_cast<size_t>(r) * hidden;
    const float* dr = delta != nullptr ? delta + static_cast<size_t>(r) * hidden : nullptr;
    float* orow = out != nullptr ? out + static_cast<size_t>(i) * hidden : nullptr;
    bf16_t* brow = outBf16 != nullptr ? outBf16 + static_cast<size_t>(i) * hidden : nullptr;
    const bool vec = (hidden & 3) == 0 && dms::aligned16(x) && dms::aligned16(delta) && dms::aligned16(out) &&
                     dms::aligned16(outBf16) && dms::aligned16(weight);

    const float scale = rmsnorm_scale(xr, dr, hidden, eps, vec, scratch);

    // Each thread reads back only the elements it wrote above, so no barrier is needed for x.
    if (vec) {
        for (int j = 4 * threadIdx.x; j < hidden; j += 4 * blockDim.x) {
            float4 v = *reinterpret_cast<const float4*>(xr + j);
            uint2 wb = *reinterpret_cast<const uint2*>(weight + j);
            float4 o;
            o.x = __fmul_rn(dms::bf16_lo(wb.x), __fmul_rn(v.x, scale));
            o.y = __fmul_rn(dms::bf16_hi(wb.x), __fmul_rn(v.y, scale));
            o.z = __fmul_rn(dms::bf16_lo(wb.y), __fmul_rn(v.z, scale));
            o.w = __fmul_rn(dms::bf16_hi(wb.y), __fmul_rn(v.w, scale));
            if (orow != nullptr) {
                *reinterpret_cast<float4*>(orow + j) = o;
            }
            if (brow != nullptr) {
                *reinterpret_cast<uint2*>(brow + j) = make_uint2(dms::pack_bf16x2(o.x, o.y), dms::pack_bf16x2(o.z, o.w));
            }
        }
    } else {
        for (int j = threadIdx.x; j < hidden; j += blockDim.x) {
            float o = __fmul_rn(dms::bf16_to_f32(weight[j]), __fmul_rn(xr[j], scale));
            if (orow != nullptr) {
                orow[j] = o;
            }
            if (brow != nullptr) {
                brow[j] = dms::f32_to_bf16(o);
            }
        }
    }
}

static int rmsnorm_block(int n, int hidden) {
    // One row per block: fewer rows than a wave (a decode step) get 512 threads to shorten their latency
    // (RmsNormKernel.block, with the measurements).
    int threads = n < 128 ? 512 : 256;
    int useful = ((hidden / 4 + 31) / 32) * 32;
    return max(32, min(threads, useful));
}

static void launch_rmsnorm(float* x, const float* delta, const bf16_t* weight, const int* rowIndex, int n, int hidden,
                           float eps, float* out, bf16_t* outBf16, cudaStream_t stream) {
    DMS_LAUNCH(dms_rmsnorm_f32, n, rmsnorm_block(n, hidden), 0, stream, x, delta, weight, rowIndex, n, hidden, eps, out,
               outBf16);
}

extern "C" cudaError_t dms_rmsnorm(float* x, const float* delta, const bf16_t* weight, const int* rowIndex, int n,
                                   int hidden, float eps, float* out, bf16_t* outBf16, cudaStream_t stream) {
    DMS_CHECK(x != nullptr && weight != nullptr && (out != nullptr || outBf16 != nullptr));
    DMS_CHECK(n > 0 && hidden > 0 && eps >= 0.f);
    DMS_CHECK(out != x);
    launch_rmsnorm(x, delta, weight, rowIndex, n, hidden, eps, out, outBf16, stream);
    return cudaGetLastError();
}

// dms_rmsnorm_image_f32: as dms_rmsnorm_f32 without rowIndex, out[i][:] written not as rows but into the activation
// tile image a bulk-copy product reads (dms.cuh, act_image_at): split (each value its bf16 high part and rest, as
// dms_tile_split_f32 splits the rows) or bf16 (as outBf16, which dms_tile_rows_bf16 would copy): the same bytes as
// those launches make, zeros past n and hidden included, one launch and a pass over the rows fewer before q|k|v and
// gate|up of a prompt chunk. grid (n rounded up to 128: blocks past n write their row's zeros), block as dms_rmsnorm_f32;
// hidden % 8 == 0, image 16-byte aligned.
extern "C" __global__ void __launch_bounds__(1024)
    dms_rmsnorm_image_f32(float* __restrict__ x, const float* __restrict__ delta, const bf16_t* __restrict__ weight,
                          int n, int hidden, float eps, unsigned char* __restrict__ image, int split) {
    dms::pdl_begin();
    DMS_SHARED(float, scratch, 32);
    const int i = blockIdx.x;
    const int kTiles = (hidden + dms::ACT_IMAGE_COLS - 1) / dms::ACT_IMAGE_COLS;
    const int padded = kTiles * dms::ACT_IMAGE_COLS;
    if (i >= n) {
        for (int j = 4 * threadIdx.x; j < padded; j += 4 * blockDim.x) {
            dms::act_image_put4(image, i, j, kTiles, split != 0, 0.f, 0.f, 0.f, 0.f);
        }
        return;
    }
    float* xr = x + static_cast<size_t>(i) * hidden;
    const float* dr = delta != nullptr ? delta + static_cast<size_t>(i) * hidden : nullptr;
    const bool vec = dms::aligned16(x) && dms::aligned16(delta) && dms::aligned16(weight);  // hidden % 8 == 0
    const float scale = rmsnorm_scale(xr, dr, hidden, eps, vec, scratch);
    // As dms_rmsnorm_f32's products, four features a thread (hidden % 8 == 0).
    for (int j = 4 * threadIdx.x; j < padded; j += 4 * blockDim.x) {
        float o[4] = {0.f, 0.f, 0.f, 0.f};
        if (j < hidden && vec) {
            const float4 v = *reinterpret_cast<const float4*>(xr + j);
            const uint2 wb = *reinterpret_cast<const uint2*>(weight + j);
            o[0] = __fmul_rn(dms::bf16_lo(wb.x), __fmul_rn(v.x, scale));
            o[1] = __fmul_rn(dms::bf16_hi(wb.x), __fmul_rn(v.y, scale));
            o[2] = __fmul_rn(dms::bf16_lo(wb.y), __fmul_rn(v.z, scale));
            o[3] = __fmul_rn(dms::bf16_hi(wb.y), __fmul_rn(v.w, scale));
        } else if (j < hidden) {
#pragma unroll
            for (int e = 0; e < 4; e++) {
                o[e] = __fmul_rn(dms::bf16_to_f32(weight[j + e]), __fmul_rn(xr[j + e], scale));
            }
        }
        dms::act_image_put4(image, i, j, kTiles, split != 0, o[0], o[1], o[2], o[3]);
    }
}

extern "C" cudaError_t dms_rmsnorm_image(float* x, const float* delta, const bf16_t* weight, int n, int hidden,
                                         float eps, unsigned char* image, int split, cudaStream_t stream) {
    DMS_CHECK(x != nullptr && weight != nullptr && image != nullptr && dms::aligned16(image));
    DMS_CHECK(n > 0 && hidden >= 8 && hidden % 8 == 0 && (hidden + 63) / 64 <= 65535 && eps >= 0.f);
    DMS_CHECK(n <= 0x7fffffff - 127);
    const int rows = (n + dms::ACT_IMAGE_ROWS - 1) / dms::ACT_IMAGE_ROWS * dms::ACT_IMAGE_ROWS;
    DMS_LAUNCH(dms_rmsnorm_image_f32, rows, rmsnorm_block(n, hidden), 0, stream, x, delta, weight, n, hidden, eps,
               image, split);
    return cudaGetLastError();
}
