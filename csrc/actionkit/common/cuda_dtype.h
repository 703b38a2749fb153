// The floating dtypes a CUDA launcher accepts, named without torch headers, and
// the switch from a runtime dtype to kernel template arguments.
#pragma once

#include <stdexcept>
#include <string>

#include "hostdevice.h"

namespace actionkit::cuda {

enum class DType { Float, Double, Half, BFloat16 };

// Calls f.template operator()<scalar_t, acc_t>() for the dtype: accumulation in
// float for float and the 16-bit types, in double for double. The emulation
// build (host compiler) has no CUDA 16-bit types.
template <typename F>
void dispatch_floating(DType dtype, const char* op, F&& f) {
  switch (dtype) {
    case DType::Float:
      return f.template operator()<float, float>();
    case DType::Double:
      return f.template operator()<double, double>();
#if defined(__CUDACC__)
    case DType::Half:
      return f.template operator()<__half, float>();
    case DType::BFloat16:
      return f.template operator()<__nv_bfloat16, float>();
#endif
    default:
      throw std::invalid_argument(std::string("actionkit::") + op + ": unsupported dtype");
  }
}

}  // namespace actionkit::cuda
