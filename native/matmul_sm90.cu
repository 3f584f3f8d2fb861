// matmul_sm90.cu: the large products (prefill) on Hopper's warpgroup tensor cores: wgmma.mma_async (sm_90a).
// Java: MatMulKernel (the wgmma kernels when the device is compute 9.0 and the tiles fill it, or from 33 tokens with k
// split); CPU: cpu/MatMul.
//
// C (n, m) fp32 = A (n, k) · W (m, k)ᵀ, or C += when accumulate, as dms_matmul_* of matmul.cu computes it:
//   dms_matmul_wg_bf16_n{128,256}   a bf16 (n, k): the activations rounded to bf16 (dense checkpoints)
//   dms_matmul_wg_split_n{128,256}  a fp32 (n, k): each value a bf16 high part and its bf16 rest (dms::split_bf16x2),
//                                   two wgmma per k step, the fp32 activations to about 2^-17 (DMS checkpoints)
//   w bf16 (m, k), rows of k; c fp32 (n, m), rows of ldc.
// Block tile 128 tokens x BN features x 64 k, 256 threads = 2 warpgroups, warpgroup g the tokens [64 g, 64 g + 64)
// of the tile, accumulators in registers (BN / 2 fp32 a thread). Each k step of 16 is one wgmma m64nBNk16 whose A and
// B come from shared memory through matrix descriptors (no ldmatrix, no register fragments): the tiles are stored in
// the 128-byte swizzle the descriptor names (a row of 64 bf16 = 128 bytes; its 16-byte chunk c at chunk c ^ (row % 8)
// within each 1024-byte group of 8 rows), so the tensor cores read them without bank conflicts.
// Pipeline (no warp specialisation, every thread loads and multiplies): STAGES shared-memory stages, tiles loaded
// STAGES - 2 ahead by cp.async (zero-filled past n, m and k); bf16: issued after the step's wgmma, split: before.
// A stage is reused only after the wgmma groups that read
// it have completed: each warpgroup waits for its group kt - 1 once group kt is issued (wgmma.wait_group 1), and the
// barrier at the top of step kt + 1 orders that wait of both warpgroups before the loads into stage (kt - 1) % STAGES.
// cp.async writes through the generic proxy, wgmma reads through the async proxy: each thread fences
// (fence.proxy.async) after its copies have landed, before the barrier.
// Split: the fp32 A tile of step kt + 1 is read into registers (8 float4 a thread) before the wgmma of step kt are
// issued, then converted into a high tile and a rest tile of stage (kt + 1) % STAGES while they run.
// Raster: block b of the 1-D grid takes its tile down groups of DMS_WG_GROUP token tiles before moving to the next
// feature tile (Triton's grouped order), so a wave of blocks covers about 8 x 16 tiles and reads each W tile from
// memory once for 8 token tiles, the rest from L2: row-major order walked all of a wide W (gate_up: 200 MB, four times
// the L2) once per token tile.
// grid (ceil(n / 128) * ceil(m / BN), splits), block 256, dynamic shared memory matmul_wg_smem_bytes(BN, split) (a 1024-byte
// aligned base is carved out of it). k % 8 == 0, lda % 8 == 0, 16-byte aligned a and w (the launcher checks; Java
// takes matmul.cu's kernels otherwise).
// Split-K (decode batches of 33 tokens and more and prompt chunks, whose tiles do not fill the device:
// 128 tokens x 4096 features is 32 tiles for 132 multiprocessors): grid (tiles, splits); with partial != null, block
// (b, z) sums only the k tiles [z kTilesPerSplit, (z + 1) kTilesPerSplit) and stores its fp32 sums to partial (splits,
// n, m) (accumulate unread), and dms_matmul_reduce (matmul.cu) adds the splits in order: deterministic, as the mma.sync
// kernels' split-K. With partial == null, kTilesPerSplit is unread and the block sums every k tile.
// Other architectures: the kernels exist (sm_80 and PTX builds of the fatbin) but trap; Java never launches them
// there.
#include "dms.cuh"

#define DMS_WG_BM 128
#define DMS_WG_BK 64
#define DMS_WG_GROUP 8

__host__ __device__ constexpr int matmul_wg_stages(int bn, bool split) {
    return split ? (bn == 256 ? 3 : 4) : 4;
}

// Bytes of one stage: the A tile (a bf16 tile, or a high tile and a rest tile), then the W tile; 128-byte rows.
__host__ __device__ constexpr int matmul_wg_stage_bytes(int bn, bool split) {
    return (split ? 2 : 1) * DMS_WG_BM * DMS_WG_BK * 2 + bn * DMS_WG_BK * 2;
}

__host__ __device__ constexpr int matmul_wg_smem_bytes(int bn, bool split) {
    return matmul_wg_stages(bn, split) * matmul_wg_stage_bytes(bn, split) + 1024;  // + the alignment slack
}

// MatMulKernel.wgSharedBytes mirrors these (CudaAvailabilityTest checks the Java side).
static_assert(matmul_wg_smem_bytes(256, false) == 197632 && matmul_wg_smem_bytes(128, false) == 132096, "bf16");
static_assert(matmul_wg_smem_bytes(256, true) == 197632 && matmul_wg_smem_bytes(128, true) == 197632, "split");

#if defined(DMS_EMU) || !defined(__CUDA_ARCH__) || defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define DMS_WGMMA 1
#endif

namespace dms {

// Shared-memory matrix descriptor of a K-major tile in the 128-byte swizzle: start address, leading byte offset 16
// (unused by this layout), stride byte offset 1024 (from one group of 8 rows to the next), layout 1 = SWIZZLE_128B.
DMS_DEVICE uint64_t wgmma_desc(uint32_t smemAddress) {
    return static_cast<uint64_t>((smemAddress & 0x3ffff) >> 4) | (static_cast<uint64_t>(16 >> 4) << 16) |
           (static_cast<uint64_t>(1024 >> 4) << 32) | (static_cast<uint64_t>(1) << 62);
}

#ifndef DMS_EMU
DMS_DEVICE void fence_proxy_async() {
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
}
DMS_DEVICE void wgmma_fence() {
    asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
}
DMS_DEVICE void wgmma_commit() {
    asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
}
template <int N>
DMS_DEVICE void wgmma_wait() {
    asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
}
// Keeps the compiler from moving reads or writes of an accumulator across a wgmma fence or wait.
DMS_DEVICE void wgmma_hold(float& r) {
    asm volatile("" : "+f"(r)::"memory");
}

#if defined(DMS_WGMMA)
// D (64 x N fp32, the warpgroup's fragments) += A (64 x 16 bf16, descA) · B (N x 16 bf16, descB)ᵀ.
DMS_DEVICE void wgmma_m64n16k16(float (&d)[8], uint64_t descA, uint64_t descB) {
    asm volatile(
        "{\n.reg .pred p;\n"
        "setp.ne.b32 p, %10, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n16k16.f32.bf16.bf16 "
        "{%0, %1, %2, %3, %4, %5, %6, %7}, %8, %9, p, 1, 1, 0, 0;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7])
        : "l"(descA), "l"(descB), "r"(1));
}

DMS_DEVICE void wgmma_m64n32k16(float (&d)[16], uint64_t descA, uint64_t descB) {
    asm volatile(
        "{\n.reg .pred p;\n"
        "setp.ne.b32 p, %18, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n32k16.f32.bf16.bf16 "
        "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15}, %16, %17, p, 1, 1, 0, 0;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
          "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15])
        : "l"(descA), "l"(descB), "r"(1));
}

DMS_DEVICE void wgmma_m64n128k16(float (&d)[64], uint64_t descA, uint64_t descB) {
    asm volatile(
        "{\n.reg .pred p;\n"
        "setp.ne.b32 p, %66, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 "
        "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
        "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
        "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
        "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, "
        "%64, %65, p, 1, 1, 0, 0;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
          "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
          "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
          "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
          "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
          "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
          "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
        : "l"(descA), "l"(descB), "r"(1));
}

DMS_DEVICE void wgmma_m64n256k16(float (&d)[128], uint64_t descA, uint64_t descB) {
    asm volatile(
        "{\n.reg .pred p;\n"
        "setp.ne.b32 p, %130, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16 "
        "{%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, "
        "%16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, "
        "%32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
        "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63, "
        "%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, "
        "%80, %81, %82, %83, %84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, "
        "%96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, %108, %109, %110, %111, "
        "%112, %113, %114, %115, %116, %117, %118, %119, %120, %121, %122, %123, %124, %125, %126, %127}, "
        "%128, %129, p, 1, 1, 0, 0;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]),
          "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]),
          "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]),
          "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]),
          "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
          "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]),
          "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]),
          "+f"(d[64]), "+f"(d[65]), "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]),
          "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]), "+f"(d[78]), "+f"(d[79]),
          "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]), "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]),
          "+f"(d[88]), "+f"(d[89]), "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]),
          "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]), "+f"(d[102]), "+f"(d[103]),
          "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]), "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]),
          "+f"(d[112]), "+f"(d[113]), "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]),
          "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]), "+f"(d[126]), "+f"(d[127])
        : "l"(descA), "l"(descB), "r"(1));
}
#endif

#else

DMS_DEVICE void fence_proxy_async() {
    emu::fence_proxy_async();
}
DMS_DEVICE void wgmma_fence() {
}
DMS_DEVICE void wgmma_commit() {
    emu::wgmma_commit();
}
template <int N>
DMS_DEVICE void wgmma_wait() {
    emu::wgmma_wait(N);
}
DMS_DEVICE void wgmma_hold(float&) {
}
template <int R>
DMS_DEVICE void wgmma_m64k16(float (&d)[R], uint64_t descA, uint64_t descB) {
    emu::wgmma(d, 2 * R, descA, descB);
}
DMS_DEVICE void wgmma_m64n16k16(float (&d)[8], uint64_t descA, uint64_t descB) {
    wgmma_m64k16(d, descA, descB);
}
DMS_DEVICE void wgmma_m64n32k16(float (&d)[16], uint64_t descA, uint64_t descB) {
    wgmma_m64k16(d, descA, descB);
}
DMS_DEVICE void wgmma_m64n128k16(float (&d)[64], uint64_t descA, uint64_t descB) {
    wgmma_m64k16(d, descA, descB);
}
DMS_DEVICE void wgmma_m64n256k16(float (&d)[128], uint64_t descA, uint64_t descB) {
    wgmma_m64k16(d, descA, descB);
}

#endif

// mbarriers in shared memory (the warp-specialised kernels' stage hand-offs): init by one thread before a barrier;
// arrive has release semantics, a completed wait acquire semantics (CTA scope), so what a thread wrote before its
// arrive is visible to a thread whose wait that arrive completed.
#ifndef DMS_EMU
DMS_DEVICE void mbarrier_init(void* bar, int count) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(smem_addr(bar)), "r"(count) : "memory");
}
DMS_DEVICE void mbarrier_init_fence() {
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
}
DMS_DEVICE void mbarrier_arrive(void* bar) {
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(smem_addr(bar)) : "memory");
}
// Returns once the phase of this parity has completed (a fresh barrier: parity 1 at once, parity 0 after the first).
DMS_DEVICE void mbarrier_wait(void* bar, int parity) {
    asm volatile(
        "{\n.reg .pred done;\n"
        "WAIT_%=:\n"
        "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
        "@!done bra WAIT_%=;\n}\n" ::"r"(smem_addr(bar)),
        "r"(parity)
        : "memory");
}
#else
DMS_DEVICE void mbarrier_init(void* bar, int count) {
    emu::mbarrier_init(bar, count);
}
DMS_DEVICE void mbarrier_init_fence() {
}
DMS_DEVICE void mbarrier_arrive(void* bar) {
    emu::mbarrier_arrive(bar);
}
DMS_DEVICE void mbarrier_wait(void* bar, int parity) {
    emu::mbarrier_wait(bar, parity);
}
#endif

}  // namespace dms

// Byte offset of 16-byte chunk `chunk` (0..7) of row `row` in a 128-byte-swizzled tile with a 1024-aligned base.
DMS_DEVICE int wg_swizzle(int row, int chunk) {
    return row * 128 + ((chunk ^ (row & 7)) << 4);
}

// rows x 64 bf16 of src (rows from row0, k from k0; zeros past `limit` rows and past k) into a swizzled tile.
// THREADS threads share the copies, t this one's index among them.
template <int THREADS = 256>
DMS_DEVICE void wg_load_bf16(unsigned char* tile, int rows, const bf16_t* __restrict__ src, size_t ld, int row0,
                             int limit, int k0, int k, int t = static_cast<int>(threadIdx.x)) {
    for (int e = t; e < rows * 8; e += THREADS) {
        const int r = e >> 3;
        const int ch = e & 7;
        const int gr = row0 + r;
        const int gk = k0 + ch * 8;
        const bool valid = gr < limit && gk < k;  // k % 8 == 0: a chunk is all in or all out
        dms::cp_async16(tile + wg_swizzle(r, ch), valid ? src + static_cast<size_t>(gr) * ld + gk : src, valid);
    }
}

// The split kernels' fp32 A tile (128 x 64) in registers: float4 i of thread t is row (t + 256 i) / 16, k 4 ((t + 256
// i) % 16); zeros past n and k.
// With THREADS threads (t this one's index), 2048 / THREADS float4 a thread: float4 i is row (t + THREADS i) / 16.
template <int THREADS = 256>
DMS_DEVICE void wg_fetch_f32(float4 (&v)[2048 / THREADS], const float* __restrict__ a, int lda, int row0, int n,
                             int k0, int k, int t = static_cast<int>(threadIdx.x)) {
#pragma unroll
    for (int i = 0; i < 2048 / THREADS; i++) {
        const int e = t + THREADS * i;
        const int gr = row0 + (e >> 4);
        const int gk = k0 + (e & 15) * 4;
        v[i] = gr < n && gk < k ? dms::load16f_ro(a + static_cast<size_t>(gr) * lda + gk)
                                : make_float4(0.f, 0.f, 0.f, 0.f);
    }
}

// Those registers as the high tile and the rest tile (each 128 x 64 bf16, swizzled) of a stage.
template <int THREADS = 256>
DMS_DEVICE void wg_store_split(unsigned char* hiTile, unsigned char* restTile, const float4 (&v)[2048 / THREADS],
                               int t = static_cast<int>(threadIdx.x)) {
#pragma unroll
    for (int i = 0; i < 2048 / THREADS; i++) {
        const int e = t + THREADS * i;
        const int r = e >> 4;
        const int c4 = e & 15;
        const int at = wg_swizzle(r, c4 >> 1) + (c4 & 1) * 8;
        uint2 hi, lo;
        dms::split_bf16x2(v[i].x, v[i].y, hi.x, lo.x);
        dms::split_bf16x2(v[i].z, v[i].w, hi.y, lo.y);
        *reinterpret_cast<uint2*>(hiTile + at) = hi;
        *reinterpret_cast<uint2*>(restTile + at) = lo;
    }
}

// The epilogue: a warpgroup's fragments (acc[4 j + e] of the thread at rowBase, colBase: row rowBase + 8 (e / 2),
// column colBase + 8 j + e % 2) into dst (rows of ld), added to what is there when add; rows past n and columns past m
// left alone.
template <int BN>
DMS_DEVICE void wg_store_acc(const float (&acc)[BN / 2], float* __restrict__ dst, size_t ld, bool add, int n, int m,
                             int rowBase, int colBase) {
#pragma unroll
    for (int j = 0; j < BN / 8; j++) {
#pragma unroll
        for (int h = 0; h < 2; h++) {
            const int row = rowBase + 8 * h;
            if (row >= n) {
                continue;
            }
            float* out = dst + static_cast<size_t>(row) * ld;
#pragma unroll
            for (int e = 0; e < 2; e++) {
                const int col = colBase + 8 * j + e;
                if (col < m) {
                    const float val = acc[4 * j + 2 * h + e];
                    out[col] = add ? out[col] + val : val;
                }
            }
        }
    }
}

// wg_store_acc's values and sums (old + val where add), the stores in pairs of columns where c's rows allow 8-byte
// accesses (pairs: ld even, dst 8-byte aligned), and for c += the old values of J n tiles (4 J a thread) loaded
// before any of them is stored. The compiler keeps every load after the stores before it (the rows may alias as far
// as it knows), so wg_store_acc's c += waits for memory once an element, 128 times a thread and tile; here BN / 8 / J
// times. The bulk-copy products take it (DMS_BK_EPI_J, default 4; 0 builds wg_store_acc there instead). On the H200
// (2026-12-04, docs/benchmarks.md thirty-second pass) Qwen3-8B's 2,048-token o and down products (c +=) went from
// 242 / 576 to 207 / 545 us a launch, q|k|v and gate|up (c =, paired stores) from 305 / 1,168 to 282 / 1,100, with J
// 2 and 4 alike; the next J tiles' old values loaded before this J's stores as well (two groups in flight, 164
// registers) made o and down slower (381 / 719 us).
#ifndef DMS_BK_EPI_J
#define DMS_BK_EPI_J 4
#endif
template <int BN, int J>
DMS_DEVICE void wg_store_acc_pairs(const float (&acc)[BN / 2], float* __restrict__ dst, size_t ld, bool add, int n,
                                   int m, int rowBase, int colBase, bool pairs) {
    static_assert((BN / 8) % J == 0, "J divides the n tiles");
#pragma unroll
    for (int j0 = 0; j0 < BN / 8; j0 += J) {
        float2 old[J][2];
        if (add) {
#pragma unroll
            for (int j = 0; j < J; j++) {
#pragma unroll
                for (int h = 0; h < 2; h++) {
                    const int row = rowBase + 8 * h;
                    const int col = colBase + 8 * (j0 + j);
                    float2 o = make_float2(0.f, 0.f);
                    if (row < n) {
                        const float* p = dst + static_cast<size_t>(row) * ld + col;
                        if (pairs && col + 1 < m) {
                            o = *reinterpret_cast<const float2*>(p);
                        } else {
                            if (col < m) {
                                o.x = p[0];
                            }
                            if (col + 1 < m) {
                                o.y = p[1];
                            }
                        }
                    }
                    old[j][h] = o;
                }
            }
        }
#pragma unroll
        for (int j = 0; j < J; j++) {
#pragma unroll
            for (int h = 0; h < 2; h++) {
                const int row = rowBase + 8 * h;
                const int col = colBase + 8 * (j0 + j);
                if (row >= n) {
                    continue;
                }
                float* p = dst + static_cast<size_t>(row) * ld + col;
                float2 val = make_float2(acc[4 * (j0 + j) + 2 * h], acc[4 * (j0 + j) + 2 * h + 1]);
                if (add) {
                    val.x = old[j][h].x + val.x;
                    val.y = old[j][h].y + val.y;
                }
                if (pairs && col + 1 < m) {
                    *reinterpret_cast<float2*>(p) = val;
                } else {
                    if (col < m) {
                        p[0] = val.x;
                    }
                    if (col + 1 < m) {
                        p[1] = val.y;
                    }
                }
            }
        }
    }
}

template <int BN, bool SPLIT>
__device__ __forceinline__ void matmul_wg(const void* __restrict__ a, int lda, const bf16_t* __restrict__ w,
                                          float* __restrict__ c, int ldc, int n, int m, int k, int accumulate,
                                          int kTilesPerSplit, float* __restrict__ partial) {
    dms::pdl_begin_long();
#if defined(DMS_WGMMA)
    constexpr int STAGES = matmul_wg_stages(BN, SPLIT);
    constexpr int A_TILE = DMS_WG_BM * DMS_WG_BK * 2;  // one bf16 A tile
    constexpr int STAGE = matmul_wg_stage_bytes(BN, SPLIT);
    constexpr int R = BN / 2;  // accumulators a thread
    DMS_DYNAMIC_SMEM(raw);
    unsigned char* smem = raw + ((1024 - (dms::smem_addr(raw) & 1023)) & 1023);
    // stage s: [A tile (split: high tile, rest tile)][W tile], each 1024-byte aligned
    const int wg = threadIdx.x >> 7;
    const int tilesM = (n + DMS_WG_BM - 1) / DMS_WG_BM;
    const int tilesN = (m + BN - 1) / BN;
    const int perGroup = DMS_WG_GROUP * tilesN;
    const int first = static_cast<int>(blockIdx.x) / perGroup * DMS_WG_GROUP;
    const int rows = min(tilesM - first, DMS_WG_GROUP);
    const int inGroup = static_cast<int>(blockIdx.x) % perGroup;
    const int row0 = (first + inGroup % rows) * DMS_WG_BM;
    const int col0 = inGroup / rows * BN;
    const int kTilesAll = (k + DMS_WG_BK - 1) / DMS_WG_BK;
    // This block's k tiles: k0 on, kTiles of them (every tile unless split); kt below counts from k0.
    const int k0 = partial != nullptr ? static_cast<int>(blockIdx.y) * kTilesPerSplit : 0;
    const int kTiles = partial != nullptr ? min(kTilesPerSplit, kTilesAll - k0) : kTilesAll;
    const bf16_t* a16 = static_cast<const bf16_t*>(a);
    const float* a32 = static_cast<const float*>(a);

    float acc[R];
#pragma unroll
    for (int i = 0; i < R; i++) {
        acc[i] = 0.f;
    }

    auto loadStage = [&](int kt) {
        unsigned char* st = smem + (kt % STAGES) * STAGE;
        if constexpr (!SPLIT) {
            wg_load_bf16(st, DMS_WG_BM, a16, static_cast<size_t>(lda), row0, n, (k0 + kt) * DMS_WG_BK, k);
        }
        wg_load_bf16(st + (SPLIT ? 2 : 1) * A_TILE, BN, w, static_cast<size_t>(k), col0, m, (k0 + kt) * DMS_WG_BK, k);
    };

    float4 staged[SPLIT ? 8 : 1];
    // Prologue: tiles 0 .. STAGES - 3 in flight (split: their W tiles; A tile 0 converted now).
#pragma unroll
    for (int s = 0; s < STAGES - 2; s++) {
        if (s < kTiles) {
            loadStage(s);
        }
        dms::cp_async_commit();
    }
    if constexpr (SPLIT) {
        wg_fetch_f32(staged, a32, lda, row0, n, k0 * DMS_WG_BK, k);
        wg_store_split(smem, smem + A_TILE, staged);
    }

    for (int kt = 0; kt < kTiles; kt++) {
        dms::cp_async_wait<STAGES - 3>();  // this thread's copies of tile kt have landed
        dms::fence_proxy_async();          // ... and its shared-memory writes are visible to the tensor cores
        __syncthreads();                   // every thread's; both warpgroups are done with tile kt - 2
        if constexpr (SPLIT) {
            // Split: the loads first, and the next A tile's global reads, then the wgmma (measured 12-14% faster than
            // the bf16 kernels' order here, run 7).
            if (kt + STAGES - 2 < kTiles) {
                loadStage(kt + STAGES - 2);  // into stage (kt - 2) % STAGES
            }
            dms::cp_async_commit();
            if (kt + 1 < kTiles) {
                wg_fetch_f32(staged, a32, lda, row0, n, (k0 + kt + 1) * DMS_WG_BK, k);
            }
        }
        // bf16: tile kt's wgmma first, queued behind tile kt - 1's, then the loads (3-7% faster than loads first,
        // run 7).
        const unsigned char* st = smem + (kt % STAGES) * STAGE;
        const uint32_t aAddr = dms::smem_addr(st) + wg * (64 * 128);
        const uint32_t wAddr = dms::smem_addr(st + (SPLIT ? 2 : 1) * A_TILE);
        dms::wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < DMS_WG_BK / 16; kk++) {
            // k step kk: 32 bytes further into each 128-byte row (the swizzle is applied to the address bits)
            const uint64_t descW = dms::wgmma_desc(wAddr + 32 * kk);
            if constexpr (BN == 256) {
                dms::wgmma_m64n256k16(acc, dms::wgmma_desc(aAddr + 32 * kk), descW);
                if constexpr (SPLIT) {
                    dms::wgmma_m64n256k16(acc, dms::wgmma_desc(aAddr + A_TILE + 32 * kk), descW);
                }
            } else {
                dms::wgmma_m64n128k16(acc, dms::wgmma_desc(aAddr + 32 * kk), descW);
                if constexpr (SPLIT) {
                    dms::wgmma_m64n128k16(acc, dms::wgmma_desc(aAddr + A_TILE + 32 * kk), descW);
                }
            }
        }
        dms::wgmma_commit();
        if constexpr (!SPLIT) {
            if (kt + STAGES - 2 < kTiles) {
                loadStage(kt + STAGES - 2);  // into stage (kt - 2) % STAGES
            }
            dms::cp_async_commit();
        }
        if constexpr (SPLIT) {
            if (kt + 1 < kTiles) {
                // Stage (kt + 1) % STAGES was last read by tile kt + 1 - STAGES <= kt - 2: done (see the barrier).
                unsigned char* next = smem + ((kt + 1) % STAGES) * STAGE;
                wg_store_split(next, next + A_TILE, staged);
            }
        }
        dms::wgmma_wait<1>();  // this warpgroup's tile kt - 1 is done
    }
    dms::wgmma_wait<0>();
    dms::cp_async_wait<0>();
#pragma unroll
    for (int i = 0; i < R; i++) {
        dms::wgmma_hold(acc[i]);
    }

    // Fragment of thread t of warpgroup wg (warp v = t / 32 % 4, lane g = t % 32 / 4, q = t % 4): acc[4 j + e] is row
    // 64 wg + 16 v + g + 8 (e / 2), column 8 j + 2 q + e % 2.
    const int lane = threadIdx.x & 31;
    const int v = (threadIdx.x >> 5) & 3;
    const int rowBase = row0 + wg * 64 + v * 16 + (lane >> 2);
    const int colBase = col0 + 2 * (lane & 3);
    // Split: this split's slice of partial, rows of m, stored (the reduce accumulates).
    float* const dst = partial != nullptr ? partial + static_cast<size_t>(blockIdx.y) * n * m : c;
    const size_t ld = partial != nullptr ? static_cast<size_t>(m) : static_cast<size_t>(ldc);
    const bool add = partial == nullptr && accumulate != 0;
    // wg_store_acc's loop, written out: the code of this kernel as timed on the H200 (the helper reorders its PTX)
#pragma unroll
    for (int j = 0; j < BN / 8; j++) {
#pragma unroll
        for (int h = 0; h < 2; h++) {
            const int row = rowBase + 8 * h;
            if (row >= n) {
                continue;
            }
            float* out = dst + static_cast<size_t>(row) * ld;
#pragma unroll
            for (int e = 0; e < 2; e++) {
                const int col = colBase + 8 * j + e;
                if (col < m) {
                    const float val = acc[4 * j + 2 * h + e];
                    out[col] = add ? out[col] + val : val;
                }
            }
        }
    }
#else
    __trap();
#endif
}

#define DMS_MATMUL_WG(NAME, BN, SPLIT, AT)                                                                        \
    extern "C" __global__ void __launch_bounds__(256, 1)                                                          \
        NAME(const AT* __restrict__ a, int lda, const bf16_t* __restrict__ w, float* __restrict__ c, int ldc,     \
             int n, int m, int k, int accumulate, int kTilesPerSplit, float* __restrict__ partial) {              \
        matmul_wg<BN, SPLIT>(a, lda, w, c, ldc, n, m, k, accumulate, kTilesPerSplit, partial);                    \
    }
DMS_MATMUL_WG(dms_matmul_wg_bf16_n256, 256, false, bf16_t)
DMS_MATMUL_WG(dms_matmul_wg_bf16_n128, 128, false, bf16_t)
DMS_MATMUL_WG(dms_matmul_wg_split_n256, 256, true, float)
DMS_MATMUL_WG(dms_matmul_wg_split_n128, 128, true, float)

// The warp-specialised form of the 256-feature kernels (dms_matmul_ws_{bf16,split}_n256): the same tiles, raster,
// k order, split-K and epilogue, so the same sums in the same order (the same bits as dms_matmul_wg_*_n256), but
// 384 threads: warpgroup 0 the producer, warpgroups 1 and 2 the consumers (tokens [0, 64) and [64, 128) of the tile).
// The producer fills the stages (its cp.async for W, and A: bf16 by cp.async, split by its own fp32 reads, each value
// stored as a high and a rest part), waits for its copies, fences them for the async proxy and arrives on the stage's
// `full` mbarrier (128 arrivals); the consumers wait on it, issue the stage's wgmma and, once their next stage's
// wgmma are issued and this one's are complete (wgmma.wait_group 1), arrive on its `empty` mbarrier (256 arrivals),
// which the producer waits on before it refills the stage. So no barrier of the whole block in the loop, and the
// producer runs up to STAGES - 1 tiles ahead of the tensor cores while the consumers only issue wgmma (the 256-thread
// kernel's threads loaded and converted between their own wgmma: Nsight Compute saw them waiting on latency, ninth
// pass). Stages as the 256-thread kernel's (3 split, 4 bf16); the mbarriers after them.
__host__ __device__ constexpr int matmul_ws_smem_bytes(bool split) {
    return matmul_wg_smem_bytes(256, split) + 2 * matmul_wg_stages(256, split) * 8;
}
static_assert(matmul_ws_smem_bytes(false) == 197696 && matmul_ws_smem_bytes(true) == 197680, "ws");

template <bool SPLIT, bool PERSIST>
__device__ __forceinline__ void matmul_ws(const void* __restrict__ a, int lda, const bf16_t* __restrict__ w,
                                          float* __restrict__ c, int ldc, int n, int m, int k, int accumulate,
                                          int kTilesPerSplit, float* __restrict__ partial) {
    dms::pdl_begin_long();
#if defined(DMS_WGMMA)
    constexpr int BN = 256;
    constexpr int STAGES = matmul_wg_stages(BN, SPLIT);
    constexpr int A_TILE = DMS_WG_BM * DMS_WG_BK * 2;  // one bf16 A tile
    constexpr int STAGE = matmul_wg_stage_bytes(BN, SPLIT);
    constexpr int R = BN / 2;  // accumulators a consumer thread
    DMS_DYNAMIC_SMEM(raw);
    unsigned char* smem = raw + ((1024 - (dms::smem_addr(raw) & 1023)) & 1023);
    // stage s: [A tile (split: high tile, rest tile)][W tile], each 1024-byte aligned; then full[STAGES], empty[STAGES]
    uint64_t* full = reinterpret_cast<uint64_t*>(smem + STAGES * STAGE);
    uint64_t* empty = full + STAGES;
    const int wg = threadIdx.x >> 7;
    const int tilesM = (n + DMS_WG_BM - 1) / DMS_WG_BM;
    const int tilesN = (m + BN - 1) / BN;
    const int tiles = tilesM * tilesN;
    const int perGroup = DMS_WG_GROUP * tilesN;
    const int kTilesAll = (k + DMS_WG_BK - 1) / DMS_WG_BK;
    const int k0 = partial != nullptr ? static_cast<int>(blockIdx.y) * kTilesPerSplit : 0;
    const int kTiles = partial != nullptr ? min(kTilesPerSplit, kTilesAll - k0) : kTilesAll;
    // The tiles of this block: blockIdx.x alone, or (persistent: a grid of at most a block a multiprocessor) every
    // gridDim.x-th from it, the stages and their mbarrier phases running on across them (g counts the k tiles).
    const int tileStep = PERSIST ? static_cast<int>(gridDim.x) : tiles;
    auto origin = [&](int tile, int& row0, int& col0) {
        const int first = tile / perGroup * DMS_WG_GROUP;
        const int rows = min(tilesM - first, DMS_WG_GROUP);
        const int inGroup = tile % perGroup;
        row0 = (first + inGroup % rows) * DMS_WG_BM;
        col0 = inGroup / rows * BN;
    };

    if (threadIdx.x == 0) {
        for (int s = 0; s < STAGES; s++) {
            dms::mbarrier_init(&full[s], 128);
            dms::mbarrier_init(&empty[s], 256);
        }
        dms::mbarrier_init_fence();
    }
    __syncthreads();

    if (wg == 0) {
        // Producer: k tile g into stage g % STAGES once the consumers have released it (its previous tile g - STAGES).
        // Its copies are waited for LAG tiles later (cp.async.wait_group LAG), so that LAG + 1 tiles' copies are in
        // flight: the full barrier of tile g is arrived on in iteration g + LAG, after this thread's copies of tile g
        // have landed and been fenced. LAG = STAGES - 2 at most: iteration g waits for the consumers to release tile
        // g - STAGES, which they do once tile g - STAGES + 1 is full, arrived on in iteration g - STAGES + 1 + LAG.
        // Split: the fp32 A of the next k tile is read into registers right after this one is stored, so that its
        // latency passes while the producer waits for the next empty stage.
        constexpr int LAG = STAGES - 2;
        const int t = threadIdx.x;
        const bf16_t* a16 = static_cast<const bf16_t*>(a);
        const float* a32 = static_cast<const float*>(a);
        float4 v[SPLIT ? 16 : 1];
        if constexpr (SPLIT) {
            if (static_cast<int>(blockIdx.x) < tiles && kTiles > 0) {
                int row0, col0;
                origin(static_cast<int>(blockIdx.x), row0, col0);
                wg_fetch_f32<128>(v, a32, lda, row0, n, k0 * DMS_WG_BK, k, t);
            }
        }
        int g = 0;
        for (int tile = static_cast<int>(blockIdx.x); tile < tiles; tile += tileStep) {
            int row0, col0;
            origin(tile, row0, col0);
            for (int kt = 0; kt < kTiles; kt++, g++) {
                const int s = g % STAGES;
                if (g >= STAGES) {
                    dms::mbarrier_wait(&empty[s], ((g / STAGES) & 1) ^ 1);
                }
                unsigned char* st = smem + s * STAGE;
                const int kc = (k0 + kt) * DMS_WG_BK;
                wg_load_bf16<128>(st + (SPLIT ? 2 : 1) * A_TILE, BN, w, static_cast<size_t>(k), col0, m, kc, k, t);
                if constexpr (!SPLIT) {
                    wg_load_bf16<128>(st, DMS_WG_BM, a16, static_cast<size_t>(lda), row0, n, kc, k, t);
                }
                dms::cp_async_commit();
                if constexpr (SPLIT) {
                    wg_store_split<128>(st, st + A_TILE, v, t);
                    // the next k tile's A: this tile's next, or the next tile's first
                    if (kt + 1 < kTiles) {
                        wg_fetch_f32<128>(v, a32, lda, row0, n, kc + DMS_WG_BK, k, t);
                    } else if (tile + tileStep < tiles) {
                        int nextRow0, nextCol0;
                        origin(tile + tileStep, nextRow0, nextCol0);
                        wg_fetch_f32<128>(v, a32, lda, nextRow0, n, k0 * DMS_WG_BK, k, t);
                    }
                }
                if (g >= LAG) {
                    dms::cp_async_wait<LAG>();  // this thread's copies of k tile g - LAG have landed
                    dms::fence_proxy_async();   // ... and its shared-memory writes are visible to the tensor cores
                    dms::mbarrier_arrive(&full[(g - LAG) % STAGES]);
                }
            }
        }
        dms::cp_async_wait<0>();
        dms::fence_proxy_async();
        for (int j = g - LAG > 0 ? g - LAG : 0; j < g; j++) {
            dms::mbarrier_arrive(&full[j % STAGES]);
        }
        return;
    }

    // Consumers: warpgroup wg - 1 the tokens [64 (wg - 1), 64 wg) of each tile.
    const int cg = wg - 1;
    const int lane = threadIdx.x & 31;
    const int v = (threadIdx.x >> 5) & 3;
    float* const dst = partial != nullptr ? partial + static_cast<size_t>(blockIdx.y) * n * m : c;
    const size_t ld = partial != nullptr ? static_cast<size_t>(m) : static_cast<size_t>(ldc);
    const bool add = partial == nullptr && accumulate != 0;
    int g = 0;
    for (int tile = static_cast<int>(blockIdx.x); tile < tiles; tile += tileStep) {
        int row0, col0;
        origin(tile, row0, col0);
        float acc[R];
#pragma unroll
        for (int i = 0; i < R; i++) {
            acc[i] = 0.f;
        }
        for (int kt = 0; kt < kTiles; kt++, g++) {
            const int s = g % STAGES;
            dms::mbarrier_wait(&full[s], (g / STAGES) & 1);
            const unsigned char* st = smem + s * STAGE;
            const uint32_t aAddr = dms::smem_addr(st) + cg * (64 * 128);
            const uint32_t wAddr = dms::smem_addr(st + (SPLIT ? 2 : 1) * A_TILE);
            dms::wgmma_fence();
#pragma unroll
            for (int kk = 0; kk < DMS_WG_BK / 16; kk++) {
                const uint64_t descW = dms::wgmma_desc(wAddr + 32 * kk);
                dms::wgmma_m64n256k16(acc, dms::wgmma_desc(aAddr + 32 * kk), descW);
                if constexpr (SPLIT) {
                    dms::wgmma_m64n256k16(acc, dms::wgmma_desc(aAddr + A_TILE + 32 * kk), descW);
                }
            }
            dms::wgmma_commit();
            dms::wgmma_wait<1>();  // this warpgroup's k tile g - 1 is done: its stage goes back to the producer
            if (kt > 0) {
                dms::mbarrier_arrive(&empty[(g - 1) % STAGES]);
            }
        }
        dms::wgmma_wait<0>();
        dms::mbarrier_arrive(&empty[(g - 1) % STAGES]);  // the tile's last stage (kTiles >= 1)
#pragma unroll
        for (int i = 0; i < R; i++) {
            dms::wgmma_hold(acc[i]);
        }

        // The 256-thread kernel's epilogue, warpgroup cg in place of wg.
        const int rowBase = row0 + cg * 64 + v * 16 + (lane >> 2);
        const int colBase = col0 + 2 * (lane & 3);
        wg_store_acc<BN>(acc, dst, ld, add, n, m, rowBase, colBase);
    }
#else
    __trap();
#endif
}

#define DMS_MATMUL_WS(NAME, SPLIT, PERSIST, AT)                                                                   \
    extern "C" __global__ void __launch_bounds__(384, 1)                                                          \
        NAME(const AT* __restrict__ a, int lda, const bf16_t* __restrict__ w, float* __restrict__ c, int ldc,     \
             int n, int m, int k, int accumulate, int kTilesPerSplit, float* __restrict__ partial) {              \
        matmul_ws<SPLIT, PERSIST>(a, lda, w, c, ldc, n, m, k, accumulate, kTilesPerSplit, partial);               \
    }
DMS_MATMUL_WS(dms_matmul_ws_bf16_n256, false, false, bf16_t)
DMS_MATMUL_WS(dms_matmul_ws_split_n256, true, false, float)
DMS_MATMUL_WS(dms_matmul_wsp_bf16_n256, false, true, bf16_t)
DMS_MATMUL_WS(dms_matmul_wsp_split_n256, true, true, float)

// Opts KERNEL in to `smem` bytes of dynamic shared memory (the warpgroup kernels take more than the default 48 KB),
// returning the error if that fails, then launches it: the launchers here and in matmul_sm90_skinny.cu.
#define DMS_LAUNCH_SMEM(KERNEL, grid, block, smem, stream, ...)                                                   \
    {                                                                                                             \
        const cudaError_t e_ = cudaFuncSetAttribute(KERNEL, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);  \
        if (e_ != cudaSuccess) {                                                                                  \
            return e_;                                                                                            \
        }                                                                                                         \
    }                                                                                                             \
    DMS_LAUNCH(KERNEL, grid, block, smem, stream, __VA_ARGS__)

// WS: the warp-specialised kernels (bn 256 only); PERSIST: their persistent form, at most `blocks` blocks a split.
template <typename AT, bool WS = false, bool PERSIST = false>
static cudaError_t launch_matmul_wg(const AT* a, int lda, const bf16_t* w, float* c, int ldc, int n, int m, int k,
                                    int accumulate, int bn, int splits, float* workspace, cudaStream_t stream,
                                    int blocks = 0) {
    constexpr bool split = sizeof(AT) == 4;
    DMS_CHECK(!WS || bn == 256);
    DMS_CHECK(!PERSIST || blocks >= 1);
    DMS_CHECK(a != nullptr && w != nullptr && c != nullptr);
    DMS_CHECK(n >= 1 && m >= 1 && k >= 8 && k <= DMS_MAX_K && k % 8 == 0 && lda >= k && lda % 8 == 0 && ldc >= m);
    DMS_CHECK(dms::aligned16(a) && dms::aligned16(w));
    DMS_CHECK(bn == 128 || bn == 256);
    DMS_CHECK(static_cast<long long>((n + DMS_WG_BM - 1) / DMS_WG_BM) * ((m + bn - 1) / bn) <= 0x7fffffff);
    DMS_CHECK(splits >= 1 && splits <= 65535 && (splits == 1 || workspace != nullptr));
    if (!dms_compute90()) {
        return cudaErrorNotSupported;
    }
    const int kTiles = (k + DMS_WG_BK - 1) / DMS_WG_BK;
    const int perSplit = (kTiles + splits - 1) / splits;
    splits = (kTiles + perSplit - 1) / perSplit;  // no empty split
    float* partial = splits > 1 ? workspace : nullptr;
    const long long tiles = static_cast<long long>((n + DMS_WG_BM - 1) / DMS_WG_BM) * ((m + bn - 1) / bn);
    const dim3 grid(static_cast<unsigned>(PERSIST && tiles > blocks ? blocks : tiles), splits);
    const int smem = WS ? matmul_ws_smem_bytes(split) : matmul_wg_smem_bytes(bn, split);
    if constexpr (PERSIST) {
        if constexpr (split) {
            DMS_LAUNCH_SMEM(dms_matmul_wsp_split_n256, grid, 384, smem, stream, a, lda, w, c, ldc, n, m, k, accumulate,
                            perSplit, partial);
        } else {
            DMS_LAUNCH_SMEM(dms_matmul_wsp_bf16_n256, grid, 384, smem, stream, a, lda, w, c, ldc, n, m, k, accumulate,
                            perSplit, partial);
        }
    } else if constexpr (WS) {
        if constexpr (split) {
            DMS_LAUNCH_SMEM(dms_matmul_ws_split_n256, grid, 384, smem, stream, a, lda, w, c, ldc, n, m, k, accumulate,
                            perSplit, partial);
        } else {
            DMS_LAUNCH_SMEM(dms_matmul_ws_bf16_n256, grid, 384, smem, stream, a, lda, w, c, ldc, n, m, k, accumulate,
                            perSplit, partial);
        }
    } else if constexpr (split) {
        if (bn == 256) {
            DMS_LAUNCH_SMEM(dms_matmul_wg_split_n256, grid, 256, smem, stream, a, lda, w, c, ldc, n, m, k, accumulate,
                            perSplit, partial);
        } else {
            DMS_LAUNCH_SMEM(dms_matmul_wg_split_n128, grid, 256, smem, stream, a, lda, w, c, ldc, n, m, k, accumulate,
                            perSplit, partial);
        }
    } else {
        if (bn == 256) {
            DMS_LAUNCH_SMEM(dms_matmul_wg_bf16_n256, grid, 256, smem, stream, a, lda, w, c, ldc, n, m, k, accumulate,
                            perSplit, partial);
        } else {
            DMS_LAUNCH_SMEM(dms_matmul_wg_bf16_n128, grid, 256, smem, stream, a, lda, w, c, ldc, n, m, k, accumulate,
                            perSplit, partial);
        }
    }
    if (partial != nullptr) {
        const cudaError_t e = cudaGetLastError();
        if (e != cudaSuccess) {
            return e;
        }
        launch_matmul_reduce(partial, splits, n, m, c, ldc, accumulate, stream);
    }
    return cudaGetLastError();
}

// c (n, m) = a (n, k) bf16 · Wᵀ (or c +=) on the warpgroup tensor cores, tiles of 128 x bn, k split `splits` ways (1:
// no split) through workspace fp32 (splits, n, m); cudaErrorNotSupported on a device other than compute 9.0.
extern "C" cudaError_t dms_matmul_wg(const bf16_t* a, int lda, const bf16_t* w, float* c, int ldc, int n, int m, int k,
                                     int accumulate, int bn, int splits, float* workspace, cudaStream_t stream) {
    return launch_matmul_wg(a, lda, w, c, ldc, n, m, k, accumulate, bn, splits, workspace, stream);
}

// As dms_matmul_wg for fp32 activations, each split into a bf16 high part and its bf16 rest.
extern "C" cudaError_t dms_matmul_wg_split(const float* a, int lda, const bf16_t* w, float* c, int ldc, int n, int m,
                                           int k, int accumulate, int bn, int splits, float* workspace,
                                           cudaStream_t stream) {
    return launch_matmul_wg(a, lda, w, c, ldc, n, m, k, accumulate, bn, splits, workspace, stream);
}

// As dms_matmul_wg (bn 256 only) on the warp-specialised kernels: the same bits.
extern "C" cudaError_t dms_matmul_ws(const bf16_t* a, int lda, const bf16_t* w, float* c, int ldc, int n, int m, int k,
                                     int accumulate, int bn, int splits, float* workspace, cudaStream_t stream) {
    return launch_matmul_wg<bf16_t, true>(a, lda, w, c, ldc, n, m, k, accumulate, bn, splits, workspace, stream);
}

// As dms_matmul_wg_split (bn 256 only) on the warp-specialised kernels: the same bits.
extern "C" cudaError_t dms_matmul_ws_split(const float* a, int lda, const bf16_t* w, float* c, int ldc, int n, int m,
                                           int k, int accumulate, int bn, int splits, float* workspace,
                                           cudaStream_t stream) {
    return launch_matmul_wg<float, true>(a, lda, w, c, ldc, n, m, k, accumulate, bn, splits, workspace, stream);
}

// The persistent warp-specialised kernels: at most `blocks` blocks a split of k (a device's multiprocessors), each
// taking every blocks-th tile, its stages running on from one tile to the next. The same bits as dms_matmul_ws.
extern "C" cudaError_t dms_matmul_wsp(const bf16_t* a, int lda, const bf16_t* w, float* c, int ldc, int n, int m,
                                      int k, int accumulate, int bn, int splits, float* workspace, int blocks,
                                      cudaStream_t stream) {
    return launch_matmul_wg<bf16_t, true, true>(a, lda, w, c, ldc, n, m, k, accumulate, bn, splits, workspace, stream,
                                                blocks);
}

extern "C" cudaError_t dms_matmul_wsp_split(const float* a, int lda, const bf16_t* w, float* c, int ldc, int n, int m,
                                            int k, int accumulate, int bn, int splits, float* workspace, int blocks,
                                            cudaStream_t stream) {
    return launch_matmul_wg<float, true, true>(a, lda, w, c, ldc, n, m, k, accumulate, bn, splits, workspace, stream,
                                               blocks);
}
