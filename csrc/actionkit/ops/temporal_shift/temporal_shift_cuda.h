// The CUDA launcher of the temporal shift. Torch-free, so the .cu stays cheap to compile.
#pragma once

#include <cstdint>

namespace actionkit::kernels::temporal_shift::cuda {

// Shifts a contiguous [N, T, C, inner] block of `element_size`-byte elements
// from `src` into `dst` on `stream` (a cudaStream_t).
void launch_shift(const void* src, void* dst, int64_t element_size, int64_t batches, int64_t frames,
                  int64_t channels, int64_t inner, int64_t fold, bool backward, void* stream);

}  // namespace actionkit::kernels::temporal_shift::cuda
