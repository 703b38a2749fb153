// Marks functions that compile for both the host and the device, and the
// dtype conversions and small helpers shared by the CPU and CUDA kernels.
#pragma once

#if defined(__CUDACC__)
#define AK_HD __host__ __device__
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#else
#define AK_HD
#endif

namespace actionkit::detail {

// Reduced-precision inputs are read into a wider accumulation type. The
// generic version covers float/double and c10::Half/c10::BFloat16 on the host;
// CUDA's __half/__nv_bfloat16 need their intrinsic conversions.
template <typename acc_t, typename T>
AK_HD inline acc_t to_acc(T v) {
  return static_cast<acc_t>(v);
}

template <typename T, typename acc_t>
AK_HD inline T from_acc(acc_t v) {
  return static_cast<T>(v);
}

template <typename T>
AK_HD inline T max_of(T a, T b) {
  return a > b ? a : b;
}
template <typename T>
AK_HD inline T min_of(T a, T b) {
  return a < b ? a : b;
}

#if defined(__CUDACC__)
template <>
AK_HD inline float to_acc<float, __half>(__half v) {
  return __half2float(v);
}
template <>
AK_HD inline float to_acc<float, __nv_bfloat16>(__nv_bfloat16 v) {
  return __bfloat162float(v);
}
template <>
AK_HD inline __half from_acc<__half, float>(float v) {
  return __float2half_rn(v);
}
template <>
AK_HD inline __nv_bfloat16 from_acc<__nv_bfloat16, float>(float v) {
  return __float2bfloat16_rn(v);
}
#endif

}  // namespace actionkit::detail
