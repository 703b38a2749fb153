// The CUDA launchers of RoIAlign3D. Torch-free, so the .cu stays cheap to compile.
#pragma once

#include <cstdint>

#include "../../common/cuda_dtype.h"
#include "roi_align3d_math.h"

namespace actionkit::kernels::roi_align3d::cuda {

using actionkit::cuda::DType;

// Shapes of one call: features [N, C, T, H, W], K RoIs.
struct Shape {
  int64_t batches, channels, frames, height, width, rois;
};

// out[K, C, t, h, w] (dtype) from features (dtype) and rois (float, or double
// for double features).
void launch_forward(DType dtype, const void* features, const void* rois, void* out, const Shape& s,
                    const Params& p, void* stream);

// Adds the gradient into grad_features (float, or double for double grads),
// which the caller zeroes, from grad [K, C, t, h, w] (dtype).
void launch_backward(DType dtype, const void* grad, const void* rois, void* grad_features,
                     const Shape& s, const Params& p, void* stream);

}  // namespace actionkit::kernels::roi_align3d::cuda
