// Block-cooperative example kernels (see block_examples.h). Plain CUDA: under
// the emulation AK_SHARED arrays check their accesses and AK_LAUNCH_BLOCKS runs
// each block's threads as fibers.
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#include "../../common/cuda_launch.h"
#include "block_examples.h"

namespace actionkit::kernels::block_examples::cuda {
namespace {

constexpr unsigned kFull = 0xffffffffu;

// The mask of the lanes of this thread's warp that exist (the last warp of a block
// whose size is not a multiple of 32 is partial).
__device__ __forceinline__ unsigned warp_mask() {
  const unsigned first = threadIdx.x / warpSize * warpSize;
  const unsigned lanes = blockDim.x - first;
  return lanes >= 32 ? kFull : (1u << lanes) - 1;
}

template <bool kSync>
__global__ void block_sum_kernel(const float* x, float* out, int64_t n) {
  AK_SHARED(float, partial, 256);
  const unsigned t = threadIdx.x;
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + t;
  partial[t] = i < n ? x[i] : 0.0f;
  __syncthreads();
  for (unsigned s = blockDim.x / 2; s > 0; s >>= 1) {
    if (t < s) partial[t] += partial[t + s];
    if (kSync) __syncthreads();
  }
  if (t == 0) out[blockIdx.x] = partial[0];
}

__global__ void warp_sum_kernel(const float* x, float* out, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const unsigned mask = warp_mask();
  float v = i < n ? x[i] : 0.0f;
  for (int offset = warpSize / 2; offset > 0; offset /= 2) v += __shfl_down_sync(mask, v, offset);
  const unsigned warps = (blockDim.x + warpSize - 1) / warpSize;
  if (threadIdx.x % warpSize == 0) out[blockIdx.x * warps + threadIdx.x / warpSize] = v;
}

__global__ void count_positive_kernel(const float* x, int* out, int64_t n) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  const unsigned votes = __ballot_sync(warp_mask(), i < n && x[i] > 0.0f);
  if (threadIdx.x % warpSize == 0) atomicAdd(out, __popc(votes));
}

__global__ void segment_scan_kernel(const float* x, float* out, int64_t n, int width) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  float v = i < n ? x[i] : 0.0f;
  for (int d = 1; d < width; d *= 2) {
    const float up = __shfl_up_sync(kFull, v, d, width);
    if (static_cast<int>(threadIdx.x % width) >= d) v += up;
  }
  if (i < n) out[i] = v;
}

__global__ void segment_max_kernel(const float* x, float* out, int64_t n, int width) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  float v = i < n ? x[i] : -3.0e38f;
  for (int m = width / 2; m > 0; m /= 2) {
    const float other = __shfl_xor_sync(kFull, v, m, width);
    v = other > v ? other : v;
  }
  if (i < n) out[i] = v;
}

__global__ void arrival_order_kernel(int* order, int* counter) {
  order[atomicAdd(counter, 1)] = threadIdx.x;
  __syncthreads();
  order[atomicAdd(counter, 1)] = threadIdx.x;
}

__global__ void exit_kernel(float* out) {
  if (threadIdx.x == 0) return;
  __syncthreads();
  out[threadIdx.x] = 1.0f;
}

__global__ void unwritten_kernel(float* out) {
  AK_SHARED(float, values, 64);
  if (threadIdx.x > 0) values[threadIdx.x] = 1.0f;
  __syncthreads();
  out[threadIdx.x] = values[(threadIdx.x + 1) % blockDim.x];
}

__global__ void bounds_kernel(float* out) {
  AK_SHARED(float, values, 64);
  values[threadIdx.x + 1] = 1.0f;
  __syncthreads();
  out[threadIdx.x] = values[threadIdx.x];
}

__global__ void warp_exit_kernel(float* out) {
  if (threadIdx.x == 0) return;
  __syncwarp();
  out[threadIdx.x] = 1.0f;
}

__global__ void mask_kernel(float* out) { out[threadIdx.x] = __shfl_sync(0x1u, 1.0f, 0); }

unsigned blocks_for(int64_t n, int threads) {
  return static_cast<unsigned>((n + threads - 1) / threads);
}

}  // namespace

void block_sum(const float* x, float* out, int64_t n, int threads, bool sync, void* stream) {
  if (threads > 256 || threads & (threads - 1)) {
    throw std::invalid_argument("block_sum: threads must be a power of two up to 256");
  }
  auto kernel = sync ? block_sum_kernel<true> : block_sum_kernel<false>;
  AK_LAUNCH_BLOCKS(kernel, dim3(blocks_for(n, threads)), dim3(threads),
                   static_cast<cudaStream_t>(stream), x, out, n);
  detail::check_launch("block_sum");
}

void warp_sum(const float* x, float* out, int64_t n, int threads, void* stream) {
  AK_LAUNCH_BLOCKS(warp_sum_kernel, dim3(blocks_for(n, threads)), dim3(threads),
                   static_cast<cudaStream_t>(stream), x, out, n);
  detail::check_launch("warp_sum");
}

void count_positive(const float* x, int* out, int64_t n, int threads, void* stream) {
  AK_LAUNCH_BLOCKS(count_positive_kernel, dim3(blocks_for(n, threads)), dim3(threads),
                   static_cast<cudaStream_t>(stream), x, out, n);
  detail::check_launch("count_positive");
}

void segment_scan(const float* x, float* out, int64_t n, int threads, int width, void* stream) {
  AK_LAUNCH_BLOCKS(segment_scan_kernel, dim3(blocks_for(n, threads)), dim3(threads),
                   static_cast<cudaStream_t>(stream), x, out, n, width);
  detail::check_launch("segment_scan");
}

void segment_max(const float* x, float* out, int64_t n, int threads, int width, void* stream) {
  AK_LAUNCH_BLOCKS(segment_max_kernel, dim3(blocks_for(n, threads)), dim3(threads),
                   static_cast<cudaStream_t>(stream), x, out, n, width);
  detail::check_launch("segment_max");
}

void arrival_order(int* order, int* counter, int threads, void* stream) {
  AK_LAUNCH_BLOCKS(arrival_order_kernel, dim3(1), dim3(threads), static_cast<cudaStream_t>(stream),
                   order, counter);
  detail::check_launch("arrival_order");
}

void broken(const char* bug, float* out, int threads, void* stream) {
  const cudaStream_t s = static_cast<cudaStream_t>(stream);
  const std::string which(bug);
  if (which == "exit") {
    AK_LAUNCH_BLOCKS(exit_kernel, dim3(1), dim3(threads), s, out);
  } else if (which == "unwritten") {
    AK_LAUNCH_BLOCKS(unwritten_kernel, dim3(1), dim3(threads), s, out);
  } else if (which == "bounds") {
    AK_LAUNCH_BLOCKS(bounds_kernel, dim3(1), dim3(threads), s, out);
  } else if (which == "plain") {
    AK_LAUNCH(exit_kernel, dim3(1), dim3(threads), s, out);
  } else if (which == "warp_exit") {
    AK_LAUNCH_BLOCKS(warp_exit_kernel, dim3(1), dim3(threads), s, out);
  } else if (which == "mask") {
    AK_LAUNCH_BLOCKS(mask_kernel, dim3(1), dim3(threads), s, out);
  } else {
    throw std::invalid_argument("broken: unknown bug " + which);
  }
  detail::check_launch("broken");
}

}  // namespace actionkit::kernels::block_examples::cuda
