// emu.h: a small CUDA emulator, so that the kernels of native/ can be tested on a machine without a GPU.
//
// Compiling a .cu file with -DDMS_EMU -x c++ turns its kernels into plain C++ functions; emu::launch runs
// the grid one block at a time, each CUDA thread as a fiber (ucontext) of one OS thread. Fibers switch
// only at synchronisation points (__syncthreads, __syncwarp, shuffles, votes, ldmatrix, mma), so:
//   - a warp collective needs all 32 lanes of the warp (full mask, converged), as on Volta and later;
//   - a missing barrier shows as a read of poison: shared memory (DMS_SHARED, DMS_DYNAMIC_SMEM) is filled
//     with 0xFF bytes (NaN as float or bf16, -1 as int) at the start of every block;
//   - threads waiting at different barriers report a deadlock with the kernel's name;
//   - asynchronous copies and products land as late as the device allows: cp.async writes shared memory when its
//     thread waits for the copy's group, wgmma.mma_async runs when its thread waits for its group, so a stage read
//     before its copies were waited for, or overwritten before the products that read it were, shows;
//   - the dynamic shared memory's address starts at 1040, not at a multiple of 1024, so tiles that need 1024-byte
//     alignment (the 128-byte swizzle) must be aligned by the kernel, as on the device.
// What it does not model: memory ordering between blocks (blocks run one after another), timing, the order in which
// warps run between barriers (round robin: a missing barrier between warps may go unseen), proxy fences, the
// rounding order inside mma (sums of exact products in fp32, in k order), and anything not used here.
#pragma once

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <utility>
#include <vector>

// ---------------------------------------------------------------------------------------------------
// Language surface.

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__
#define __launch_bounds__(...)
#define __restrict__ __restrict
#define __align__(n) __attribute__((aligned(n)))

struct dim3 {
    unsigned x, y, z;
    constexpr dim3(unsigned x_ = 1, unsigned y_ = 1, unsigned z_ = 1) : x(x_), y(y_), z(z_) {
    }
};
struct uint3 {
    unsigned x, y, z;
};
struct alignas(16) uint4 {
    unsigned x, y, z, w;
};
struct alignas(16) int4 {
    int x, y, z, w;
};
struct alignas(16) float4 {
    float x, y, z, w;
};
struct alignas(8) float2 {
    float x, y;
};
struct alignas(8) int2 {
    int x, y;
};
struct alignas(8) uint2 {
    unsigned x, y;
};
struct alignas(16) double2 {
    double x, y;
};
inline float2 make_float2(float x, float y) {
    return {x, y};
}
inline float4 make_float4(float x, float y, float z, float w) {
    return {x, y, z, w};
}
inline int2 make_int2(int x, int y) {
    return {x, y};
}
inline uint2 make_uint2(unsigned x, unsigned y) {
    return {x, y};
}
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) {
    return {x, y, z, w};
}

typedef int cudaError_t;
typedef void* cudaStream_t;
enum {
    cudaSuccess = 0,
    cudaErrorInvalidValue = 1,
    cudaErrorNotSupported = 801,
    cudaErrorLaunchFailure = 719,
};
inline cudaError_t cudaGetLastError() {
    return cudaSuccess;
}
inline const char* cudaGetErrorString(cudaError_t e) {
    return e == cudaSuccess                ? "no error"
           : e == cudaErrorInvalidValue    ? "invalid argument"
           : e == cudaErrorNotSupported    ? "operation not supported"
                                           : "launch failure";
}
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };
template <class F>
inline cudaError_t cudaFuncSetAttribute(F*, cudaFuncAttribute, int) {
    return cudaSuccess;
}

using std::max;
using std::min;

inline float __uint_as_float(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}
inline uint32_t __float_as_uint(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
inline int __float_as_int(float f) {
    int u;
    memcpy(&u, &f, 4);
    return u;
}
inline long long __double_as_longlong(double d) {
    long long u;
    memcpy(&u, &d, 8);
    return u;
}
inline double __longlong_as_double(long long u) {
    double d;
    memcpy(&d, &u, 8);
    return d;
}
inline int __popc(unsigned v) {
    return __builtin_popcount(v);
}
inline int __popcll(unsigned long long v) {
    return __builtin_popcountll(v);
}
inline int __ffs(unsigned v) {
    return __builtin_ffs(static_cast<int>(v));
}
inline int __clz(unsigned v) {
    return v == 0 ? 32 : __builtin_clz(v);
}
inline float __expf(float x) {
    return expf(x);
}
inline float __logf(float x) {
    return logf(x);
}
inline float rsqrtf(float x) {
    return 1.0f / sqrtf(x);
}
inline float __fadd_rn(float a, float b) {
    return a + b;
}
inline float __fsub_rn(float a, float b) {
    return a - b;
}
inline float __fmul_rn(float a, float b) {
    return a * b;
}
inline float __fdiv_rn(float a, float b) {
    return a / b;
}
inline float __fdividef(float a, float b) {
    return a / b;
}
template <class T>
inline T __ldg(const T* p) {
    return *p;
}
inline void __threadfence() {
}
inline void __threadfence_block() {
}

// Atomics: fibers never run at the same time, so plain read-modify-write is atomic here.
template <class T>
inline T atomicAdd(T* p, T v) {
    T old = *p;
    *p = old + v;
    return old;
}
template <class T>
inline T atomicMax(T* p, T v) {
    T old = *p;
    *p = old > v ? old : v;
    return old;
}
template <class T>
inline T atomicMin(T* p, T v) {
    T old = *p;
    *p = old < v ? old : v;
    return old;
}
template <class T>
inline T atomicOr(T* p, T v) {
    T old = *p;
    *p = old | v;
    return old;
}
template <class T>
inline T atomicExch(T* p, T v) {
    T old = *p;
    *p = v;
    return old;
}
template <class T>
inline T atomicCAS(T* p, T compare, T v) {
    T old = *p;
    if (old == compare) {
        *p = v;
    }
    return old;
}

// ---------------------------------------------------------------------------------------------------
// Fibers and the scheduler.

namespace emu {

enum class State { runnable, wait_block, wait_warp, wait_mbarrier, done };

// An emulator switch from the environment: false when `name` is unset or `off`, true when it is `on`; anything else
// stops the run with a message.
inline bool env_switch(const char* name, const char* off, const char* on) {
    const char* mode = getenv(name);
    if (mode == nullptr || strcmp(mode, off) == 0) {
        return false;
    }
    if (strcmp(mode, on) != 0) {
        fprintf(stderr, "emu: %s must be %s or %s, not '%s'\n", name, off, on, mode);
        abort();
    }
    return true;
}

// One cp.async of 16 bytes issued and not yet waited for: the bytes it read, written to dst at cp_async_wait.
struct CpAsyncCopy {
    unsigned char* dst;
    unsigned char bytes[16];
};

// One wgmma.mma_async issued and not yet waited for (see wgmma below).
struct WgmmaOp {
    float* d;
    int n;
    uint64_t descA, descB;
};

// A thread's asynchronous operations of one kind (cp.async, wgmma): issued, committed as groups, and carried out
// oldest group first when the thread waits for all but its `pending` newest groups (as wait_group does).
template <class Op>
struct AsyncGroups {
    std::vector<Op> open;                 // issued since the last commit
    std::vector<std::vector<Op>> groups;  // committed, oldest first
    void commit() {
        groups.push_back(std::move(open));
        open.clear();
    }
    template <class Run>
    void wait(int pending, Run run) {
        while (static_cast<int>(groups.size()) > pending) {
            for (const Op& op : groups.front()) {
                run(op);
            }
            groups.erase(groups.begin());
        }
    }
    bool empty() const {
        return open.empty() && groups.empty();
    }
    void clear() {
        open.clear();
        groups.clear();
    }
};

struct Fiber {
    ucontext_t ctx;
    uint3 tid;
    int linear;
    State state;
    AsyncGroups<WgmmaOp> wgmma;
    AsyncGroups<CpAsyncCopy> copies;
    std::vector<int> unfenced;  // 16-byte chunks of dynamic shared memory its cp.async wrote since its last proxy fence
    const void* mbarrier;       // the mbarrier it waits on (State::wait_mbarrier)
};

struct WarpState {
    int live = 0;
    int arrived = 0;
    int kind = 0;  // what the lanes waiting now are doing (checked to be the same for all)
    uint64_t slots[32];
    const void* ptrs[32];
    uint32_t frag[32][10];
};

constexpr size_t kStackBytes = 256 * 1024;
constexpr size_t kArenaBytes = 1 << 20;
constexpr int kMaxThreads = 1024;

struct Runtime {
    Fiber fibers[kMaxThreads];
    char* stacks = nullptr;
    ucontext_t scheduler;
    int threads = 0;
    int live = 0;
    int arrived_block = 0;
    int barrier_generation = 0;
    int barrier_count[2] = {0, 0};
    WarpState warps[kMaxThreads / 32];
    std::function<void()>* body = nullptr;
    const char* kernel = "";
    unsigned char* arena = nullptr;
    size_t arena_used = 0;
    std::vector<std::pair<const void*, size_t>> sites;
    unsigned char* dynamic = nullptr;
    size_t dynamic_bytes = 0;
    // Per 16-byte chunk of the dynamic shared memory: 1 + the thread whose cp.async wrote it last, until that thread's
    // next fence.proxy.async (0: none pending). wgmma reads through the async proxy, so it must not read such a chunk.
    std::vector<int> unfenced;
    // cp.async.bulk copies issued and not yet landed (each lands when the phase of its mbarrier completes), and the
    // bytes each mbarrier's current phase still expects (expect_tx adds, an issued copy takes its bytes).
    struct BulkCopy {
        const void* bar;
        unsigned char* dst;
        std::vector<unsigned char> bytes;
    };
    std::vector<BulkCopy> bulk;
    std::vector<std::pair<const void*, long long>> tx;
    long long switches = 0;
};

inline Runtime& rt() {
    static Runtime* r = [] {
        Runtime* x = new Runtime();
        x->stacks = static_cast<char*>(mmap(nullptr, kStackBytes * kMaxThreads, PROT_READ | PROT_WRITE,
                                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0));
        if (x->stacks == MAP_FAILED) {
            fprintf(stderr, "emu: cannot map fiber stacks\n");
            abort();
        }
        x->arena = static_cast<unsigned char*>(aligned_alloc(64, kArenaBytes));
        x->dynamic = static_cast<unsigned char*>(aligned_alloc(64, kArenaBytes));
        return x;
    }();
    return *r;
}

inline Fiber* g_cur = nullptr;
inline uint3 g_block_idx = {0, 0, 0};
inline dim3 g_block_dim;
inline dim3 g_grid_dim;

[[noreturn]] inline void fail(const char* what) {
    fprintf(stderr, "emu: kernel %s, block (%u,%u,%u), thread %d: %s\n", rt().kernel, g_block_idx.x, g_block_idx.y,
            g_block_idx.z, g_cur ? g_cur->linear : -1, what);
    abort();
}

inline void yield() {
    Runtime& r = rt();
    r.switches++;
    swapcontext(&g_cur->ctx, &r.scheduler);
}

inline void release_block_if_complete() {
    Runtime& r = rt();
    if (r.arrived_block > 0 && r.arrived_block == r.live) {
        for (int i = 0; i < r.threads; i++) {
            if (r.fibers[i].state == State::wait_block) {
                r.fibers[i].state = State::runnable;
            }
        }
        r.arrived_block = 0;
        r.barrier_generation++;
        r.barrier_count[r.barrier_generation & 1] = 0;  // for the next barrier; nobody has reached it yet
    }
}

inline void release_warp_if_complete(int w) {
    Runtime& r = rt();
    WarpState& ws = r.warps[w];
    if (ws.arrived > 0 && ws.arrived == ws.live) {
        for (int i = w * 32; i < std::min(r.threads, w * 32 + 32); i++) {
            if (r.fibers[i].state == State::wait_warp) {
                r.fibers[i].state = State::runnable;
            }
        }
        ws.arrived = 0;
    }
}

inline void syncthreads() {
    Runtime& r = rt();
    g_cur->state = State::wait_block;
    r.arrived_block++;
    release_block_if_complete();
    if (g_cur->state == State::wait_block) {
        yield();
    }
}

// Every live lane of the warp must arrive, doing the same kind of collective.
inline void warp_barrier(int kind) {
    Runtime& r = rt();
    int w = g_cur->linear / 32;
    WarpState& ws = r.warps[w];
    if (ws.live != 32) {
        fail("warp collective with fewer than 32 live lanes (a lane returned early, or blockDim is not a multiple of 32)");
    }
    if (ws.arrived == 0) {
        ws.kind = kind;
    } else if (ws.kind != kind) {
        fail("lanes of one warp are in different collectives (divergent shuffle/vote/mma)");
    }
    g_cur->state = State::wait_warp;
    ws.arrived++;
    release_warp_if_complete(w);
    if (g_cur->state == State::wait_warp) {
        yield();
    }
}

inline void check_mask(unsigned mask) {
    if (mask != 0xffffffffu) {
        fail("warp collective with a partial mask (not emulated)");
    }
}

inline int lane() {
    return g_cur->linear & 31;
}
inline WarpState& warp() {
    return rt().warps[g_cur->linear / 32];
}

enum Kind { kShfl = 1, kVote, kSync, kLdmatrix, kMma, kMatch };

template <class T>
inline T exchange(T v, int src, int kind) {
    static_assert(sizeof(T) <= 8, "emu: shuffle of a type over 8 bytes");
    WarpState& ws = warp();
    uint64_t bits = 0;
    memcpy(&bits, &v, sizeof(T));
    ws.slots[lane()] = bits;
    warp_barrier(kind);
    T out;
    uint64_t got = ws.slots[src & 31];
    memcpy(&out, &got, sizeof(T));
    warp_barrier(kind);
    return out;
}

inline void fiber_entry() {
    Runtime& r = rt();
    (*r.body)();
    if (!g_cur->wgmma.empty()) {
        fail("the thread returned with wgmma operations it never waited for");
    }
    // The thread has returned: it no longer counts for barriers.
    g_cur->state = State::done;
    r.live--;
    r.warps[g_cur->linear / 32].live--;
    release_block_if_complete();
    release_warp_if_complete(g_cur->linear / 32);
}

template <class T>
inline T* shared_array(const void* site, size_t count) {
    Runtime& r = rt();
    for (auto& s : r.sites) {
        if (s.first == site) {
            return reinterpret_cast<T*>(r.arena + s.second);
        }
    }
    size_t offset = (r.arena_used + 15) & ~size_t(15);
    size_t bytes = count * sizeof(T);
    if (offset + bytes > kArenaBytes) {
        fail("static shared memory over the emulator's arena");
    }
    r.arena_used = offset + bytes;
    r.sites.push_back({site, offset});
    return reinterpret_cast<T*>(r.arena + offset);
}

inline unsigned char* dynamic_smem() {
    return rt().dynamic;
}

// The order in which the scheduler runs the runnable threads, each until its next synchronisation point, from
// DMS_EMU_ORDER:
//   unset or "forward"  round robin from thread 0: warps move in near lockstep, one warp collective a pass;
//   "ahead"             always the first runnable thread from thread 0 again: warp 0 runs until it waits at a block
//                       barrier before warp 1 starts, and so on (the most skew between warps);
//   "behind"            the same from the last thread: the last warp runs ahead.
// A barrier missing between one warp's reads of shared memory and another warp's writes shows under "ahead" or
// "behind" where round robin hides it. Returns whether to restart the order after every thread that ran.
inline bool schedule(std::vector<int>& order) {
    static const char* mode = getenv("DMS_EMU_ORDER");
    const int n = static_cast<int>(order.size());
    if (mode == nullptr || strcmp(mode, "forward") == 0) {
        return false;
    }
    const bool behind = strcmp(mode, "behind") == 0;
    if (!behind && strcmp(mode, "ahead") != 0) {
        fprintf(stderr, "emu: DMS_EMU_ORDER must be forward, ahead or behind, not '%s'\n", mode);
        abort();
    }
    for (int i = 0; i < n; i++) {
        order[i] = behind ? n - 1 - i : i;
    }
    return true;
}

template <class F>
inline void launch(const char* name, dim3 grid, dim3 block, size_t smem, F&& kernel) {
    Runtime& r = rt();
    int threads = static_cast<int>(block.x * block.y * block.z);
    if (threads <= 0 || threads > kMaxThreads) {
        fprintf(stderr, "emu: kernel %s launched with %d threads per block\n", name, threads);
        abort();
    }
    if (grid.x == 0 || grid.y == 0 || grid.z == 0 || grid.y > 65535 || grid.z > 65535) {
        fprintf(stderr, "emu: kernel %s launched with grid (%u,%u,%u)\n", name, grid.x, grid.y, grid.z);
        abort();
    }
    if (smem > 227 * 1024) {
        fprintf(stderr, "emu: kernel %s asks for %zu bytes of dynamic shared memory\n", name, smem);
        abort();
    }
    std::function<void()> body = kernel;
    r.body = &body;
    r.kernel = name;
    r.threads = threads;
    r.dynamic_bytes = smem;
    g_block_dim = block;
    g_grid_dim = grid;
    for (unsigned bz = 0; bz < grid.z; bz++) {
        for (unsigned by = 0; by < grid.y; by++) {
            for (unsigned bx = 0; bx < grid.x; bx++) {
                g_block_idx = {bx, by, bz};
                memset(r.arena, 0xff, std::max<size_t>(r.arena_used, 4096));
                r.arena_used = 0;
                r.sites.clear();
                memset(r.dynamic, 0xff, smem > 0 ? smem : 16);
                r.unfenced.assign((smem + 15) / 16, 0);
                r.bulk.clear();
                r.tx.clear();
                r.live = threads;
                r.arrived_block = 0;
                r.barrier_generation = 0;
                r.barrier_count[0] = r.barrier_count[1] = 0;
                for (int w = 0; w < (threads + 31) / 32; w++) {
                    r.warps[w].live = std::min(32, threads - w * 32);
                    r.warps[w].arrived = 0;
                }
                for (int t = 0; t < threads; t++) {
                    Fiber& f = r.fibers[t];
                    f.linear = t;
                    f.tid = {static_cast<unsigned>(t % block.x), static_cast<unsigned>((t / block.x) % block.y),
                             static_cast<unsigned>(t / (block.x * block.y))};
                    f.state = State::runnable;
                    f.wgmma.clear();
                    f.copies.clear();
                    f.unfenced.clear();
                    getcontext(&f.ctx);
                    f.ctx.uc_stack.ss_sp = r.stacks + static_cast<size_t>(t) * kStackBytes;
                    f.ctx.uc_stack.ss_size = kStackBytes;
                    f.ctx.uc_link = &r.scheduler;
                    makecontext(&f.ctx, fiber_entry, 0);
                }
                int done = 0;
                std::vector<int> order(threads);
                for (int t = 0; t < threads; t++) {
                    order[t] = t;
                }
                while (done < threads) {
                    bool progress = false;
                    const bool greedy = schedule(order);
                    for (int i = 0; i < threads; i++) {
                        Fiber& f = r.fibers[order[i]];
                        if (f.state == State::runnable) {
                            g_cur = &f;
                            swapcontext(&r.scheduler, &f.ctx);
                            progress = true;
                            if (greedy) {
                                break;  // the first runnable thread in the order again: it runs ahead
                            }
                        }
                    }
                    done = 0;
                    for (int t = 0; t < threads; t++) {
                        done += r.fibers[t].state == State::done;
                    }
                    if (!progress && done < threads) {
                        g_cur = nullptr;
                        int at_block = 0, at_warp = 0, at_mbarrier = 0;
                        for (int t = 0; t < threads; t++) {
                            at_block += r.fibers[t].state == State::wait_block;
                            at_warp += r.fibers[t].state == State::wait_warp;
                            at_mbarrier += r.fibers[t].state == State::wait_mbarrier;
                        }
                        fprintf(stderr, "emu: kernel %s, block (%u,%u,%u): deadlock, %d threads at __syncthreads, %d in a warp collective, %d waiting on an mbarrier, %d done\n",
                                name, bx, by, bz, at_block, at_warp, at_mbarrier, done);
                        abort();
                    }
                }
                g_cur = nullptr;
                // A block that ends with bulk copies not landed, or transaction bytes expected and never copied, left
                // an mbarrier phase incomplete: on the device its copies would write a stage nobody reads.
                if (!r.bulk.empty()) {
                    fail("the block ended with cp.async.bulk copies whose mbarrier phase never completed");
                }
                for (const auto& e : r.tx) {
                    if (e.second != 0) {
                        fail("the block ended with an mbarrier expecting transaction bytes never copied (or more copied)");
                    }
                }
            }
        }
    }
}

// ldmatrix.m8n8.x4(.trans).b16: lane l gives the address of row (l % 8) of matrix (l / 8).
inline void ldmatrix_x4(uint32_t r[4], const void* row, bool trans) {
    WarpState& ws = warp();
    if ((reinterpret_cast<uintptr_t>(row) & 15) != 0) {
        fail("ldmatrix row address not 16-byte aligned");
    }
    ws.ptrs[lane()] = row;
    warp_barrier(kLdmatrix);
    int l = lane();
    for (int j = 0; j < 4; j++) {
        uint16_t e[2];
        for (int h = 0; h < 2; h++) {
            int mrow = trans ? 2 * (l % 4) + h : l / 4;
            int mcol = trans ? l / 4 : 2 * (l % 4) + h;
            const uint16_t* p = static_cast<const uint16_t*>(ws.ptrs[8 * j + mrow]);
            e[h] = p[mcol];
        }
        r[j] = static_cast<uint32_t>(e[0]) | (static_cast<uint32_t>(e[1]) << 16);
    }
    warp_barrier(kLdmatrix);
}

inline float bf16f(uint32_t bits16) {
    return __uint_as_float((bits16 & 0xffffu) << 16);
}

// mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32, fragments as in the PTX ISA.
inline void mma_bf16_16816(float c[4], const uint32_t a[4], const uint32_t b[2]) {
    WarpState& ws = warp();
    int l = lane();
    for (int i = 0; i < 4; i++) {
        ws.frag[l][i] = a[i];
    }
    ws.frag[l][4] = b[0];
    ws.frag[l][5] = b[1];
    warp_barrier(kMma);
    float A[16][16];
    float B[16][8];
    for (int t = 0; t < 32; t++) {
        int g = t >> 2, q = t & 3;
        const uint32_t* f = ws.frag[t];
        A[g][2 * q] = bf16f(f[0]);
        A[g][2 * q + 1] = bf16f(f[0] >> 16);
        A[g + 8][2 * q] = bf16f(f[1]);
        A[g + 8][2 * q + 1] = bf16f(f[1] >> 16);
        A[g][2 * q + 8] = bf16f(f[2]);
        A[g][2 * q + 9] = bf16f(f[2] >> 16);
        A[g + 8][2 * q + 8] = bf16f(f[3]);
        A[g + 8][2 * q + 9] = bf16f(f[3] >> 16);
        B[2 * q][g] = bf16f(f[4]);
        B[2 * q + 1][g] = bf16f(f[4] >> 16);
        B[2 * q + 8][g] = bf16f(f[5]);
        B[2 * q + 9][g] = bf16f(f[5] >> 16);
    }
    int g = l >> 2, q = l & 3;
    for (int i = 0; i < 4; i++) {
        int row = g + (i >= 2 ? 8 : 0);
        int col = 2 * q + (i & 1);
        float s = c[i];
        for (int k = 0; k < 16; k++) {
            s += A[row][k] * B[k][col];
        }
        c[i] = s;
    }
    warp_barrier(kMma);
}

// The shared-memory address of p (dynamic shared memory only). The emulated window starts at kSharedBase, 16-byte
// aligned but not 1024-byte aligned, so that a kernel which needs 1024-byte aligned tiles must align them itself (as
// on the device, where static shared memory may come first).
constexpr uint32_t kSharedBase = 1040;
inline uint32_t smem_addr(const void* p) {
    const unsigned char* b = static_cast<const unsigned char*>(p);
    Runtime& r = rt();
    if (b < r.dynamic || b >= r.dynamic + r.dynamic_bytes) {
        fail("a shared-memory address outside the dynamic shared memory");
    }
    return kSharedBase + static_cast<uint32_t>(b - r.dynamic);
}

// wgmma.mma_async.sync.aligned.m64n{n}k16.f32.bf16.bf16 with A and B from shared memory, K-major tiles in the 128-byte
// swizzle (descriptor layout 1, stride byte offset 1024; the only layout the kernels use, anything else fails). The
// operation runs when the thread waits for its group (wgmma_wait), not when it is issued: the latest moment the tensor
// cores may read the tiles, so a kernel that overwrites a stage before waiting reads the new data here and fails its
// test. Each thread computes its own fragment: acc[4 j + e] is row 16 (warp % 4) + lane / 4 + 8 (e / 2), column
// 8 j + 2 (lane % 4) + e % 2; sums of exact products in fp32, in k order.
// With DMS_EMU_WGMMA=early the operation runs when issued instead, the earliest moment the tensor cores may read the
// tiles: a kernel that issues a wgmma on a stage not yet complete (an mbarrier arrived on before the copies landed)
// reads the poison or the stage's old tile there.
inline bool early_wgmma() {
    static const bool early = env_switch("DMS_EMU_WGMMA", "late", "early");
    return early;
}
inline void wgmma_run(const WgmmaOp& op);
inline void wgmma(float* d, int n, uint64_t descA, uint64_t descB) {
    if (early_wgmma()) {
        wgmma_run({d, n, descA, descB});
        return;
    }
    g_cur->wgmma.open.push_back({d, n, descA, descB});
}
inline void wgmma_commit() {
    g_cur->wgmma.commit();
}
inline float wgmma_operand(uint64_t desc, int row, int k) {
    Runtime& r = rt();
    const uint32_t start = static_cast<uint32_t>(desc & 0x3fff) << 4;
    const uint32_t stride = static_cast<uint32_t>((desc >> 32) & 0x3fff) << 4;
    if ((desc >> 62) != 1 || stride != 1024 || ((desc >> 49) & 7) != 0) {
        fail("wgmma descriptor: only K-major tiles in the 128-byte swizzle (stride 1024, base offset 0) are emulated");
    }
    const uint32_t addr = start + (row / 8) * stride + (row % 8) * 128 + 2 * k;
    const uint32_t phys = addr ^ (((addr >> 7) & 7) << 4);  // the 128-byte swizzle, on the absolute address
    if (phys < kSharedBase || phys + 2 > kSharedBase + r.dynamic_bytes) {
        fail("wgmma reads outside the dynamic shared memory");
    }
    if (r.unfenced[(phys - kSharedBase) / 16] != 0) {
        static char what[160];
        snprintf(what, sizeof what, "wgmma reads shared memory that thread %d's cp.async wrote, with no "
                 "fence.proxy.async by that thread since", r.unfenced[(phys - kSharedBase) / 16] - 1);
        fail(what);
    }
    uint16_t h;
    memcpy(&h, r.dynamic + (phys - kSharedBase), 2);
    return __uint_as_float(static_cast<uint32_t>(h) << 16);
}
inline void wgmma_run(const WgmmaOp& op) {
    const int t = g_cur->linear % 128;
    const int warpInGroup = t / 32, l = t % 32;
    for (int j = 0; j < op.n / 8; j++) {
        for (int e = 0; e < 4; e++) {
            const int row = 16 * warpInGroup + l / 4 + 8 * (e / 2);
            const int col = 8 * j + 2 * (l % 4) + e % 2;
            float s = op.d[4 * j + e];
            for (int k = 0; k < 16; k++) {
                s += wgmma_operand(op.descA, row, k) * wgmma_operand(op.descB, col, k);
            }
            op.d[4 * j + e] = s;
        }
    }
}
inline void wgmma_wait(int pending) {
    if (!g_cur->wgmma.open.empty()) {
        fail("wgmma waited for with operations not committed");
    }
    g_cur->wgmma.wait(pending, wgmma_run);
}

// A cp.async copy written into shared memory by the current thread: in the dynamic shared memory, its chunk is
// marked as written through the generic proxy until the thread's next fence.proxy.async.
inline void cp_async_land(const CpAsyncCopy& copy) {
    memcpy(copy.dst, copy.bytes, 16);
    Runtime& r = rt();
    if (copy.dst >= r.dynamic && copy.dst < r.dynamic + r.dynamic_bytes) {
        const int chunk = static_cast<int>((copy.dst - r.dynamic) / 16);
        r.unfenced[chunk] = g_cur->linear + 1;
        g_cur->unfenced.push_back(chunk);
    }
}

// fence.proxy.async.shared::cta: the thread's shared-memory writes so far are visible to the async proxy (wgmma).
// Modelled for the writes of its cp.async copies that have landed (plain stores are not tracked).
inline void fence_proxy_async() {
    Runtime& r = rt();
    for (int chunk : g_cur->unfenced) {
        if (r.unfenced[chunk] == g_cur->linear + 1) {
            r.unfenced[chunk] = 0;
        }
    }
    g_cur->unfenced.clear();
}

// mbarrier (shared memory, 8 bytes): the emulator keeps {arrivals still expected in this phase, the count, the
// phase} in its 8 bytes. init sets the count and phase 0; each arrive (release) takes one arrival, and the last one
// of a phase completes it: the phase flips, the count is expected again and the threads waiting on it run; the
// arriving thread then yields, so that what it does after its arrive may come after what they do.
// try_wait.parity(p) succeeds once the phase of parity p has completed, i.e. while the current phase's parity is not
// p (a fresh barrier: parity 1 passes at once, parity 0 waits for the first completion). A thread that waits blocks
// (it is not run again until an arrive completes the phase), so a missing arrive shows as a deadlock.
struct MbarrierWord {
    uint32_t pending;
    uint16_t count;
    uint16_t phase;
};
static_assert(sizeof(MbarrierWord) == 8, "an mbarrier is 8 bytes");
inline MbarrierWord* mbarrier_word(void* bar) {
    Runtime& r = rt();
    unsigned char* b = static_cast<unsigned char*>(bar);
    if (b < r.dynamic || b + 8 > r.dynamic + r.dynamic_bytes || (reinterpret_cast<uintptr_t>(b) & 7) != 0) {
        fail("mbarrier outside the dynamic shared memory or not 8-byte aligned");
    }
    return reinterpret_cast<MbarrierWord*>(b);
}
inline void mbarrier_init(void* bar, int count) {
    if (count < 1 || count > 65535) {
        fail("mbarrier.init with a count outside [1, 65535]");
    }
    MbarrierWord* w = mbarrier_word(bar);
    w->pending = static_cast<uint32_t>(count);
    w->count = static_cast<uint16_t>(count);
    w->phase = 0;
}
// The transaction bytes the current phase of bar still expects (expect_tx adds, each bulk copy issued takes its own).
inline long long& mbarrier_tx(const void* bar) {
    Runtime& r = rt();
    for (auto& e : r.tx) {
        if (e.first == bar) {
            return e.second;
        }
    }
    r.tx.push_back({bar, 0});
    return r.tx.back().second;
}
// The phase completes once every arrival is in and no transaction bytes are outstanding: the bulk copies counted on
// it land (the latest moment the device may write them), the phase flips and the threads waiting on it run.
inline void mbarrier_try_complete(void* bar, MbarrierWord* w) {
    Runtime& r = rt();
    if (w->pending != 0 || mbarrier_tx(bar) != 0) {
        return;
    }
    for (size_t i = 0; i < r.bulk.size();) {
        if (r.bulk[i].bar == bar) {
            memcpy(r.bulk[i].dst, r.bulk[i].bytes.data(), r.bulk[i].bytes.size());
            r.bulk.erase(r.bulk.begin() + static_cast<long>(i));
        } else {
            i++;
        }
    }
    w->pending = w->count;
    w->phase ^= 1;
    for (int i = 0; i < r.threads; i++) {
        if (r.fibers[i].state == State::wait_mbarrier && r.fibers[i].mbarrier == bar) {
            r.fibers[i].state = State::runnable;
        }
    }
}
inline void mbarrier_arrive(void* bar) {
    MbarrierWord* w = mbarrier_word(bar);
    if (w->count == 0xffff && w->pending == 0xffffffffu) {
        fail("mbarrier.arrive on a barrier never initialised (poisoned shared memory)");
    }
    if (w->pending == 0 || w->pending > w->count) {
        fail("mbarrier.arrive on a corrupt barrier (more arrivals in a phase than its count)");
    }
    --w->pending;
    mbarrier_try_complete(bar, w);
    yield();  // a scheduling point (the thread stays runnable): the threads it released may run before its next step
}
// mbarrier.arrive.expect_tx: the phase expects `bytes` more transaction bytes, then this thread arrives.
inline void mbarrier_expect_tx(void* bar, unsigned bytes) {
    mbarrier_tx(bar) += bytes;
    mbarrier_arrive(bar);
}
// cp.async.bulk global -> shared with complete_tx on bar: the source is read now, the shared memory written when the
// barrier's phase completes (with DMS_EMU_COPIES=eager also now, the earliest moment: a stage refilled before its
// readers released it shows). Both ends 16-byte aligned, a multiple of 16 bytes, inside the dynamic shared memory.
// Written through the async proxy: no fence.proxy.async is needed before wgmma reads it.
inline bool eager_copies();
inline void bulk_copy(void* dst, const void* src, unsigned bytes, void* bar) {
    Runtime& r = rt();
    unsigned char* d = static_cast<unsigned char*>(dst);
    if (d < r.dynamic || d + bytes > r.dynamic + r.dynamic_bytes || bytes == 0 || bytes % 16 != 0 ||
        (reinterpret_cast<uintptr_t>(d) & 15) != 0 || (reinterpret_cast<uintptr_t>(src) & 15) != 0) {
        fail("cp.async.bulk: the destination outside the dynamic shared memory, or an end or size not 16-byte aligned");
    }
    MbarrierWord* w = mbarrier_word(bar);
    const unsigned char* s = static_cast<const unsigned char*>(src);
    r.bulk.push_back({bar, d, std::vector<unsigned char>(s, s + bytes)});
    if (eager_copies()) {
        memcpy(d, s, bytes);
    }
    mbarrier_tx(bar) -= bytes;
    mbarrier_try_complete(bar, w);
}
inline void mbarrier_wait(void* bar, int parity) {
    MbarrierWord* w = mbarrier_word(bar);
    if (w->count == 0xffff && w->pending == 0xffffffffu) {
        fail("mbarrier wait on a barrier never initialised (poisoned shared memory)");
    }
    while ((w->phase & 1) == (parity & 1)) {
        g_cur->state = State::wait_mbarrier;
        g_cur->mbarrier = bar;
        yield();
    }
}

// Whether cp.async also writes its shared memory when issued (DMS_EMU_COPIES=eager), the earliest moment the device
// may, as well as when its thread waits for it (unset or "late": only then).
inline bool eager_copies() {
    static const bool eager = env_switch("DMS_EMU_COPIES", "late", "eager");
    return eager;
}

// cp.async.cg 16 bytes: the source is read now (nothing a kernel copies changes while it runs), the shared memory is
// written when the thread waits for the copy's group (cp_async_wait), the latest moment the device may write it: a
// kernel that reads a stage before waiting for it, or waits for too few groups, reads the poison or the stage's old
// tile. Copies never committed are never written (cp.async.wait_group waits for committed groups only). With
// DMS_EMU_COPIES=eager the copy is also written when issued, the earliest moment: a kernel that reloads a stage
// while a wgmma that reads it is still in flight (the emulator runs a wgmma when its thread waits for it) fails.
inline void cp_async16(void* smem, const void* gmem, bool valid) {
    if ((reinterpret_cast<uintptr_t>(smem) & 15) != 0 || (valid && (reinterpret_cast<uintptr_t>(gmem) & 15) != 0)) {
        fail("cp.async 16-byte copy with an unaligned address");
    }
    CpAsyncCopy copy;
    copy.dst = static_cast<unsigned char*>(smem);
    if (valid) {
        memcpy(copy.bytes, gmem, 16);
    } else {
        memset(copy.bytes, 0, 16);
    }
    if (eager_copies()) {
        cp_async_land(copy);
    }
    g_cur->copies.open.push_back(copy);
}
inline void cp_async_commit() {
    g_cur->copies.commit();
}
inline void cp_async_wait(int pending) {
    g_cur->copies.wait(pending, cp_async_land);
}

}  // namespace emu

#define threadIdx (emu::g_cur->tid)
#define blockIdx (emu::g_block_idx)
#define blockDim (emu::g_block_dim)
#define gridDim (emu::g_grid_dim)

inline void __syncthreads() {
    emu::syncthreads();
}
// The count is read right after the release, before this thread can reach the next barrier, whose
// release is the first to reuse this generation's counter.
inline int __syncthreads_count(int predicate) {
    emu::Runtime& r = emu::rt();
    const int generation = r.barrier_generation;
    r.barrier_count[generation & 1] += predicate ? 1 : 0;
    emu::syncthreads();
    return r.barrier_count[generation & 1];
}
inline int __syncthreads_or(int predicate) {
    return __syncthreads_count(predicate) != 0;
}
inline void __syncwarp(unsigned mask = 0xffffffffu) {
    emu::check_mask(mask);
    emu::warp_barrier(emu::kSync);
}
template <class T>
inline T __shfl_sync(unsigned mask, T v, int src, int width = 32) {
    emu::check_mask(mask);
    int l = emu::lane();
    return emu::exchange(v, (l & ~(width - 1)) | (src & (width - 1)), emu::kShfl);
}
template <class T>
inline T __shfl_xor_sync(unsigned mask, T v, int laneMask, int width = 32) {
    emu::check_mask(mask);
    int l = emu::lane();
    int src = l ^ laneMask;
    if ((src & ~(width - 1)) != (l & ~(width - 1))) {
        src = l;
    }
    return emu::exchange(v, src, emu::kShfl);
}
template <class T>
inline T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32) {
    emu::check_mask(mask);
    int l = emu::lane();
    int src = l + static_cast<int>(delta);
    if ((src & ~(width - 1)) != (l & ~(width - 1)) || src > 31) {
        src = l;
    }
    return emu::exchange(v, src, emu::kShfl);
}
template <class T>
inline T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32) {
    emu::check_mask(mask);
    int l = emu::lane();
    int src = l - static_cast<int>(delta);
    if (src < (l & ~(width - 1))) {
        src = l;
    }
    return emu::exchange(v, src, emu::kShfl);
}
inline unsigned __ballot_sync(unsigned mask, int predicate) {
    emu::check_mask(mask);
    emu::WarpState& ws = emu::warp();
    ws.slots[emu::lane()] = predicate ? 1 : 0;
    emu::warp_barrier(emu::kVote);
    unsigned out = 0;
    for (int i = 0; i < 32; i++) {
        out |= ws.slots[i] ? (1u << i) : 0u;
    }
    emu::warp_barrier(emu::kVote);
    return out;
}
inline int __any_sync(unsigned mask, int predicate) {
    return __ballot_sync(mask, predicate) != 0;
}
inline int __all_sync(unsigned mask, int predicate) {
    return __ballot_sync(mask, predicate) == 0xffffffffu;
}
inline unsigned __activemask() {
    return 0xffffffffu;
}
template <class T>
inline unsigned __match_any_sync(unsigned mask, T value) {
    emu::check_mask(mask);
    emu::WarpState& ws = emu::warp();
    uint64_t bits = 0;
    memcpy(&bits, &value, sizeof(T));
    ws.slots[emu::lane()] = bits;
    emu::warp_barrier(emu::kMatch);
    unsigned out = 0;
    for (int i = 0; i < 32; i++) {
        out |= ws.slots[i] == bits ? (1u << i) : 0u;
    }
    emu::warp_barrier(emu::kMatch);
    return out;
}
