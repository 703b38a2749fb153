// Declarations shared by RoIAlign3D's schema, CPU and CUDA files.
#pragma once

#include <ATen/core/Tensor.h>

#include "roi_align3d_math.h"

namespace actionkit::kernels::roi_align3d {

// A backend's forward kernel: features [N, C, T, H, W] contiguous, rois
// [K, 5|7] contiguous in the accumulation dtype; returns [K, C, t, h, w] in
// the features' dtype.
using ForwardKernel = at::Tensor (*)(const at::Tensor& features, const at::Tensor& rois,
                                     const Params& p);
// A backend's backward kernel: grad [K, C, t, h, w] contiguous; returns the
// gradient of features of `input_shape` in the accumulation dtype.
using BackwardKernel = at::Tensor (*)(const at::Tensor& grad, const at::Tensor& rois,
                                      at::IntArrayRef input_shape, const Params& p);

// The registered forward/backward for one backend: checks the arguments,
// chooses the strategy by shape and calls the backend's kernel.
at::Tensor forward(const at::Tensor& features, const at::Tensor& rois, at::IntArrayRef output_size,
                   double spatial_scale, int64_t sampling_ratio, bool aligned,
                   double temporal_scale, ForwardKernel kernel);
at::Tensor backward(const at::Tensor& grad, const at::Tensor& rois, c10::SymIntArrayRef input_shape,
                    at::IntArrayRef output_size, double spatial_scale, int64_t sampling_ratio,
                    bool aligned, double temporal_scale, BackwardKernel kernel);

// The registered kernels of a backend, e.g. m.impl("roi_align3d", &forward_op<&my_kernel>).
template <ForwardKernel kernel>
at::Tensor forward_op(const at::Tensor& features, const at::Tensor& rois,
                      at::IntArrayRef output_size, double spatial_scale, int64_t sampling_ratio,
                      bool aligned, double temporal_scale) {
  return forward(features, rois, output_size, spatial_scale, sampling_ratio, aligned,
                 temporal_scale, kernel);
}

template <BackwardKernel kernel>
at::Tensor backward_op(const at::Tensor& grad, const at::Tensor& rois,
                       c10::SymIntArrayRef input_shape, at::IntArrayRef output_size,
                       double spatial_scale, int64_t sampling_ratio, bool aligned,
                       double temporal_scale) {
  return backward(grad, rois, input_shape, output_size, spatial_scale, sampling_ratio, aligned,
                  temporal_scale, kernel);
}

}  // namespace actionkit::kernels::roi_align3d
