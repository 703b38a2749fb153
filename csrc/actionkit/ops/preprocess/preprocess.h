// Declarations shared by the fused preprocessing op's schema, CPU and CUDA files.
#pragma once

#include <ATen/core/Tensor.h>

#include "preprocess_math.h"

namespace actionkit::kernels::preprocess {

// Checks every argument (naming the one at fault) and returns the sizes.
Dims check_args(const at::Tensor& frames, const at::Tensor& boxes, const at::Tensor& flip,
                at::IntArrayRef size, at::ArrayRef<double> mean, at::ArrayRef<double> std,
                c10::string_view layout);

// The output tensor for the checked sizes.
at::Tensor make_output(const Dims& d, const at::Tensor& frames,
                       std::optional<at::ScalarType> dtype);

}  // namespace actionkit::kernels::preprocess
