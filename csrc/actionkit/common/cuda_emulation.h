// Host emulation of the small part of CUDA the kernels use, so a .cu file's
// own source (indexing, bounds checks, grid-stride loops, atomics) compiles
// with the host compiler and runs on the CPU in tests. Blocks and threads run
// sequentially, so kernels must not rely on shared memory or __syncthreads.
#pragma once

#include <cstdint>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline

namespace actionkit::emu {

struct dim3 {
  unsigned int x = 1, y = 1, z = 1;
  dim3(unsigned int x_ = 1, unsigned int y_ = 1, unsigned int z_ = 1) : x(x_), y(y_), z(z_) {}
};

inline thread_local dim3 threadIdx_, blockIdx_, blockDim_, gridDim_;

template <typename Kernel, typename... Args>
void launch(Kernel kernel, dim3 grid, dim3 block, Args... args) {
  gridDim_ = grid;
  blockDim_ = block;
  for (unsigned int bz = 0; bz < grid.z; ++bz)
    for (unsigned int by = 0; by < grid.y; ++by)
      for (unsigned int bx = 0; bx < grid.x; ++bx)
        for (unsigned int tz = 0; tz < block.z; ++tz)
          for (unsigned int ty = 0; ty < block.y; ++ty)
            for (unsigned int tx = 0; tx < block.x; ++tx) {
              blockIdx_ = dim3(bx, by, bz);
              threadIdx_ = dim3(tx, ty, tz);
              kernel(args...);
            }
}

}  // namespace actionkit::emu

using dim3 = actionkit::emu::dim3;
#define threadIdx (::actionkit::emu::threadIdx_)
#define blockIdx (::actionkit::emu::blockIdx_)
#define blockDim (::actionkit::emu::blockDim_)
#define gridDim (::actionkit::emu::gridDim_)

using cudaStream_t = void*;
enum cudaError_t { cudaSuccess = 0 };
inline cudaError_t cudaGetLastError() { return cudaSuccess; }
inline const char* cudaGetErrorString(cudaError_t) { return "no error"; }

// Sequential execution makes a plain read-modify-write atomic.
template <typename T>
inline T atomicAdd(T* address, T value) {
  T old = *address;
  *address = old + value;
  return old;
}
