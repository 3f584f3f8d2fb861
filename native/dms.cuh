// dms.cuh: what every kernel file of the CUDA backend shares.
//
// Conventions (native/README.md has the ABI table):
//   - bf16 tensors are passed as `const bf16_t*` (raw 16-bit storage, the top half of an fp32), fp32 as
//     float*, int32 as int*, bytes as unsigned char*. All pointers are device pointers.
//   - Weights are bf16 row-major (out_features, in_features), exactly as the checkpoint stores them.
//     Residual stream, norms, q/k/v, logits: fp32. KV cache: bf16. Every sum accumulates in fp32 (double
//     where the CPU reference uses double).
//   - Every launchable kernel is `extern "C" __global__` with a stable name (dms_<op>[_variant]); Java
//     loads the fatbin with cuModuleLoadData and launches them with cuLaunchKernel.
//   - Each .cu file has three layers: the kernel(s), a launcher (grid/block/shared memory from the
//     shapes), and an `extern "C"` host entry point `dms_<op>(...)` that checks its arguments and returns a
//     cudaError_t. The host layers are used by the native test driver (native/emu, runnable on a CUDA
//     host or on the CPU emulator); Java mirrors the launcher in its kernel classes.
//
// Building with -DDMS_EMU compiles the same kernels as plain C++ against native/emu/emu.h, which runs
// each CUDA thread as a fiber (shuffles, barriers, ldmatrix and mma emulated), so the kernels' logic can
// be tested on a machine without a GPU.
#pragma once

#include <math.h>
#include <stdint.h>

#ifdef DMS_EMU
#include "emu/emu.h"
#else
#include <cuda_runtime.h>
#endif

typedef uint16_t bf16_t;

#ifndef DMS_EMU
// The dynamic shared memory of every kernel (one declaration: each kernel sizes it at launch).
extern __shared__ __align__(16) unsigned char dms_dynamic_smem[];
#endif

#define DMS_DEVICE __device__ __forceinline__
#define DMS_FULL_MASK 0xffffffffu

#ifdef DMS_EMU
// Shared memory in the emulator comes from a per-block arena poisoned with NaN bytes at each block start,
// so a kernel that reads shared memory it did not write shows it.
#define DMS_SHARED(type, name, count) \
    static char name##_site;          \
    type* name = emu::shared_array<type>(&name##_site, (count))
#define DMS_DYNAMIC_SMEM(name) unsigned char* name = emu::dynamic_smem()
#define DMS_LAUNCH(kernel, grid, block, smem, stream, ...) \
    emu::launch(#kernel, (grid), (block), (smem), [&]() { kernel(__VA_ARGS__); })
#else
#define DMS_SHARED(type, name, count) __shared__ type name[(count)]
#define DMS_DYNAMIC_SMEM(name) unsigned char* name = dms_dynamic_smem
#define DMS_LAUNCH(kernel, grid, block, smem, stream, ...) \
    kernel<<<(grid), (block), (smem), (stream)>>>(__VA_ARGS__)
#endif

// The largest k (inner dimension) a product takes: k tile starts plus a tile's columns stay inside int
// (MatMulKernel.MAX_K mirrors it).
#define DMS_MAX_K (1 << 30)

// Whether the current device is compute 9.0, the only one that runs the fatbin's sm_90a code (every other device
// compiles its compute_80 PTX: the sm_90a-only kernels trap there, which would poison the context, and code under
// __CUDA_ARCH__ >= 900 is not there). The emulator runs everything.
static inline bool dms_compute90() {
#ifdef DMS_EMU
    return true;
#else
    int device = 0, major = 0, minor = 0;
    return cudaGetDevice(&device) == cudaSuccess &&
           cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) == cudaSuccess &&
           cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, device) == cudaSuccess && major == 9 &&
           minor == 0;
#endif
}

// Host entry points return this when their own argument checks fail (the launch was not made).
#define DMS_CHECK(condition)                  \
    do {                                      \
        if (!(condition)) {                   \
            return cudaErrorInvalidValue;     \
        }                                     \
    } while (0)

// Where a block triggers under programmatic launch (dms::pdl_begin below): 0 at exit, 1 late, 2 at the start, 3 short
// kernels after their wait, 4 as 3 with one token's GEMVs late (CudaContext's default). Outside
// the namespace and extern "C", so that CudaContext finds it by this name (cuModuleGetGlobal) and sets it.
#ifdef DMS_EMU
static int dms_pdl_trigger_at = 0;
#else
extern "C" {
__device__ int dms_pdl_trigger_at = 0;
}
#endif
// What the split-grid tensor-core decode attention does before its wait (attention.cu, attention_decode_tc): 1 (the
// default) reads its page list, 0 nothing, 2 its page list and, in the folded kernel (dms_attention_decode_tcq_d*),
// its first tile's slot positions and flags. CudaContext sets it from dms.cuda.attention-early, by this name.
#ifdef DMS_EMU
static int dms_attention_early = 1;
#else
extern "C" {
__device__ int dms_attention_early = 1;
}
#endif

namespace dms {

// ---------------------------------------------------------------------------------------------------
// bf16 <-> fp32, bit for bit as io.dmsserve.engine.Half: widening is exact; narrowing rounds to nearest
// even, NaN stays a quiet NaN of the same sign, overflow becomes infinity.

DMS_DEVICE float bf16_to_f32(bf16_t h) {
    return __uint_as_float(static_cast<uint32_t>(h) << 16);
}

DMS_DEVICE bf16_t f32_to_bf16(float f) {
    uint32_t bits = __float_as_uint(f);
    if ((bits & 0x7fffffffu) > 0x7f800000u) {
        return static_cast<bf16_t>((bits >> 16) | 0x0040u);
    }
    uint32_t lsb = (bits >> 16) & 1u;
    return static_cast<bf16_t>((bits + 0x7fffu + lsb) >> 16);
}

// The low and high bf16 of a 32-bit word (element j at the lower address = low half, little-endian).
DMS_DEVICE float bf16_lo(uint32_t w) {
    return __uint_as_float(w << 16);
}
DMS_DEVICE float bf16_hi(uint32_t w) {
    return __uint_as_float(w & 0xffff0000u);
}
DMS_DEVICE uint32_t pack_bf16x2(float lo, float hi) {
    return static_cast<uint32_t>(f32_to_bf16(lo)) | (static_cast<uint32_t>(f32_to_bf16(hi)) << 16);
}

// pack_bf16x2 in one cvt on the device (round to nearest even, as f32_to_bf16 for finite values).
DMS_DEVICE uint32_t pack_bf16x2_rn(float lo, float hi) {
#ifdef DMS_EMU
    return pack_bf16x2(lo, hi);
#else
    uint32_t r;
    asm("cvt.rn.bf16x2.f32 %0, %1, %2;\n" : "=r"(r) : "f"(hi), "f"(lo));
    return r;
#endif
}

// Two fp32 values as bf16 high parts and the rest: x = bf16(x) + bf16(x - bf16(x)) to about 2^-17 of x (x - bf16(x)
// is exact in fp32). The tensor cores multiply both parts: an fp32 operand at twice the mma work (q and P in
// attention.cu, the activations of the split products in matmul.cu).
DMS_DEVICE void split_bf16x2(float x0, float x1, uint32_t& hi, uint32_t& lo) {
    hi = pack_bf16x2_rn(x0, x1);
    lo = pack_bf16x2_rn(x0 - bf16_lo(hi), x1 - bf16_hi(hi));
}

// Activation tile images, what the bulk-copy products read as A (n, k) (matmul_sm90_bulk.cu): tiles of 128 rows by 64
// columns, each the 128-byte-swizzled shared-memory image of its tile, tile (row / 128, col / 64) at
// (row / 128 * kTiles + col / 64) * 16 KB, bf16 (or 32 KB split: the high parts' 16 KB, then the rests' 16 KB).
// dms_tile_rows_bf16 / dms_tile_split_f32 make them from rows; the producers of a product's input (rmsnorm.cu,
// swiglu.cu) can write them directly instead, the same bytes. Byte offset of element (row, col) in the bf16 (or high)
// image; zeros go in the rows past n up to a multiple of 128 and the columns past k up to a multiple of 64.
constexpr int ACT_IMAGE_ROWS = 128;
constexpr int ACT_IMAGE_COLS = 64;
constexpr int ACT_IMAGE_REST = ACT_IMAGE_ROWS * ACT_IMAGE_COLS * 2;  // a split tile's rests, after its high parts
DMS_DEVICE size_t act_image_at(int row, int col, int kTiles, bool split) {
    const size_t tile = static_cast<size_t>(row / ACT_IMAGE_ROWS) * kTiles + col / ACT_IMAGE_COLS;
    const int r = row % ACT_IMAGE_ROWS, chunk = (col % ACT_IMAGE_COLS) >> 3;
    return tile * (split ? 2 * ACT_IMAGE_REST : ACT_IMAGE_REST) + r * 128 + ((chunk ^ (r & 7)) << 4) + (col & 7) * 2;
}
// Columns col .. col + 3 of a row (col % 4 == 0) into the image: bf16 as pack_bf16x2 rounds them (the rows that
// dms_tile_rows_bf16 would copy), or split as dms_tile_split_f32 splits them.
DMS_DEVICE void act_image_put4(unsigned char* image, int row, int col, int kTiles, bool split, float a, float b,
                               float c, float d) {
    unsigned char* at = image + act_image_at(row, col, kTiles, split);
    if (split) {
        uint2 hi, lo;
        split_bf16x2(a, b, hi.x, lo.x);
        split_bf16x2(c, d, hi.y, lo.y);
        *reinterpret_cast<uint2*>(at) = hi;
        *reinterpret_cast<uint2*>(at + ACT_IMAGE_REST) = lo;
    } else {
        *reinterpret_cast<uint2*>(at) = make_uint2(pack_bf16x2(a, b), pack_bf16x2(c, d));
    }
}

// Two bf16 from two words interleaved: (low half of a, low half of b) and (high half of a, high half of b).
DMS_DEVICE uint32_t interleave_lo(uint32_t a, uint32_t b) {
    return (a & 0xffffu) | (b << 16);
}
DMS_DEVICE uint32_t interleave_hi(uint32_t a, uint32_t b) {
    return (a >> 16) | (b & 0xffff0000u);
}

// Eight bf16 (one 16-byte load) to fp32.
DMS_DEVICE void unpack_bf16x8(const uint4& v, float out[8]) {
    out[0] = bf16_lo(v.x);
    out[1] = bf16_hi(v.x);
    out[2] = bf16_lo(v.y);
    out[3] = bf16_hi(v.y);
    out[4] = bf16_lo(v.z);
    out[5] = bf16_hi(v.z);
    out[6] = bf16_lo(v.w);
    out[7] = bf16_hi(v.w);
}

// 16-byte load through the read-only path: for data that no thread of the kernel writes.
DMS_DEVICE uint4 load16_ro(const void* p) {
    return __ldg(reinterpret_cast<const uint4*>(p));
}
DMS_DEVICE float4 load16f_ro(const void* p) {
    return __ldg(reinterpret_cast<const float4*>(p));
}

// 16-byte load at L2 (not L1, which is not coherent across multiprocessors): for data other blocks of the same kernel
// wrote before a __threadfence and an atomic that ordered them (a split-K reduction by the last block of a tile).
DMS_DEVICE float4 load16f_cg(const void* p) {
#ifdef DMS_EMU
    return *reinterpret_cast<const float4*>(p);
#else
    return __ldcg(reinterpret_cast<const float4*>(p));
#endif
}

// The same for one value of any type (the split decode product's last block reads the other blocks' sums of squares
// so).
template <typename T>
DMS_DEVICE T load_cg(const T* p) {
#ifdef DMS_EMU
    return *p;
#else
    return __ldcg(p);
#endif
}

// 16-byte load of data read once (weights in a GEMV, K/V in attention): read-only path, not kept in L1, so
// that L1 keeps what is reused (the activations).
DMS_DEVICE uint4 load16_stream(const void* p) {
#ifdef DMS_EMU
    return *reinterpret_cast<const uint4*>(p);
#else
    uint4 v;
    asm("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];\n"
        : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w)
        : "l"(p));
    return v;
#endif
}

// Programmatic dependent launch (sm_90; Java launches with it when dms.cuda.pdl is on: CudaContext, PdlLaunch). A
// kernel launched so may start while the kernel before it in the stream still runs, once every block of that one has
// called pdl_trigger (or exited). So every kernel of this fatbin calls pdl_wait before it writes anything and before it
// reads what the kernel just before it writes: pdl_wait returns when the kernel before has completed and its
// writes are visible (and that one waited for its own, so all earlier work is done too). Before pdl_wait a kernel may
// read weights (no kernel writes them: the warpgroup decode product copies its first W tiles there), and what launches
// two or more before it wrote, never what the launch just before writes: a block triggers only after its wait (or
// exits), and in every kernel at least one block waits, so a kernel starts only once the one two before it has
// completed. The balanced decode attention lays out its page lists there (page-table lengths, the step's rows).
// native/build.sh checks that every entry of the sm_90a PTX has the wait. Without the launch attribute, on sm_80 and
// in the emulator the calls do nothing.
//
// Where a block triggers (dms_pdl_trigger_at, which CudaContext sets from dms.cuda.pdl-trigger): 0 at its exit only
// (the value without programmatic launch); 1 (late) short kernels right after their wait (pdl_begin), long ones after
// their main loop (pdl_late: the decode products) or at exit (attention, the prefill products, sampling); 2 every
// kernel right after its wait; 3 (short) short kernels right after their wait, long ones at exit: only a kernel after a
// short one starts early, over the short one's few blocks (in a decode step the attention after the q/k norm and RoPE
// with its KV write, the o product after the merge); 4 (gemv, CudaContext's default) as 3, and the GEMVs of one-token
// steps after their main loop (pdl_late_gemv), so that the next kernel's launch overlaps their reduction. On the H200,
// 1 and 2 made a 16 x 32K DMS step 13% slower (the next kernel's blocks sit on the multiprocessors, waiting, while the
// one before still runs) and batch 1 about 1% faster; 0 neither; 3 both 1-1.6% faster (docs/benchmarks.md, fourteenth
// pass); 4 batch 1 1.1% faster than 3, steady, where triggering every GEMV of up to 8 tokens late made batch 8 1.2%
// slower (nineteenth pass).
DMS_DEVICE void pdl_trigger() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900 && !defined(DMS_EMU)
    asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
#endif
}
DMS_DEVICE void pdl_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900 && !defined(DMS_EMU)
    asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}
// A short kernel's start: the wait, then the trigger unless triggers are at exit.
DMS_DEVICE void pdl_begin() {
    pdl_wait();
    if (dms_pdl_trigger_at != 0) {
        pdl_trigger();
    }
}
// A long kernel's start: the wait, then the trigger only when every kernel triggers at its start.
DMS_DEVICE void pdl_begin_long() {
    pdl_wait();
    if (dms_pdl_trigger_at == 2) {
        pdl_trigger();
    }
}
// A long kernel's main loop done (its loads issued): the trigger when triggers are late.
DMS_DEVICE void pdl_late() {
    if (dms_pdl_trigger_at == 1) {
        pdl_trigger();
    }
}
// The main loop of a GEMV of T tokens (matmul.cu) done: the trigger when triggers are late, or under 4 (gemv) for one
// token.
template <int T>
DMS_DEVICE void pdl_late_gemv() {
    if (dms_pdl_trigger_at == 1 || (T == 1 && dms_pdl_trigger_at == 4)) {
        pdl_trigger();
    }
}

// silu(g) · u as Ops.swiglu computes it: silu(g) = g / (1 + e^-g) in double, rounded to fp32, times u in fp32
// (swiglu.cu, and the w1|w3 GEMV that ends in it, matmul.cu).
DMS_DEVICE float silu_mul(float g, float u) {
    const float silu = static_cast<float>(static_cast<double>(g) / (1.0 + exp(-static_cast<double>(g))));
    return __fmul_rn(silu, u);
}

// ---------------------------------------------------------------------------------------------------
// Reductions. Every lane of the warp must take part (full mask).

DMS_DEVICE float warp_sum(float v) {
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) {
        v += __shfl_xor_sync(DMS_FULL_MASK, v, offset);
    }
    return v;
}

DMS_DEVICE double warp_sum(double v) {
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) {
        v += __shfl_xor_sync(DMS_FULL_MASK, v, offset);
    }
    return v;
}

DMS_DEVICE float warp_max(float v) {
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) {
        v = fmaxf(v, __shfl_xor_sync(DMS_FULL_MASK, v, offset));
    }
    return v;
}

DMS_DEVICE int warp_sum_int(int v) {
#pragma unroll
    for (int offset = 16; offset > 0; offset >>= 1) {
        v += __shfl_xor_sync(DMS_FULL_MASK, v, offset);
    }
    return v;
}

// Sum over the whole block (blockDim.x a multiple of 32, at most 1024); every thread gets the result.
// scratch: 32 floats of shared memory; the call ends with a barrier, so scratch may be reused after it.
DMS_DEVICE float block_sum(float v, float* scratch) {
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int warps = blockDim.x >> 5;
    v = warp_sum(v);
    if (lane == 0) {
        scratch[warp] = v;
    }
    __syncthreads();
    float total = 0.f;
    if (warp == 0) {
        total = lane < warps ? scratch[lane] : 0.f;
        total = warp_sum(total);
        if (lane == 0) {
            scratch[0] = total;
        }
    }
    __syncthreads();
    total = scratch[0];
    __syncthreads();
    return total;
}

DMS_DEVICE double block_sum(double v, double* scratch) {
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int warps = blockDim.x >> 5;
    v = warp_sum(v);
    if (lane == 0) {
        scratch[warp] = v;
    }
    __syncthreads();
    double total = 0.0;
    if (warp == 0) {
        total = lane < warps ? scratch[lane] : 0.0;
        total = warp_sum(total);
        if (lane == 0) {
            scratch[0] = total;
        }
    }
    __syncthreads();
    total = scratch[0];
    __syncthreads();
    return total;
}

DMS_DEVICE float block_max(float v, float* scratch) {
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int warps = blockDim.x >> 5;
    v = warp_max(v);
    if (lane == 0) {
        scratch[warp] = v;
    }
    __syncthreads();
    float total = -INFINITY;
    if (warp == 0) {
        total = lane < warps ? scratch[lane] : -INFINITY;
        total = warp_max(total);
        if (lane == 0) {
            scratch[0] = total;
        }
    }
    __syncthreads();
    total = scratch[0];
    __syncthreads();
    return total;
}

// ---------------------------------------------------------------------------------------------------
// The counter-based random numbers shared with Java (sampling): u = (splitmix64(seed ^ splitmix64(draw))
// >> 11) * 2^-53, uniform in [0, 1).

__host__ __device__ __forceinline__ uint64_t splitmix64(uint64_t x) {
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

__host__ __device__ __forceinline__ double uniform_draw(uint64_t seed, uint64_t drawIndex) {
    return static_cast<double>(splitmix64(seed ^ splitmix64(drawIndex)) >> 11) * 0x1.0p-53;
}

// ---------------------------------------------------------------------------------------------------
// Tensor-core and asynchronous-copy primitives (sm_80+ PTX; the emulator has the same semantics).

#ifndef DMS_EMU

DMS_DEVICE uint32_t smem_addr(const void* p) {
    return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

// 16-byte global -> shared copy, bypassing L1; when !valid, the 16 bytes are zero-filled and gmem is not
// read (it must still be a valid-looking address: pass any in-bounds pointer).
DMS_DEVICE void cp_async16(void* smem, const void* gmem, bool valid) {
    const int size = valid ? 16 : 0;
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(smem)), "l"(gmem), "r"(size));
}
DMS_DEVICE void cp_async_commit() {
    asm volatile("cp.async.commit_group;\n" ::);
}
template <int N>
DMS_DEVICE void cp_async_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

// Four 8x8 b16 matrices; lane l gives the address of row (l % 8) of matrix (l / 8).
DMS_DEVICE void ldmatrix_x4(uint32_t r[4], const void* smem_row) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_addr(smem_row)));
}
DMS_DEVICE void ldmatrix_x4_trans(uint32_t r[4], const void* smem_row) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem_addr(smem_row)));
}

// D = A(16x16, row) * B(16x8, col) + C, bf16 inputs, fp32 accumulators, in place on c.
DMS_DEVICE void mma_bf16_16816(float c[4], const uint32_t a[4], const uint32_t b[2]) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

#else

DMS_DEVICE uint32_t smem_addr(const void* p) {
    return emu::smem_addr(p);
}
DMS_DEVICE void cp_async16(void* smem, const void* gmem, bool valid) {
    emu::cp_async16(smem, gmem, valid);
}
DMS_DEVICE void cp_async_commit() {
    emu::cp_async_commit();
}
template <int N>
DMS_DEVICE void cp_async_wait() {
    emu::cp_async_wait(N);
}
DMS_DEVICE void ldmatrix_x4(uint32_t r[4], const void* smem_row) {
    emu::ldmatrix_x4(r, smem_row, false);
}
DMS_DEVICE void ldmatrix_x4_trans(uint32_t r[4], const void* smem_row) {
    emu::ldmatrix_x4(r, smem_row, true);
}
DMS_DEVICE void mma_bf16_16816(float c[4], const uint32_t a[4], const uint32_t b[2]) {
    emu::mma_bf16_16816(c, a, b);
}

#endif

__host__ __device__ __forceinline__ int ceil_div(long long a, long long b) {
    return static_cast<int>((a + b - 1) / b);
}

__host__ __device__ __forceinline__ bool aligned16(const void* p) {
    return (reinterpret_cast<uintptr_t>(p) & 15u) == 0;
}

}  // namespace dms
