// decode_chain.cuh: an experiment, not part of the fatbin (chain_bench times it, kernel_test checks it): a one-token
// decode step's products from o to the next layer's q|k|v in one persistent launch. CPU: the same products as
// cpu/MatMul and Ops (wo, then RMSNorm, w1|w3 and SwiGLU, w2, then the next layer's RMSNorm and wq|wk|wv).
//
// Why it was tried: at batch 1 a layer runs o, gate|up, down and the next layer's q|k|v as four GEMV launches, and
// every seam between two dependent launches leaves the memory idle while the last blocks of one drain and the next ramp
// up. Here one block a multiprocessor runs the four products as phases separated by a grid-wide barrier, each warp's
// first weight slices of the next phase in flight before it waits at the barrier.
// What it gave (H200, 2026-12-02, docs/benchmarks.md "twenty-fourth pass"): slower. The four GEMVs with programmatic
// launch take 104 µs a layer in chain_bench (3.71 TB/s of the 386 MB); this chain 127-128 µs, and 111 µs as four
// single-phase launches (so the three barriers, each with its drain, L2 staging and restart, cost about 17 µs, and the
// streaming itself about 7 µs more than the GEMVs'); slices of 1024 weights, deeper register pipelines, a cp.async
// ring and 1,024 threads were all slower still; batch 1 at 4K in the backend 176 against 211 tokens/s. A persistent
// chain would need the weights of the next phase deep in flight through the barrier (shared memory filled by bulk
// copies from a producer warp), a cheaper barrier, and streaming as good as the GEMVs' many short blocks.
//
// Phases (p), each a GEMV y = W · v with fp32 v staged in shared memory:
//   0  x[r] += wo[r] · att                             r < hidden, k = qDim     (the residual add of the o product)
//   1  h[j]  = silu(s g_j) (s u_j), g_j = w13[j] · (γ_ffn ⊙ x), u_j = w13[inter + j] · (γ_ffn ⊙ x),
//            s = 1 / sqrt(mean(x²) + eps)              j < inter,  k = hidden   (RMSNorm folded in, as gemv NORM)
//   2  x[r] += w2[r] · h                               r < hidden, k = inter
//   3  qkv[r] = s' (wqkv[r] · (γ_attn ⊙ x))            r < qkvDim, k = hidden   (the next layer's; absent at the last)
// Each block takes a contiguous share of a phase's rows (Share below); its warps read the share in slices, each
// slice's sum into shared memory, the slices of a row added in order after the block's barrier, so that every value
// has one summation order whatever the launch. Values differ from the four GEMVs' in the last bits.
//
// The grid barrier needs every block resident: grid = at most one block a multiprocessor, and under programmatic
// launch the kernel triggers its dependents only at the start of its last phase, after a barrier every block has
// passed (a dependent started earlier could take a multiprocessor a block of this kernel still waits for). barrier: two
// words, zero before the first launch; every launch leaves them as a launch expects them (the count back at 0, the
// generation moved on). The emulator runs blocks one after another, so its launcher (dms_decode_chain) runs one
// launch a phase there: the phases' arithmetic is checked on the emulator, the barrier on the device.
//
//   att    fp32 (qDim)              the merged attention output
//   x      fp32 (hidden)            the residual stream, updated in place
//   h      fp32 (inter)             SwiGLU's output (the w1|w3 GEMV's h: gu's first inter values)
//   qkv    fp32 (qkvDim)            the next layer's raw q|k|v rows (null with wqkv when lastPhase < 3)
//   wo (hidden, qDim), w13 (2 inter, hidden), w2 (hidden, inter), wqkv (qkvDim, hidden): bf16, row-major
//   ffnGamma, attnGamma (hidden) bf16; eps the norms'
// Block DMS_CHAIN_THREADS, dynamic shared memory chain::chain_smem. hidden, qDim, inter multiples of 8, every pointer
// 16-byte aligned. Included after ../all.cu (dms.cuh).
#pragma once

#define DMS_CHAIN_THREADS 512
#define DMS_CHAIN_WARPS (DMS_CHAIN_THREADS / 32)
#define DMS_CHAIN_COPIES 8  // 16-byte loads a lane a slice: a slice is 32 x 8 x 8 = 2048 weights of one row
#define DMS_CHAIN_DEPTH 2   // slices a lane holds: one in flight while one is summed

struct ChainArgs {
    const float* att;
    const bf16_t* wo;
    float* x;
    const bf16_t* ffnGamma;
    const bf16_t* w13;
    float* h;
    const bf16_t* w2;
    const bf16_t* attnGamma;
    const bf16_t* wqkv;
    float* qkv;
    int hidden, qDim, inter, qkvDim;
    float eps;
    unsigned* barrier;  // [0] arrivals, [1] generation
};

namespace chain {

// Phase p's shape: items, rows an item, k, and the weights.
struct Phase {
    int items, rows, k;
    const bf16_t* w;
};

DMS_DEVICE Phase phase_of(const ChainArgs& a, int p) {
    switch (p) {
        case 0:
            return {a.hidden, 1, a.qDim, a.wo};
        case 1:
            return {a.inter, 2, a.hidden, a.w13};
        case 2:
            return {a.hidden, 1, a.inter, a.w2};
        default:
            return {a.qkvDim, 1, a.hidden, a.wqkv};
    }
}

// Phase p's input into v (shared); for the norm phases the block's s (every block the same bits) is returned. Four
// values a load, up to eight loads a thread in flight before their stores.
DMS_DEVICE float stage(const ChainArgs& a, int p, float* v, float* scratch) {
    const float* src = p == 0 ? a.att : p == 2 ? a.h : a.x;
    const int k = p == 0 ? a.qDim : p == 2 ? a.inter : a.hidden;
    const bf16_t* gamma = p == 1 ? a.ffnGamma : a.attnGamma;
    const bool norm = p == 1 || p == 3;
    float q = 0.f;
    constexpr int AHEAD = 8;
    for (int e0 = 4 * threadIdx.x; e0 < k; e0 += 4 * AHEAD * blockDim.x) {
        float4 got[AHEAD];
#pragma unroll
        for (int u = 0; u < AHEAD; u++) {
            const int e = e0 + 4 * u * blockDim.x;
            got[u] = e < k ? dms::load16f_cg(src + e) : make_float4(0.f, 0.f, 0.f, 0.f);
        }
#pragma unroll
        for (int u = 0; u < AHEAD; u++) {
            const int e = e0 + 4 * u * blockDim.x;
            if (e < k) {
                float4 value = got[u];
                if (norm) {
                    q = fmaf(value.x, value.x, q);
                    q = fmaf(value.y, value.y, q);
                    q = fmaf(value.z, value.z, q);
                    q = fmaf(value.w, value.w, q);
                    value.x = __fmul_rn(value.x, dms::bf16_to_f32(gamma[e]));
                    value.y = __fmul_rn(value.y, dms::bf16_to_f32(gamma[e + 1]));
                    value.z = __fmul_rn(value.z, dms::bf16_to_f32(gamma[e + 2]));
                    value.w = __fmul_rn(value.w, dms::bf16_to_f32(gamma[e + 3]));
                }
                *reinterpret_cast<float4*>(v + e) = value;
            }
        }
    }
    float s = 1.f;
    if (norm) {
        q = dms::warp_sum(q);
        if ((threadIdx.x & 31) == 0) {
            scratch[threadIdx.x >> 5] = q;
        }
    }
    __syncthreads();
    if (norm) {
        float total = 0.f;
        for (int w = 0; w < static_cast<int>(blockDim.x >> 5); w++) {
            total += scratch[w];
        }
        const float meanSquare = __fadd_rn(__fdiv_rn(total, static_cast<float>(k)), a.eps);
        s = static_cast<float>(1.0 / sqrt(static_cast<double>(meanSquare)));
    }
    return s;
}

// A block's share of phase p: rows [r0, r0 + n) of the phase's row sequence (for SwiGLU, the gate rows of features
// [f0, f0 + n / 2) and then their up rows), in slices of SLICE weights; slice i of the share is local row i / per,
// slice i % per of it. Shares are contiguous (balanced: b m / blocks to (b + 1) m / blocks), so that the block's loads
// in flight cover one contiguous stretch of W, as a GEMV block's do.
template <int SLICE>
struct Share {
    const bf16_t* w;
    int k, per, n, first, half;  // per: slices a row; n: rows; first: the first item; half: SwiGLU's features, else 0
    DMS_DEVICE Share(const ChainArgs& a, int p) {
        const Phase ph = phase_of(a, p);
        w = ph.w;
        k = ph.k;
        per = (k + SLICE - 1) / SLICE;
        const int b = blockIdx.x, blocks = gridDim.x;
        first = static_cast<int>(static_cast<long long>(b) * ph.items / blocks);
        const int items = static_cast<int>(static_cast<long long>(b + 1) * ph.items / blocks) - first;
        half = p == 1 ? items : 0;
        n = items * ph.rows;
    }
    DMS_DEVICE int slices() const {
        return n * per;
    }
    // Weight row of local row lr: SwiGLU's second half the up rows inter + f.
    DMS_DEVICE const bf16_t* row(const ChainArgs& a, int lr) const {
        const int r = half > 0 && lr >= half ? a.inter + first + lr - half : first + lr;
        return w + static_cast<size_t>(r) * k;
    }
};

// One thread a block: its block's arrival, then the wait for the last block's (count and generation; the count back at
// 0 for the next barrier). Fences around the count: the writes before it are visible to every block after it (loads
// after it go through L2: load_cg). The block's own threads are synchronised around it by the caller.
DMS_DEVICE void grid_arrive_wait(unsigned* barrier) {
    volatile unsigned* generation = barrier + 1;
    const unsigned g = *generation;
    __threadfence();
    if (atomicAdd(barrier, 1u) == gridDim.x - 1) {
        atomicExch(barrier, 0u);
        __threadfence();
        atomicAdd(barrier + 1, 1u);
    } else {
        while (*generation == g) {
#if defined(__CUDA_ARCH__) && !defined(DMS_EMU)
            __nanosleep(32);
#endif
        }
    }
    __threadfence();
}

// Every block's arrival, then the wait for the last.
DMS_DEVICE void grid_barrier(unsigned* barrier) {
    __syncthreads();
    if (threadIdx.x == 0) {
        grid_arrive_wait(barrier);
    }
    __syncthreads();
}

// The chain with C 16-byte loads a lane a slice (a slice: 256 C weights of one row) and D slices a lane holds in
// registers (D - 1 in flight while one is summed). Warp w of a block takes its share's slices w, w + warps, ...; a
// slice's sum goes to partial[local row][slice], and after the block's barrier each row's partials are added in slice
// order (so every value has one order, whatever the grid). The warp's loads run ahead across phases: before a grid
// barrier each warp has its first slices of the next phase in flight.
// Shared memory: v (4 maxK bytes), then partial (4 x the largest share's slices).
// S > 0 (an experiment of chain_bench): the weights through a ring of S slices a lane in shared memory (cp.async, each
// lane summing the 16-byte pieces it copied itself, so that its own wait_group is all the ring needs) instead of D
// register buffers; the ring after the partials.
template <int C, int D, int S = 0>
DMS_DEVICE void decode_chain(const ChainArgs& a, int firstPhase, int lastPhase, int partials = 0) {
    constexpr int SLICE = 256 * C;
    DMS_SHARED(float, scratch, 32);  // a value a warp
    DMS_DYNAMIC_SMEM(smem);
    const int maxK = max(a.qDim, max(a.hidden, a.inter));
    float* v = reinterpret_cast<float*>(smem);
    float* partial = v + (maxK + 3) / 4 * 4;
    uint4* ring = reinterpret_cast<uint4*>(partial + (partials + 3) / 4 * 4);
    const auto slot = [&](int i, int u) {
        return ring + (static_cast<size_t>(i % (S > 0 ? S : 1)) * C + u) * blockDim.x + threadIdx.x;
    };
    int issued = 0;
    int consumed = 0;
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    const int warps = blockDim.x >> 5;

    // The loads side: phase lp, slice index li of its share (warp, warp + warps, ...). Only the two stay live; the
    // share's numbers are computed again from the arguments (constant memory) where a load needs them.
    int lp = firstPhase;
    int li = warp;
    const auto settle = [&]() {  // past the share's end: the next phase's first
        while (lp < lastPhase && li >= Share<SLICE>(a, lp).slices()) {
            lp++;
            li = warp;
        }
    };
    settle();
    uint4 buf[S > 0 ? 1 : D][C];
    const auto load = [&](uint4 (&into)[C]) {
        const Share<SLICE> ls(a, lp);
        if (li < ls.slices()) {
            const int lr = li / ls.per, sl = li - lr * ls.per;
            const bf16_t* row = ls.row(a, lr);
            const int chunks = ls.k >> 3;
#pragma unroll
            for (int u = 0; u < C; u++) {
                const int c = sl * (SLICE / 8) + lane + 32 * u;
                if constexpr (S > 0) {
                    if (c < chunks) {
                        dms::cp_async16(slot(issued, u), row + 8 * c, true);
                    }
                } else {
                    into[u] = c < chunks ? dms::load16_stream(row + 8 * c) : make_uint4(0, 0, 0, 0);
                }
            }
            li += warps;
            settle();
        }
        if constexpr (S > 0) {
            dms::cp_async_commit();  // empty past the end: the group counts stay even
            issued++;
        }
    };
    // The first slices' weights before the wait (no kernel writes weights, dms.cuh).
    constexpr int AHEAD = S > 0 ? S - 1 : D - 1;
#pragma unroll
    for (int d = 0; d < AHEAD; d++) {
        load(buf[S > 0 ? 0 : d]);
    }
    dms::pdl_wait();
    for (int p = firstPhase; p <= lastPhase; p++) {
        if (p > firstPhase) {
            grid_barrier(a.barrier);
        }
        if (p == lastPhase && dms_pdl_trigger_at != 0) {
            dms::pdl_trigger();  // every block is resident: a barrier is behind, or there is none
        }
        const float scale = stage(a, p, v, scratch);
        __syncthreads();
        const Share<SLICE> sh(a, p);
        const int chunks = sh.k >> 3;
        for (int i = warp; i < sh.slices(); i += warps) {
            load(buf[S > 0 ? 0 : D - 1]);  // AHEAD slices ahead (maybe of a later phase)
            if constexpr (S > 0) {
                dms::cp_async_wait<S - 1>();  // this lane's pieces of the slice have landed
            }
            const int lr = i / sh.per, sl = i - lr * sh.per;
            float sum = 0.f;
#pragma unroll
            for (int u = 0; u < C; u++) {
                const int c = sl * (SLICE / 8) + lane + 32 * u;
                if (c < chunks) {
                    float wf[8];
                    if constexpr (S > 0) {
                        dms::unpack_bf16x8(*slot(consumed, u), wf);
                    } else {
                        dms::unpack_bf16x8(buf[0][u], wf);
                    }
                    const float4 v0 = *reinterpret_cast<const float4*>(v + 8 * c);
                    const float4 v1 = *reinterpret_cast<const float4*>(v + 8 * c + 4);
                    sum = fmaf(wf[0], v0.x, sum);
                    sum = fmaf(wf[1], v0.y, sum);
                    sum = fmaf(wf[2], v0.z, sum);
                    sum = fmaf(wf[3], v0.w, sum);
                    sum = fmaf(wf[4], v1.x, sum);
                    sum = fmaf(wf[5], v1.y, sum);
                    sum = fmaf(wf[6], v1.z, sum);
                    sum = fmaf(wf[7], v1.w, sum);
                }
            }
            sum = dms::warp_sum(sum);
            if (lane == 0) {
                partial[i] = sum;
            }
            consumed++;
            if constexpr (S == 0) {
#pragma unroll
                for (int d = 0; d < D - 1; d++) {
#pragma unroll
                    for (int u = 0; u < C; u++) {
                        buf[d][u] = buf[d + 1][u];
                    }
                }
            }
        }
        __syncthreads();
        // The share's outputs: each row's partials in slice order.
        const int outputs = sh.half > 0 ? sh.half : sh.n;
        for (int e = threadIdx.x; e < outputs; e += blockDim.x) {
            float s0 = 0.f;
            for (int q = 0; q < sh.per; q++) {
                s0 += partial[e * sh.per + q];
            }
            const int item = sh.first + e;
            if (p == 0 || p == 2) {
                a.x[item] = dms::load_cg(a.x + item) + s0;
            } else if (p == 1) {
                float s1 = 0.f;
                for (int q = 0; q < sh.per; q++) {
                    s1 += partial[(sh.half + e) * sh.per + q];
                }
                a.h[item] = dms::silu_mul(__fmul_rn(s0, scale), __fmul_rn(s1, scale));
            } else {
                a.qkv[item] = __fmul_rn(s0, scale);
            }
        }
    }
    if constexpr (S > 0) {
        dms::cp_async_wait<0>();
    }
}

// The partials of the largest share on `blocks` blocks.
__host__ __device__ inline int chain_partials(int hidden, int qDim, int inter, int qkvDim, int copies, int blocks) {
    const int slice = 256 * copies;
    const int shares[4][3] = {{hidden, 1, qDim}, {inter, 2, hidden}, {hidden, 1, inter}, {qkvDim, 1, hidden}};
    int most = 0;
    for (const auto& s : shares) {
        most = max(most, ((s[0] + blocks - 1) / blocks + 1) * s[1] * ((s[2] + slice - 1) / slice));
    }
    return most;
}

// Shared memory the chain takes on `blocks` blocks: v, the partials, and a ring of `slots` slices a lane (none: 0).
__host__ __device__ inline int chain_smem(int hidden, int qDim, int inter, int qkvDim, int copies, int blocks,
                                          int slots = 0) {
    const int maxK = max(qDim, max(hidden, inter));
    const int partials = chain_partials(hidden, qDim, inter, qkvDim, copies, blocks);
    return 4 * ((maxK + 3) / 4 * 4) + 4 * ((partials + 3) / 4 * 4) + 16 * copies * slots * DMS_CHAIN_THREADS;
}

}  // namespace chain

// The kernel's parameters one by one (as Java's KernelArgs would pass them: scalars and pointers, not structs).
extern "C" __global__ void __launch_bounds__(DMS_CHAIN_THREADS, 1)
    dms_decode_chain_f32(const float* att, const bf16_t* wo, float* x, const bf16_t* ffnGamma, const bf16_t* w13,
                         float* h, const bf16_t* w2, const bf16_t* attnGamma, const bf16_t* wqkv, float* qkv,
                         int hidden, int qDim, int inter, int qkvDim, float eps, unsigned* barrier, int firstPhase,
                         int lastPhase) {
    const ChainArgs a{att, wo, x, ffnGamma, w13, h, w2, attnGamma, wqkv, qkv, hidden, qDim, inter, qkvDim, eps,
                      barrier};
    chain::decode_chain<DMS_CHAIN_COPIES, DMS_CHAIN_DEPTH>(a, firstPhase, lastPhase);
}
#define DMS_CHAIN_FLAT(a) \
    (a).att, (a).wo, (a).x, (a).ffnGamma, (a).w13, (a).h, (a).w2, (a).attnGamma, (a).wqkv, (a).qkv, (a).hidden, \
        (a).qDim, (a).inter, (a).qkvDim, (a).eps, (a).barrier

// Phases firstPhase to lastPhase (0 to 2 without the next layer's q|k|v, 0 to 3 with it; one phase alone for the
// tests) of the chain above, on `blocks` blocks (at most the blocks resident at once: one a multiprocessor). The
// barrier's two words must be zero before the first launch and not shared with a launch that may run at the same time.
// On the emulator, one launch a phase (its blocks run one after another: no grid barrier can wait there).
extern "C" cudaError_t dms_decode_chain(ChainArgs a, int firstPhase, int lastPhase, int blocks, cudaStream_t stream) {
    DMS_CHECK(a.att != nullptr && a.wo != nullptr && a.x != nullptr && a.ffnGamma != nullptr && a.w13 != nullptr &&
              a.h != nullptr && a.w2 != nullptr && a.barrier != nullptr && blocks >= 1);
    DMS_CHECK(firstPhase >= 0 && firstPhase <= lastPhase && lastPhase <= 3);
    DMS_CHECK(lastPhase <= 2 || (lastPhase == 3 && a.attnGamma != nullptr && a.wqkv != nullptr && a.qkv != nullptr &&
                                 a.qkvDim >= 1));
    DMS_CHECK(a.hidden >= 8 && a.qDim >= 8 && a.inter >= 8 && a.hidden % 8 == 0 && a.qDim % 8 == 0 &&
              a.inter % 8 == 0 && a.eps >= 0.f);
    DMS_CHECK(dms::aligned16(a.att) && dms::aligned16(a.wo) && dms::aligned16(a.w13) && dms::aligned16(a.w2) &&
              (lastPhase < 3 || dms::aligned16(a.wqkv)) && dms::aligned16(a.x) && dms::aligned16(a.h));
    const int smem = chain::chain_smem(a.hidden, a.qDim, a.inter, a.qkvDim, DMS_CHAIN_COPIES, blocks);
#ifdef DMS_EMU
    for (int p = firstPhase; p <= lastPhase; p++) {
        DMS_LAUNCH(dms_decode_chain_f32, blocks, DMS_CHAIN_THREADS, smem, stream, DMS_CHAIN_FLAT(a), p, p);
    }
#else
    cudaError_t e = cudaFuncSetAttribute(dms_decode_chain_f32, cudaFuncAttributeMaxDynamicSharedMemorySize, smem);
    if (e != cudaSuccess) {
        return e;
    }
    DMS_LAUNCH(dms_decode_chain_f32, blocks, DMS_CHAIN_THREADS, smem, stream, DMS_CHAIN_FLAT(a), firstPhase,
               lastPhase);
#endif
    return cudaGetLastError();
}
