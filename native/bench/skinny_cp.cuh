// skinny_cp.cuh: an experimental decode-batch product for skinny_bench, not in the fatbin. Include after matmul.cu.
//
// c (n, m) fp32 = a (n, k) bf16 · Wᵀ (or c +=), n <= 16, as dms_matmul_skinny_p_m1_n{NT} but with W staged through
// shared memory by cp.async, STAGES deep, KS k-elements a stage: the W bytes in flight no longer cost registers
// (the register-fed kernel keeps about 32 KB in flight per SM, which at the DRAM latency under load explains its
// 2.2-3.5 TB/s at batch 16; run 2, docs/benchmarks.md). Block: 8 warps, 8 NT features; a stage holds the block's
// rows [col0, col0 + 8 NT) x [k0, k0 + KS), rows padded by 8 bf16. Warp w multiplies chunks w, w + 8, ... of 32 k
// of each stage (the fragment layout and k permutation of the register-fed kernel), then the warps' sums are added
// in warp order (skinny_store). Another summation order than the register-fed kernel: not the same bits.
// grid ceil(m / (8 NT)), block 256, dynamic smem skinny_cp_smem<NT, STAGES, KS>() bytes. k % 32 == 0,
// lda % 8 == 0, a and w 16-byte aligned.
template <int NT, int STAGES, int KS>
__host__ __device__ constexpr int skinny_cp_smem() {
    return STAGES * 8 * NT * (KS + 8) * 2;
}

template <int NT, int STAGES, int KS>
__global__ void __launch_bounds__(256)
    skinny_cp(const bf16_t* __restrict__ a, int lda, const bf16_t* __restrict__ w, float* __restrict__ c, int ldc, int n,
              int m, int k, int accumulate) {
    static_assert(KS % 256 == 0 && STAGES >= 2, "a stage gives every warp whole chunks of 32");
    constexpr int F = 8 * NT;
    constexpr int LDS = KS + 8;
    DMS_DYNAMIC_SMEM(raw);
    bf16_t* stages = reinterpret_cast<bf16_t*>(raw);  // (STAGES, F, LDS)
    DMS_SHARED(float, red, 8 * NT * 4 * 32);
    const int tid = threadIdx.x;
    const int lane = tid & 31;
    const int warp = tid >> 5;
    const int g = lane >> 2;
    const int q = lane & 3;
    const int col0 = blockIdx.x * F;
    const int stageCount = (k + KS - 1) / KS;

    auto load = [&](int st) {
        bf16_t* buf = stages + (st % STAGES) * F * LDS;
        const int k0 = st * KS;
        for (int p = tid; p < F * (KS / 8); p += 256) {
            const int r = p / (KS / 8);
            const int piece = p % (KS / 8);
            const int row = min(col0 + r, m - 1);  // a row past m is read, never stored
            const int kk = k0 + 8 * piece;
            const bool valid = kk < k;
            dms::cp_async16(buf + r * LDS + 8 * piece, w + static_cast<size_t>(row) * k + (valid ? kk : 0), valid);
        }
    };
    for (int st = 0; st < STAGES - 1; st++) {
        if (st < stageCount) {
            load(st);
        }
        dms::cp_async_commit();
    }
    float acc[1][NT][4];
#pragma unroll
    for (int j = 0; j < NT; j++) {
#pragma unroll
        for (int e = 0; e < 4; e++) {
            acc[0][j][e] = 0.f;
        }
    }
    for (int st = 0; st < stageCount; st++) {
        dms::cp_async_wait<STAGES - 2>();
        __syncthreads();  // stage st is in; every warp is done with the buffer the next load takes
        if (st + STAGES - 1 < stageCount) {
            load(st + STAGES - 1);
        }
        dms::cp_async_commit();
        const bf16_t* buf = stages + (st % STAGES) * F * LDS;
        const int k0 = st * KS;
#pragma unroll
        for (int ch = warp; ch < KS / 32; ch += 8) {
            const int kc = k0 + 32 * ch;
            if (kc >= k) {
                break;  // uniform across the warp
            }
            const uint4 lo = g < n ? dms::load16_ro(a + static_cast<size_t>(g) * lda + kc + 8 * q) : make_uint4(0, 0, 0, 0);
            const uint4 hi = g + 8 < n ? dms::load16_ro(a + static_cast<size_t>(g + 8) * lda + kc + 8 * q)
                                       : make_uint4(0, 0, 0, 0);
            const uint32_t a0[4] = {lo.x, hi.x, lo.y, hi.y};
            const uint32_t a1[4] = {lo.z, hi.z, lo.w, hi.w};
#pragma unroll
            for (int j = 0; j < NT; j++) {
                const uint4 wv = *reinterpret_cast<const uint4*>(buf + (8 * j + g) * LDS + 32 * ch + 8 * q);
                const uint32_t b0[2] = {wv.x, wv.y};
                const uint32_t b1[2] = {wv.z, wv.w};
                dms::mma_bf16_16816(acc[0][j], a0, b0);
                dms::mma_bf16_16816(acc[0][j], a1, b1);
            }
        }
    }
    dms::cp_async_wait<0>();
    skinny_store<1, NT>(acc, red, c, ldc, n, m, col0, accumulate, warp, lane);
}
