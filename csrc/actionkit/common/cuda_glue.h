// Helpers for the <op>_cuda.cpp files that connect the dispatcher to launchers.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/cuda/CUDAStream.h>

#include "cuda_dtype.h"

namespace actionkit::cuda {

inline DType dtype_of(const at::Tensor& t) {
  switch (t.scalar_type()) {
    case at::kFloat:
      return DType::Float;
    case at::kDouble:
      return DType::Double;
    case at::kHalf:
      return DType::Half;
    case at::kBFloat16:
      return DType::BFloat16;
    default:
      TORCH_CHECK(false, "actionkit: no CUDA kernel for dtype ", t.scalar_type());
  }
}

// The current stream of the current device, as the launchers take it.
inline void* current_stream() { return c10::cuda::getCurrentCUDAStream().stream(); }

}  // namespace actionkit::cuda
