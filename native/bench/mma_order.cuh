// mma_order.cuh: skinny_bench's kernels for the mma issue order (ORDER = 1 in matmul.cu's matmul_tc and skinny_mma),
// not in the fatbin. Include after matmul.cu.
//
// The production kernels issue a tile's mma back to back into one accumulator: the skinny kernel a0·b0 then a1·b1
// (then, split, the two rests), the tiled split kernel the high part then the rest. Each waits for the one before.
// ORDER = 1 issues every tile's first mma, then every tile's second, ...: the same order within each accumulator, so
// the same bits, with independent mma between dependent ones. Whether ptxas already interleaves them is what the
// bench tells (no disassembler on the build machine).
template <int MT, int NT, bool SPLIT, int ORDER>
__global__ void __launch_bounds__(DMS_SKINNY_WARPS * 32)
    skinny_order(const void* __restrict__ a, int lda, const bf16_t* __restrict__ w, float* __restrict__ c, int ldc,
                 int n, int m, int k, int accumulate) {
    matmul_skinny<MT, NT, true, SPLIT, 2, ORDER>(a, lda, w, c, ldc, n, m, k, accumulate);
}

// The tiled kernel (bf16 or split activations) without split-K: grid (ceil(m / 128), ceil(n / BM)), block 256,
// dynamic smem matmul_smem_bytes(BM, SPLIT).
template <int BM, bool SPLIT, int ORDER>
__global__ void __launch_bounds__(256)
    tiled_order(const void* __restrict__ a, int lda, const bf16_t* __restrict__ w, float* __restrict__ c, int ldc,
                int n, int m, int k, int accumulate) {
    matmul_tc<BM, SPLIT, ORDER>(a, lda, w, c, ldc, n, m, k, accumulate, 0, nullptr);
}
