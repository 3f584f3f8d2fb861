// sampling.cu: logits -> token ids, logprobs, top logprobs; device-side penalty counts.
// Java: SamplingKernel; CPU: sampling/Sampler (the same semantics, rewritten to this spec).
//
// Per row r of logits (one row per sequence), params[r] (SampleParams below), one block of 1024 threads:
//  1. processed logits, written to `processed` (may be `logits` itself):
//       mask:      l = -inf where the allowed-token bitset has a 0 bit (params.maskOffset >= 0)
//       bias:      l = l + biasValues[e] (fp32 add) for id = biasIds[e], e in [biasStart, biasStart+biasCount)
//                  (ids unique within a row; out-of-range ids ignored)
//       penalties: params.countsRow >= 0, c = outputCounts[row][id], present = c > 0 or prompt bit set:
//                  v = (double) l; if present: v = v > 0 ? v / repetition : v * repetition;
//                  v -= frequency * c + presence * (c > 0 ? 1 : 0); l = (float) v
//  2. temperature == 0: greedy, the highest processed logit, the lowest id on ties (NaN never wins).
//     Otherwise, all in double: w(id) = exp((l - lmax) / T) over candidates (l > -inf, not NaN), sorted by
//     logit descending then id ascending (-0 counts as +0);
//       min-p: keep w >= minP (p >= minP * pmax, as pmax = 1 / sum);
//       top-k: keep the first topK of those (0 = all);
//       top-p: keep the smallest prefix whose cumulative weight / (sum of kept weights) >= topP (1 = all);
//       draw = u * (sum of the weights kept), u = (splitmix64(seed ^ splitmix64(drawIndex)) >> 11) * 2^-53;
//       walk the kept list subtracting weights: the first where the remainder < 0, else the last kept.
//     Sums are formed in a different order than a sequential Java loop, so a draw within double rounding
//     of a boundary may differ (probability ~1e-15 per draw).
//  3. logprobs (params.logprobs >= 0): log_softmax(processed / T') over the whole vocabulary, T' = T, or 1
//     for greedy, in double: logprob(id) = (l - lmax) / T' - log(sum exp((l_j - lmax) / T')). The sampled
//     token's goes to logprobs[r]; with logprobs = N > 0 also the top N (N <= 20) by processed logit
//     (ties by id) to topIds/topLogprobs[r][0..N), the rest of the 20 filled with -1 / -inf.
//  4. params.flags & 1 and countsRow >= 0: outputCounts[countsRow][token] += 1.
// Exact ordered walks over the vocabulary without a full sort: the best <= CAP candidates are found by
// an MSB-first radix select over 64-bit keys (descending logit, id) with shared-memory histograms, then
// compacted and bitonic-sorted in shared memory; later chunks are taken the same way when a walk needs them.
#include "dms.cuh"

// 96 bytes, little-endian, one per row (Java: SamplingKernel.Params writes this layout).
struct SampleParams {
    double temperature;           //  0  0 = greedy
    double topP;                  //  8  1 = off
    double minP;                  // 16  0 = off
    double repetitionPenalty;     // 24  1 = off
    double presencePenalty;       // 32
    double frequencyPenalty;      // 40
    unsigned long long seed;      // 48
    unsigned long long drawIndex; // 56  index of this draw in the sequence's stream
    int topK;                     // 64  0 = off
    int logprobs;                 // 68  -1 none, 0 the sampled token's, N <= 20: and the top N
    int biasStart;                // 72
    int biasCount;                // 76
    int maskOffset;               // 80  word offset of the row's allowed-token bitset, -1 = none
    int countsRow;                // 84  row of promptBits/outputCounts, -1 = no penalties
    int flags;                    // 88  bit 0: count the sampled token in outputCounts
    int reserved;                 // 92
};
static_assert(sizeof(SampleParams) == 96, "SampleParams is 96 bytes");

#define DMS_SAMPLE_THREADS 1024
#ifndef DMS_SAMPLE_CAP
#define DMS_SAMPLE_CAP 2048  // sorted chunk: a power of two, >= 2 * DMS_SAMPLE_THREADS / 1024
#endif
#define DMS_SAMPLE_TOP 20
#define DMS_SAMPLE_BUCKETS 256
#define DMS_KEY_NONE 0xffffffffffffffffull

__host__ __device__ constexpr int sample_smem_bytes() {
    return DMS_SAMPLE_CAP * 8 * 2 + DMS_SAMPLE_BUCKETS * 4;
}

// Ascending key = descending logit, then ascending id. Every key is > 0 (the "none yet" lower bound).
DMS_DEVICE unsigned long long sample_key(float l, int id) {
    uint32_t u = __float_as_uint(l == 0.f ? 0.f : l);
    uint32_t mono = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
    return (static_cast<unsigned long long>(~mono) << 32) | static_cast<uint32_t>(id);
}

struct SampleRow {
    const float* logits;  // processed, (vocab)
    int vocab;
    float lmax;
    double temperature;
    double minP;
};

DMS_DEVICE double sample_weight(const SampleRow& row, float l) {
    return exp((static_cast<double>(l) - static_cast<double>(row.lmax)) / row.temperature);
}

// Candidate kept by min-p (and a candidate at all: finite or +inf, not -inf, not NaN).
DMS_DEVICE bool sample_kept(const SampleRow& row, float l, bool applyMinP) {
    if (!(l > -INFINITY)) {
        return false;
    }
    return !applyMinP || row.minP <= 0.0 || sample_weight(row, l) >= row.minP;
}

struct SampleShared {
    unsigned long long* keys;  // [CAP]
    double* cum;               // [CAP]
    int* hist;                 // [256]
    int* ints;                 // [32] scratch
    double* doubles;           // [32] scratch
};

DMS_DEVICE int block_sum_int(int v, int* scratch) {
    const int lane = threadIdx.x & 31;
    const int warp = threadIdx.x >> 5;
    v = dms::warp_sum_int(v);
    if (lane == 0) {
        scratch[warp] = v;
    }
    __syncthreads();
    if (warp == 0) {
        int t = lane < static_cast<int>(blockDim.x >> 5) ? scratch[lane] : 0;
        t = dms::warp_sum_int(t);
        if (lane == 0) {
            scratch[0] = t;
        }
    }
    __syncthreads();
    const int total = scratch[0];
    __syncthreads();
    return total;
}

// Members: kept (min-p applied or not) with lower < key <= bound.
DMS_DEVICE int sample_count(const SampleRow& row, const SampleShared& sh, bool minP, unsigned long long lower,
                            unsigned long long bound) {
    int count = 0;
    for (int id = threadIdx.x; id < row.vocab; id += blockDim.x) {
        const float l = row.logits[id];
        if (sample_kept(row, l, minP)) {
            const unsigned long long key = sample_key(l, id);
            count += key > lower && key <= bound;
        }
    }
    return block_sum_int(count, sh.ints);
}

DMS_DEVICE double sample_weight_sum(const SampleRow& row, const SampleShared& sh, bool minP, unsigned long long bound) {
    double sum = 0.0;
    for (int id = threadIdx.x; id < row.vocab; id += blockDim.x) {
        const float l = row.logits[id];
        if (sample_kept(row, l, minP) && sample_key(l, id) <= bound) {
            sum += sample_weight(row, l);
        }
    }
    return dms::block_sum(sum, sh.doubles);
}

// A bound B over members with lower < key: exact: exactly `needed` members have key <= B (needs at least
// that many); chunk: between 1 and `needed` members have key <= B (needs at least one). Radix select,
// 8 bits at a time from the top, histograms in shared memory with warp-aggregated atomics.
DMS_DEVICE unsigned long long sample_select(const SampleRow& row, const SampleShared& sh, bool minP,
                                            unsigned long long lower, unsigned long long bound, int needed,
                                            bool exact) {
    const int lane = threadIdx.x & 31;
    unsigned long long prefix = 0;
    unsigned long long prefixMask = 0;
    for (int shift = 56; shift >= 0; shift -= 8) {
        for (int b = threadIdx.x; b < DMS_SAMPLE_BUCKETS; b += blockDim.x) {
            sh.hist[b] = 0;
        }
        __syncthreads();
        for (int base = 0; base < row.vocab; base += blockDim.x) {
            const int id = base + threadIdx.x;
            int bucket = DMS_SAMPLE_BUCKETS;  // not a member
            if (id < row.vocab) {
                const float l = row.logits[id];
                if (sample_kept(row, l, minP)) {
                    const unsigned long long key = sample_key(l, id);
                    if (key > lower && key <= bound && (key & prefixMask) == prefix) {
                        bucket = static_cast<int>((key >> shift) & 0xff);
                    }
                }
            }
            const unsigned peers = __match_any_sync(DMS_FULL_MASK, bucket);
            if (bucket < DMS_SAMPLE_BUCKETS && lane == __ffs(peers) - 1) {
                atomicAdd(&sh.hist[bucket], __popc(peers));
            }
        }
        __syncthreads();
        if (threadIdx.x == 0) {
            // ints[0]: 0 continue, 1 done; ints[1]: bucket; ints[2]: members before it; ints[3]: new needed
            int cum = 0;
            int chosen = -1;
            int done = 0;
            for (int b = 0; b < DMS_SAMPLE_BUCKETS; b++) {
                const int c = sh.hist[b];
                if (exact ? cum + c >= needed : cum + c > needed) {
                    chosen = b;
                    break;
                }
                cum += c;
            }
            unsigned long long result = 0;
            if (chosen < 0) {
                // chunk mode: every member with this prefix fits
                done = 1;
                result = shift == 56 ? DMS_KEY_NONE : (prefix | ((1ull << (shift + 8)) - 1));
            } else if (exact && cum + sh.hist[chosen] == needed) {
                done = 1;
                result = prefix | (static_cast<unsigned long long>(chosen) << shift) | ((1ull << shift) - 1);
            } else if (!exact && cum > 0) {
                done = 1;
                result = (prefix | (static_cast<unsigned long long>(chosen) << shift)) - 1;
            } else {
                needed -= cum;
            }
            sh.ints[0] = done;
            sh.ints[1] = chosen;
            sh.ints[3] = needed;
            reinterpret_cast<unsigned long long*>(sh.doubles)[0] = result;
        }
        __syncthreads();
        const int done = sh.ints[0];
        const int chosen = sh.ints[1];
        needed = sh.ints[3];
        const unsigned long long result = reinterpret_cast<unsigned long long*>(sh.doubles)[0];
        __syncthreads();
        if (done) {
            return result < bound ? result : bound;
        }
        prefix |= static_cast<unsigned long long>(chosen) << shift;
        prefixMask |= 0xffull << shift;
    }
    return prefix < bound ? prefix : bound;  // not reached: at shift 0 a bucket holds one key
}

// Members with lower < key <= bound (at most CAP of them) into sh.keys[0..count), sorted ascending;
// sh.cum[j] = sum of the weights of keys[0..j]. Returns count. *members (when given) gets the number of members
// found, which is > CAP only when the caller's bound was wrong (the chunk then holds an arbitrary CAP of them).
// Every barrier below is reached by the whole block: count, size and the loop bounds are block-uniform.
DMS_DEVICE int sample_chunk(const SampleRow& row, const SampleShared& sh, bool minP, unsigned long long lower,
                            unsigned long long bound, int* members = nullptr) {
    const int lane = threadIdx.x & 31;
    if (threadIdx.x == 0) {
        sh.ints[4] = 0;
    }
    __syncthreads();
    for (int base = 0; base < row.vocab; base += blockDim.x) {
        const int id = base + threadIdx.x;
        bool member = false;
        unsigned long long key = 0;
        if (id < row.vocab) {
            const float l = row.logits[id];
            if (sample_kept(row, l, minP)) {
                key = sample_key(l, id);
                member = key > lower && key <= bound;
            }
        }
        const unsigned ballot = __ballot_sync(DMS_FULL_MASK, member);
        int start = 0;
        if (lane == 0 && ballot != 0) {
            start = atomicAdd(&sh.ints[4], __popc(ballot));
        }
        start = __shfl_sync(DMS_FULL_MASK, start, 0);
        if (member) {
            const int at = start + __popc(ballot & ((1u << lane) - 1u));
            if (at < DMS_SAMPLE_CAP) {
                sh.keys[at] = key;
            }
        }
    }
    __syncthreads();
    const int found = sh.ints[4];
    const int count = max(0, min(found, DMS_SAMPLE_CAP));
    if (members != nullptr) {
        *members = found;
    }
    int size = 1;
    while (size < count && size < DMS_SAMPLE_CAP) {  // CAP is a power of two: size <= CAP
        size <<= 1;
    }
    for (int j = count + threadIdx.x; j < size; j += blockDim.x) {
        sh.keys[j] = DMS_KEY_NONE;
    }
    __syncthreads();
    for (int k = 2; k <= size; k <<= 1) {
        for (int j = k >> 1; j > 0; j >>= 1) {
            for (int i = threadIdx.x; i < size; i += blockDim.x) {
                const int partner = i ^ j;
                if (partner > i) {
                    const unsigned long long a = sh.keys[i];
                    const unsigned long long b = sh.keys[partner];
                    const bool ascending = (i & k) == 0;
                    if ((a > b) == ascending) {
                        sh.keys[i] = b;
                        sh.keys[partner] = a;
                    }
                }
            }
            __syncthreads();
        }
    }
    // Inclusive prefix sums of the weights: each thread a contiguous run, then a scan of the run totals.
    const int per = (DMS_SAMPLE_CAP + blockDim.x - 1) / blockDim.x;
    const int begin = threadIdx.x * per;
    double run = 0.0;
    for (int j = begin; j < min(begin + per, count); j++) {
        const int id = static_cast<int>(sh.keys[j] & 0xffffffffu);
        run += sample_weight(row, row.logits[id]);
        sh.cum[j] = run;
    }
    // Block-wide exclusive scan of `run`.
    double incl = run;
#pragma unroll
    for (int offset = 1; offset < 32; offset <<= 1) {
        const double other = __shfl_up_sync(DMS_FULL_MASK, incl, offset);
        if (lane >= offset) {
            incl += other;
        }
    }
    const int warp = threadIdx.x >> 5;
    if (lane == 31) {
        sh.doubles[warp] = incl;
    }
    __syncthreads();
    if (warp == 0) {
        double w = lane < static_cast<int>(blockDim.x >> 5) ? sh.doubles[lane] : 0.0;
        double wi = w;
#pragma unroll
        for (int offset = 1; offset < 32; offset <<= 1) {
            const double other = __shfl_up_sync(DMS_FULL_MASK, wi, offset);
            if (lane >= offset) {
                wi += other;
            }
        }
        sh.doubles[lane] = wi - w;  // exclusive over warps
    }
    __syncthreads();
    const double offset = sh.doubles[warp] + (incl - run);
    for (int j = begin; j < min(begin + per, count); j++) {
        sh.cum[j] += offset;
    }
    __syncthreads();
    return count;
}

// The first j < count with carry + cum[j] reaching the threshold: mode 0 (top-p): (carry + cum[j]) / scale
// >= threshold; mode 1 (draw): carry + cum[j] > threshold. count if none.
DMS_DEVICE int sample_find(const SampleShared& sh, int count, int mode, double carry, double scale, double threshold) {
    if (threadIdx.x == 0) {
        sh.ints[5] = count;
    }
    __syncthreads();
    for (int j = threadIdx.x; j < count; j += blockDim.x) {
        const double c = carry + sh.cum[j];
        const bool hit = mode == 0 ? c / scale >= threshold : c > threshold;
        if (hit) {
            atomicMin(&sh.ints[5], j);
        }
    }
    __syncthreads();
    const int found = sh.ints[5];
    __syncthreads();
    return found;
}

struct WalkResult {
    bool found;
    unsigned long long key;  // the element found, else the last member walked
    double cum;              // cumulative weight through it
};

// Walks members with lower < key <= bound in sorted chunks (continuing a walk whose weights so far sum
// to carry) until the predicate of sample_find holds.
// Termination: every pass takes at least one member and raises `lower` strictly (checked), so at most
// `vocab` passes are needed; the loop is bounded by vocab + 1 passes anyway. A pass whose chunk comes back
// empty or over-full (an inconsistent bound, which should not happen) is redone with an exact select of
// min(remaining, CAP) members (the slow, safe path); if that still makes no progress the walk stops and
// returns what it has (found = false: the caller takes the last member walked), never spinning.
// All control flow depends only on values read from shared memory after a barrier: block-uniform.
DMS_DEVICE WalkResult sample_walk(const SampleRow& row, const SampleShared& sh, unsigned long long lower,
                                  unsigned long long bound, double carry, int mode, double scale, double threshold) {
    WalkResult result = {false, lower, carry};
    for (int pass = 0; pass <= row.vocab; pass++) {
        const int remaining = sample_count(row, sh, true, lower, bound);
        if (remaining <= 0) {
            return result;
        }
        unsigned long long chunkBound =
            remaining <= DMS_SAMPLE_CAP ? bound : sample_select(row, sh, true, lower, bound, DMS_SAMPLE_CAP, false);
        int members = 0;
        int count = sample_chunk(row, sh, true, lower, chunkBound, &members);
        if (count <= 0 || members > DMS_SAMPLE_CAP) {
            chunkBound = remaining <= DMS_SAMPLE_CAP ? bound
                                                     : sample_select(row, sh, true, lower, bound, DMS_SAMPLE_CAP, true);
            count = sample_chunk(row, sh, true, lower, chunkBound, &members);
            if (count <= 0 || members > DMS_SAMPLE_CAP) {
                return result;
            }
        }
        const int j = sample_find(sh, count, mode, carry, scale, threshold);
        if (j < count) {
            result.found = true;
            result.key = sh.keys[j];
            result.cum = carry + sh.cum[j];
            return result;
        }
        const unsigned long long last = sh.keys[count - 1];
        carry += sh.cum[count - 1];
        result.key = last;
        result.cum = carry;
        if (last <= lower || last > bound) {
            return result;  // no progress (cannot happen with a consistent chunk): stop rather than spin
        }
        lower = last;
    }
    return result;
}

extern "C" __global__ void __launch_bounds__(DMS_SAMPLE_THREADS)
    dms_sample(const float* logits, int ldLogits, float* processed, int ldProcessed, int rows, int vocab,
               const SampleParams* __restrict__ params, const unsigned* __restrict__ maskWords,
               const int* __restrict__ biasIds, const float* __restrict__ biasValues,
               const unsigned* __restrict__ promptBits, int* __restrict__ outputCounts, int* __restrict__ tokens,
               float* __restrict__ logprobs, int* __restrict__ topIds, float* __restrict__ topLogprobs,
               unsigned long long* __restrict__ splitBest, unsigned* __restrict__ splitArrivals) {
    dms::pdl_begin_long();
    DMS_DYNAMIC_SMEM(smem);
    DMS_SHARED(int, ints, 32);
    DMS_SHARED(double, doubles, 32);
    DMS_SHARED(float, floats, 32);
    DMS_SHARED(int, argmaxId, 32);
    const int r = blockIdx.x;
    if (r >= rows) {
        return;
    }
    SampleShared sh;
    sh.keys = reinterpret_cast<unsigned long long*>(smem);
    sh.cum = reinterpret_cast<double*>(sh.keys + DMS_SAMPLE_CAP);
    sh.hist = reinterpret_cast<int*>(sh.cum + DMS_SAMPLE_CAP);
    sh.ints = ints;
    sh.doubles = doubles;
    const SampleParams P = params[r];
    const float* src = logits + static_cast<size_t>(r) * ldLogits;
    float* L = processed + static_cast<size_t>(r) * ldProcessed;
    const int words = (vocab + 31) / 32;
    const unsigned* mask = P.maskOffset >= 0 && maskWords != nullptr ? maskWords + P.maskOffset : nullptr;
    const bool penalties = P.countsRow >= 0 && outputCounts != nullptr;
    const int* counts = penalties ? outputCounts + static_cast<size_t>(P.countsRow) * vocab : nullptr;
    const unsigned* prompt =
        penalties && promptBits != nullptr ? promptBits + static_cast<size_t>(P.countsRow) * words : nullptr;
    const bool bias = P.biasCount > 0 && biasIds != nullptr && biasValues != nullptr;
    // gridDim.y > 1: a plain greedy row (no temperature, no logprobs, no bias: one pass, no ordered walks) is split
    // into gridDim.y slices of the vocabulary, one block each; the last block to finish merges the slices' argmaxes
    // (splitBest, by splitArrivals[r], which it resets). Any other row is block 0's alone, as with one block a row.
    const bool split = gridDim.y > 1 && !(P.temperature > 0.0) && P.logprobs < 0 && !bias;
    if (!split && blockIdx.y != 0) {
        return;
    }
    const int sliceIds = split ? (vocab + static_cast<int>(gridDim.y) - 1) / static_cast<int>(gridDim.y) : vocab;
    const int lo = split ? min(vocab, static_cast<int>(blockIdx.y) * sliceIds) : 0;
    const int hi = split ? min(vocab, lo + sliceIds) : vocab;

    // 1. Processed logits; the maximum and the greedy choice on the way.
    if (bias) {
        for (int id = threadIdx.x; id < vocab; id += blockDim.x) {
            float l = src[id];
            if (mask != nullptr && ((mask[id >> 5] >> (id & 31)) & 1u) == 0) {
                l = -INFINITY;
            }
            L[id] = l;
        }
        __syncthreads();
        for (int e = threadIdx.x; e < P.biasCount; e += blockDim.x) {
            const int id = biasIds[P.biasStart + e];
            if (id >= 0 && id < vocab) {
                L[id] = L[id] + biasValues[P.biasStart + e];
            }
        }
        __syncthreads();
    }
    float best = -INFINITY;
    int bestId = 0x7fffffff;
    // The logits of U ids are loaded before any is written back: L may be the logits themselves, so the compiler
    // would otherwise keep every load behind the previous store, one row's 150K logits in one dependent chain (the
    // batch-16 step's sampling took 66 µs under Nsight Compute, H200, 2026-11-30). A thread still visits its ids
    // in increasing order.
    constexpr int U = 8;
    for (int base = lo + threadIdx.x; base < hi; base += U * blockDim.x) {
        float raw[U];
#pragma unroll
        for (int u = 0; u < U; u++) {
            const int id = base + u * static_cast<int>(blockDim.x);
            raw[u] = id < hi ? (bias ? L[id] : src[id]) : 0.f;
        }
#pragma unroll
        for (int u = 0; u < U; u++) {
            const int id = base + u * static_cast<int>(blockDim.x);
            if (id >= hi) {
                break;
            }
            float l = raw[u];
            if (!bias && mask != nullptr && ((mask[id >> 5] >> (id & 31)) & 1u) == 0) {
                l = -INFINITY;
            }
            if (penalties) {
                const int c = counts[id];
                const bool present = c > 0 || (prompt != nullptr && ((prompt[id >> 5] >> (id & 31)) & 1u) != 0);
                double v = l;
                if (present) {
                    v = v > 0.0 ? v / P.repetitionPenalty : v * P.repetitionPenalty;
                }
                v -= P.frequencyPenalty * c + P.presencePenalty * (c > 0 ? 1.0 : 0.0);
                l = static_cast<float>(v);
            }
            L[id] = l;
            // Ids visited in increasing order per thread: strictly greater keeps the lowest id on ties.
            if (!(l != l) && (bestId == 0x7fffffff || l > best)) {
                best = l;
                bestId = id;
            }
        }
    }
    // Block argmax: highest value, lowest id on ties.
    {
        const int lane = threadIdx.x & 31;
        const int warp = threadIdx.x >> 5;
#pragma unroll
        for (int offset = 16; offset > 0; offset >>= 1) {
            const float ov = __shfl_xor_sync(DMS_FULL_MASK, best, offset);
            const int oi = __shfl_xor_sync(DMS_FULL_MASK, bestId, offset);
            if (ov > best || (ov == best && oi < bestId)) {
                best = ov;
                bestId = oi;
            }
        }
        if (lane == 0) {
            floats[warp] = best;
            argmaxId[warp] = bestId;
        }
        __syncthreads();
        if (warp == 0) {
            const bool has = lane < static_cast<int>(blockDim.x >> 5);
            best = has ? floats[lane] : -INFINITY;
            bestId = has ? argmaxId[lane] : 0x7fffffff;
#pragma unroll
            for (int offset = 16; offset > 0; offset >>= 1) {
                const float ov = __shfl_xor_sync(DMS_FULL_MASK, best, offset);
                const int oi = __shfl_xor_sync(DMS_FULL_MASK, bestId, offset);
                if (ov > best || (ov == best && oi < bestId)) {
                    best = ov;
                    bestId = oi;
                }
            }
            if (lane == 0) {
                floats[0] = best;
                argmaxId[0] = bestId;
            }
        }
        __syncthreads();
        best = floats[0];
        bestId = argmaxId[0];
        __syncthreads();
    }
    if (split) {
        // The slice's (value, id) out; the last block of the row merges them in slice order by the same rule
        // (highest value, lowest id on ties, no candidate = id 0x7fffffff), so the token is the one-block token.
        if (threadIdx.x == 0) {
            splitBest[static_cast<size_t>(r) * gridDim.y + blockIdx.y] =
                (static_cast<unsigned long long>(__float_as_uint(best)) << 32) | static_cast<unsigned>(bestId);
            __threadfence();
            ints[0] = atomicAdd(&splitArrivals[r], 1u) == gridDim.y - 1;
        }
        __syncthreads();
        if (ints[0] == 0 || threadIdx.x != 0) {
            return;
        }
        __threadfence();
        const volatile unsigned long long* parts = splitBest + static_cast<size_t>(r) * gridDim.y;
        best = -INFINITY;
        bestId = 0x7fffffff;
        for (unsigned y = 0; y < gridDim.y; y++) {
            const unsigned long long k = parts[y];
            const float v = __uint_as_float(static_cast<unsigned>(k >> 32));
            const int id = static_cast<int>(k & 0xffffffffu);
            if (v > best || (v == best && id < bestId)) {
                best = v;
                bestId = id;
            }
        }
        splitArrivals[r] = 0;  // for the next launch (a graph's replay)
        const int token = bestId == 0x7fffffff ? 0 : bestId;
        tokens[r] = token;
        if ((P.flags & 1) != 0 && penalties) {
            outputCounts[static_cast<size_t>(P.countsRow) * vocab + token] += 1;
        }
        return;
    }
    if (bestId == 0x7fffffff) {
        bestId = 0;  // every logit NaN
    }

    SampleRow row;
    row.logits = L;
    row.vocab = vocab;
    row.lmax = best;
    row.temperature = P.temperature > 0.0 ? P.temperature : 1.0;
    row.minP = P.minP;

    // 2. The token.
    int token = bestId;
    if (P.temperature > 0.0 && best > -INFINITY) {
        const int total = sample_count(row, sh, true, 0, DMS_KEY_NONE);
        // The best <= CAP kept candidates, sorted, with cumulative weights.
        unsigned long long firstBound =
            total <= DMS_SAMPLE_CAP ? DMS_KEY_NONE : sample_select(row, sh, true, 0, DMS_KEY_NONE, DMS_SAMPLE_CAP, false);
        int members0 = 0;
        int count0 = total > 0 ? sample_chunk(row, sh, true, 0, firstBound, &members0) : 0;
        if (total > 0 && (count0 <= 0 || members0 > DMS_SAMPLE_CAP)) {
            // Safety net (an inconsistent bound): the exact best min(total, CAP), the slow path.
            firstBound = total <= DMS_SAMPLE_CAP ? DMS_KEY_NONE
                                                 : sample_select(row, sh, true, 0, DMS_KEY_NONE, DMS_SAMPLE_CAP, true);
            count0 = sample_chunk(row, sh, true, 0, firstBound, &members0);
            if (members0 > DMS_SAMPLE_CAP) {
                count0 = 0;
            }
        }
        // count0 == 0: no candidate (e.g. +inf logits make every weight NaN): the greedy choice stands.
        if (count0 > 0) {
            bool chunk0 = true;  // sh.keys/cum hold the first chunk
            // top-k
            unsigned long long kBound = DMS_KEY_NONE;
            int kCount = total;
            if (P.topK > 0 && P.topK < total) {
                kCount = P.topK;
                kBound = P.topK <= count0 ? sh.keys[P.topK - 1]
                                          : sample_select(row, sh, true, 0, DMS_KEY_NONE, P.topK, true);
            }
            const double sumK = kCount <= count0 ? sh.cum[max(kCount, 1) - 1] : sample_weight_sum(row, sh, true, kBound);
            // top-p
            unsigned long long pBound = kBound;
            int pCount = kCount;  // members kept, where known (only compared with count0 below)
            double sumP = sumK;
            if (P.topP < 1.0) {
                const int inChunk = min(count0, kCount);
                const int j = sample_find(sh, inChunk, 0, 0.0, sumK, P.topP);
                if (j < inChunk) {
                    pBound = sh.keys[j];
                    pCount = j + 1;
                    sumP = sh.cum[j];
                } else if (kCount > count0) {
                    const WalkResult w =
                        sample_walk(row, sh, sh.keys[count0 - 1], kBound, sh.cum[count0 - 1], 0, sumK, P.topP);
                    chunk0 = false;
                    if (w.found) {
                        pBound = w.key;
                        sumP = w.cum;
                    }
                    pCount = kCount + 1;  // beyond the first chunk
                }
            }
            // draw
            const double draw = dms::uniform_draw(P.seed, P.drawIndex) * sumP;
            if (!chunk0) {
                count0 = sample_chunk(row, sh, true, 0, firstBound);
            }
            const int inChunk = max(1, min(count0, pCount));
            const int j = sample_find(sh, inChunk, 1, 0.0, 1.0, draw);
            if (j < inChunk) {
                token = static_cast<int>(sh.keys[j] & 0xffffffffu);
            } else if (pCount > count0) {
                const WalkResult w = sample_walk(row, sh, sh.keys[count0 - 1], pBound, sh.cum[count0 - 1], 1, 1.0, draw);
                token = static_cast<int>(w.key & 0xffffffffu);
            } else {
                token = static_cast<int>(sh.keys[inChunk - 1] & 0xffffffffu);  // the last kept
            }
        }
    }

    // 3. Logprobs over the whole vocabulary at T' = T or 1.
    if (P.logprobs >= 0) {
        double sum = 0.0;
        for (int id = threadIdx.x; id < vocab; id += blockDim.x) {
            const float l = L[id];
            if (l > -INFINITY) {
                sum += sample_weight(row, l);
            }
        }
        sum = dms::block_sum(sum, doubles);
        const double logSum = log(sum);
        const int wanted = min(P.logprobs, DMS_SAMPLE_TOP);
        if (wanted > 0) {
            const int finite = sample_count(row, sh, false, 0, DMS_KEY_NONE);
            const int n = min(wanted, finite);
            int count = 0;
            if (n > 0) {
                const unsigned long long bound = sample_select(row, sh, false, 0, DMS_KEY_NONE, n, true);
                count = sample_chunk(row, sh, false, 0, bound);
            }
            for (int e = threadIdx.x; e < DMS_SAMPLE_TOP; e += blockDim.x) {
                int id = -1;
                float lp = -INFINITY;
                if (e < min(count, n)) {
                    id = static_cast<int>(sh.keys[e] & 0xffffffffu);
                    lp = static_cast<float>((static_cast<double>(L[id]) - static_cast<double>(best)) / row.temperature -
                                            logSum);
                }
                topIds[static_cast<size_t>(r) * DMS_SAMPLE_TOP + e] = id;
                topLogprobs[static_cast<size_t>(r) * DMS_SAMPLE_TOP + e] = lp;
            }
        }
        if (threadIdx.x == 0) {
            logprobs[r] =
                static_cast<float>((static_cast<double>(L[token]) - static_cast<double>(best)) / row.temperature - logSum);
        }
    }

    if (threadIdx.x == 0) {
        tokens[r] = token;
        if ((P.flags & 1) != 0 && penalties) {
            outputCounts[static_cast<size_t>(P.countsRow) * vocab + token] += 1;
        }
    }
}

// dms_sampling_count: for e < count, token t = tokenIds[e], counts row c = countRows[e] (skipped when
// c < 0 or t outside [0, vocab)): promptBits[c][t / 32] |= 1 << (t % 32) when promptBits is given,
// outputCounts[c][t] += 1 when outputCounts is given. Host: clear a row (cuMemsetD32) when a sequence
// takes it; mark its prompt tokens here; the sampler counts generated tokens itself (flags bit 0).
// grid (ceil(count / 256)), block 256.
extern "C" __global__ void dms_sampling_count(const int* __restrict__ tokenIds, const int* __restrict__ countRows,
                                              int count, int vocab, unsigned* __restrict__ promptBits,
                                              int* __restrict__ outputCounts) {
    dms::pdl_begin();
    const int e = blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= count) {
        return;
    }
    const int t = tokenIds[e];
    const int c = countRows[e];
    if (c < 0 || t < 0 || t >= vocab) {
        return;
    }
    if (promptBits != nullptr) {
        atomicOr(&promptBits[static_cast<size_t>(c) * ((vocab + 31) / 32) + t / 32], 1u << (t % 32));
    }
    if (outputCounts != nullptr) {
        atomicAdd(&outputCounts[static_cast<size_t>(c) * vocab + t], 1);
    }
}

static void launch_sample(const float* logits, int ldLogits, float* processed, int ldProcessed, int rows, int vocab,
                          const SampleParams* params, const unsigned* maskWords, const int* biasIds,
                          const float* biasValues, const unsigned* promptBits, int* outputCounts, int* tokens,
                          float* logprobs, int* topIds, float* topLogprobs, int splits, unsigned long long* splitBest,
                          unsigned* splitArrivals, cudaStream_t stream) {
    DMS_LAUNCH(dms_sample, dim3(rows, splits), DMS_SAMPLE_THREADS, sample_smem_bytes(), stream, logits, ldLogits,
               processed, ldProcessed, rows, vocab, params, maskWords, biasIds, biasValues, promptBits, outputCounts,
               tokens, logprobs, topIds, topLogprobs, splitBest, splitArrivals);
}

extern "C" cudaError_t dms_sampling(const float* logits, int ldLogits, float* processed, int ldProcessed, int rows,
                                    int vocab, const SampleParams* params, const unsigned* maskWords,
                                    const int* biasIds, const float* biasValues, const unsigned* promptBits,
                                    int* outputCounts, int* tokens, float* logprobs, int* topIds, float* topLogprobs,
                                    int splits, unsigned long long* splitBest, unsigned* splitArrivals,
                                    cudaStream_t stream) {
    DMS_CHECK(logits != nullptr && processed != nullptr && params != nullptr && tokens != nullptr);
    DMS_CHECK(rows > 0 && vocab > 0 && ldLogits >= vocab && ldProcessed >= vocab);
    DMS_CHECK(splits >= 1 && splits <= 64 && (splits == 1 || (splitBest != nullptr && splitArrivals != nullptr)));
    launch_sample(logits, ldLogits, processed, ldProcessed, rows, vocab, params, maskWords, biasIds, biasValues,
                  promptBits, outputCounts, tokens, logprobs, topIds, topLogprobs, splits, splitBest, splitArrivals,
                  stream);
    return cudaGetLastError();
}

extern "C" cudaError_t dms_sampling_counts(const int* tokenIds, const int* countRows, int count, int vocab,
                                           unsigned* promptBits, int* outputCounts, cudaStream_t stream) {
    DMS_CHECK(tokenIds != nullptr && countRows != nullptr && count >= 0 && vocab > 0);
    DMS_CHECK((promptBits != nullptr) != (outputCounts != nullptr));
    if (count == 0) {
        return cudaSuccess;
    }
    DMS_LAUNCH(dms_sampling_count, (count + 255) / 256, 256, 0, stream, tokenIds, countRows, count, vocab, promptBits,
               outputCounts);
    return cudaGetLastError();
}
