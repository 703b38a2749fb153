// The CUDA launchers of the TIN shift. Torch-free, so the .cu stays cheap to compile.
#pragma once

#include <cstdint>

#include "../../common/cuda_dtype.h"
#include "tin_shift_math.h"

namespace actionkit::kernels::tin_shift::cuda {

using actionkit::cuda::DType;

// out = x shifted by sign * offsets; x, out: contiguous [N, T, C, inner] of
// `dtype`; offsets: [N, G] float (double for double x).
void launch_shift(DType dtype, const void* x, const void* offsets, void* out, const Dims& d,
                  double sign, void* stream);

// terms[i] = grad[i] * d out[i] / d offset (float, or double for double), the
// per-element terms whose per-group sums are the offset gradient.
void launch_offset_grad_terms(DType dtype, const void* grad, const void* x, const void* offsets,
                              void* terms, const Dims& d, void* stream);

}  // namespace actionkit::kernels::tin_shift::cuda
