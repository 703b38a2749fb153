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

// A backend's shift: the forward, or with `backward` the opposite shift.
using ShiftFn = at::Tensor (*)(const at::Tensor& x, int64_t num_segments, int64_t shift_div,
                               bool backward);

// The registered kernels of a backend, e.g. m.impl("temporal_shift", &forward_op<&my_shift>).
template <ShiftFn shift>
at::Tensor forward_op(const at::Tensor& x, int64_t num_segments, int64_t shift_div) {
  return shift(x, num_segments, shift_div, /*backward=*/false);
}

template <ShiftFn shift>
at::Tensor backward_op(const at::Tensor& grad, int64_t num_segments, int64_t shift_div) {
  return shift(grad, num_segments, shift_div, /*backward=*/true);
}

}  // namespace actionkit::kernels::temporal_shift
