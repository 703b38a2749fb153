// The CUDA launchers of the boundary-matching sampling. Torch-free, so the .cu stays cheap to
// compile.
#pragma once

#include <cstdint>

#include "../../common/cuda_dtype.h"
#include "bm_sampling_math.h"

namespace actionkit::kernels::bm_sampling::cuda {

using actionkit::cuda::DType;

// rows = N*C. Sampling: input [rows, T] -> out [rows, S, T, T]; sum: input
// [rows, S, T] -> out [rows, T, T]. out has the input's dtype.
void launch_forward(DType dtype, const void* input, void* out, int64_t rows, const Params& p,
                    bool sum, void* stream);

// Adds the input gradient into grad_input (float, or double for double grads;
// zeroed by the caller) from grad (dtype), the shapes as above.
void launch_backward(DType dtype, const void* grad, void* grad_input, int64_t rows, const Params& p,
                     bool sum, void* stream);

}  // namespace actionkit::kernels::bm_sampling::cuda
