// Declarations shared by the temporal shift's schema, CPU and CUDA files.
#pragma once

#include <ATen/core/Tensor.h>

namespace actionkit::kernels::temporal_shift {

// The input viewed as a contiguous [N, T, C, inner] block.
struct Dims {
  int64_t batches;
  int64_t frames;
  int64_t channels;
  int64_t inner;
  int64_t fold;
};

// Checks the arguments of temporal_shift (or of its backward, with `arg` naming
// the tensor) and returns the block dimensions.
Dims check_args(const at::Tensor& x, int64_t num_segments, int64_t shift_div, const char* arg);

at::Tensor shift_cpu(const at::Tensor& x, int64_t num_segments, int64_t shift_div, bool backward);

}  // namespace actionkit::kernels::temporal_shift
