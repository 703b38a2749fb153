// Declarations shared by the boundary-matching sampling's schema, CPU and CUDA files.
//
// Two forms share the kernels: sampling, x [N, C, T] -> [N, C, S, T, T]
// (sample, duration, start), and the fused form that sums over the samples,
// y [N, C, S, T] -> [N, C, T, T], where sample s reads row s of y.
#pragma once

#include <ATen/core/Tensor.h>

#include "bm_sampling_math.h"

namespace actionkit::kernels::bm_sampling {

// A backend's kernels; `sum` selects the fused form. The backward returns the
// gradient of the input.
using ForwardFn = at::Tensor (*)(const at::Tensor& input, const Params& p, bool sum);
using BackwardFn = at::Tensor (*)(const at::Tensor& grad, const Params& p, bool sum);

// Argument checks of each op; return the kernel parameters.
Params check_sampling(const at::Tensor& x, int64_t num_samples, int64_t per_bin, double ratio);
Params check_sum(const at::Tensor& y, int64_t per_bin, double ratio);
Params check_backward(const at::Tensor& grad, int64_t num_samples, int64_t per_bin, double ratio,
                      bool sum);

// The registered kernels of a backend, e.g. m.impl("bm_sampling", &sampling_op<&my_forward>).
template <ForwardFn f>
at::Tensor sampling_op(const at::Tensor& x, int64_t num_samples, int64_t per_bin, double ratio) {
  return f(x, check_sampling(x, num_samples, per_bin, ratio), /*sum=*/false);
}
template <ForwardFn f>
at::Tensor sum_op(const at::Tensor& y, int64_t per_bin, double ratio) {
  return f(y, check_sum(y, per_bin, ratio), /*sum=*/true);
}
template <BackwardFn f>
at::Tensor sampling_backward_op(const at::Tensor& grad, int64_t num_samples, int64_t per_bin,
                                double ratio) {
  return f(grad, check_backward(grad, num_samples, per_bin, ratio, false), /*sum=*/false);
}
template <BackwardFn f>
at::Tensor sum_backward_op(const at::Tensor& grad, int64_t num_samples, int64_t per_bin,
                           double ratio) {
  return f(grad, check_backward(grad, num_samples, per_bin, ratio, true), /*sum=*/true);
}

}  // namespace actionkit::kernels::bm_sampling
