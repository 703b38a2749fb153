// Kernel launch and error checking for the .cu files. Under
// AK_CUDA_EMULATION the same source compiles with the host compiler and every
// block and thread runs in loops on the CPU (see cuda_emulation.h).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

// AK_LAUNCH_BLOCKS launches a block-cooperative kernel (__syncthreads, AK_SHARED
// arrays, warp intrinsics): on a GPU the same launch; under the emulation each
// block's threads run as fibers, checked for races and deadlocks. AK_SHARED(T,
// name, n) declares a block's shared array: a plain __shared__ T name[n] on a
// GPU; kernels index it (name[i]) and take element addresses only for atomics.
#if defined(AK_CUDA_EMULATION)
#include "cuda_emulation.h"
#define AK_LAUNCH(kernel, grid, block, stream, ...) \
  ::actionkit::emu::launch(kernel, grid, block, __VA_ARGS__)
#define AK_LAUNCH_BLOCKS(kernel, grid, block, stream, ...) \
  ::actionkit::emu::launch_blocks(kernel, grid, block, __VA_ARGS__)
#define AK_SHARED(T, name, n) static ::actionkit::emu::Shared<T, (n)> name(#name)
#else
#include <cuda_runtime.h>
#define AK_LAUNCH(kernel, grid, block, stream, ...) kernel<<<grid, block, 0, stream>>>(__VA_ARGS__)
#define AK_LAUNCH_BLOCKS(kernel, grid, block, stream, ...) \
  kernel<<<grid, block, 0, stream>>>(__VA_ARGS__)
#define AK_SHARED(T, name, n) __shared__ T name[n]
#endif

namespace actionkit::detail {

constexpr int kThreadsPerBlock = 256;
// Grid-stride loops cover any size; capping the grid keeps launches cheap.
constexpr int64_t kMaxBlocks = 4096;

inline unsigned int num_blocks(int64_t n) {
  int64_t blocks = (n + kThreadsPerBlock - 1) / kThreadsPerBlock;
  if (blocks < 1) blocks = 1;
  if (blocks > kMaxBlocks) blocks = kMaxBlocks;
  return static_cast<unsigned int>(blocks);
}

inline void check_launch(const char* what) {
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) {
    throw std::runtime_error(std::string("actionkit: CUDA launch of ") + what +
                             " failed: " + cudaGetErrorString(err));
  }
}

}  // namespace actionkit::detail

// The index of this thread's first element and the stride of a grid-stride loop.
#define AK_GRID_STRIDE_LOOP(i, n)                                                        \
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); \
       i += static_cast<int64_t>(blockDim.x) * gridDim.x)
