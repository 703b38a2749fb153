// Block-cooperative example kernels: how to write and test a kernel with
// __syncthreads, AK_SHARED arrays and warp intrinsics (README, "CUDA kernels
// without a GPU"). Test-only: compiled by nvcc in CUDA builds to prove the
// source is plain CUDA, run on the CPU by the emulation; not in libactionkit.
#pragma once

#include <cstdint>

namespace actionkit::kernels::block_examples::cuda {

// out[b] = the sum of x[b * threads .. (b + 1) * threads) by a shared-memory tree
// (threads a power of two <= 256); sync = false leaves out the barrier in the tree.
void block_sum(const float* x, float* out, int64_t n, int threads, bool sync, void* stream);
// out[b * warps + w] = the sum of block b's warp w's elements by __shfl_down_sync.
void warp_sum(const float* x, float* out, int64_t n, int threads, void* stream);
// *out += how many x are positive, by __ballot_sync and __popc per warp.
void count_positive(const float* x, int* out, int64_t n, int threads, void* stream);
// out = inclusive prefix sums of x within segments of `width` lanes (__shfl_up_sync).
void segment_scan(const float* x, float* out, int64_t n, int threads, int width, void* stream);
// out[i] = the maximum of x over i's segment of `width` lanes (__shfl_xor_sync butterfly).
void segment_max(const float* x, float* out, int64_t n, int threads, int width, void* stream);
// Each thread takes a ticket twice, a barrier between: order[k] = the thread of ticket k.
void arrival_order(int* order, int* counter, int threads, void* stream);
// Bugs the emulation reports: thread 0 returning before a barrier the others wait
// at ("exit"), a shared element read before any write ("unwritten"), an index
// past the array ("bounds"), a __syncthreads in a kernel launched with AK_LAUNCH
// ("plain"), a lane shuffling with a mask without its own bit ("mask"), lane 0
// returning before a __syncwarp the other lanes wait at ("warp_exit").
void broken(const char* bug, float* out, int threads, void* stream);

}  // namespace actionkit::kernels::block_examples::cuda
