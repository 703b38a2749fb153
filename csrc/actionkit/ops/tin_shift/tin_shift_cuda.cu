// CUDA kernels of the TIN shift: grid-stride loops over the elements using the
// shared math; the offset gradient's per-element terms are written out and
// summed per group by the caller (no atomics: deterministic).
#include <cstdint>

#include "../../common/cuda_dtype.h"
#include "../../common/cuda_launch.h"
#include "tin_shift_cuda.h"
#include "tin_shift_math.h"

namespace actionkit::kernels::tin_shift::cuda {
using actionkit::cuda::dispatch_floating;

namespace {

template <typename scalar_t, typename acc_t>
__global__ void shift_kernel(const scalar_t* x, const acc_t* offsets, scalar_t* out, Dims d,
                             acc_t sign) {
  const int64_t total = d.batches * d.frames * d.channels * d.inner;
  AK_GRID_STRIDE_LOOP(i, total) {
    out[i] = detail::from_acc<scalar_t>(
        shifted(x, offsets, i, d.frames, d.channels, d.inner, d.groups, sign));
  }
}

template <typename scalar_t, typename acc_t>
__global__ void offset_grad_kernel(const scalar_t* grad, const scalar_t* x, const acc_t* offsets,
                                   acc_t* terms, Dims d) {
  const int64_t total = d.batches * d.frames * d.channels * d.inner;
  AK_GRID_STRIDE_LOOP(i, total) {
    terms[i] = offset_grad_term(grad, x, offsets, i, d.frames, d.channels, d.inner, d.groups);
  }
}

int64_t total_of(const Dims& d) { return d.batches * d.frames * d.channels * d.inner; }

}  // namespace

void launch_shift(DType dtype, const void* x, const void* offsets, void* out, const Dims& d,
                  double sign, void* stream) {
  const int64_t total = total_of(d);
  if (total == 0) return;
  dispatch_floating(dtype, "tin_shift", [&]<typename scalar_t, typename acc_t>() {
    AK_LAUNCH((shift_kernel<scalar_t, acc_t>), dim3(detail::num_blocks(total)),
              dim3(detail::kThreadsPerBlock), static_cast<cudaStream_t>(stream),
              static_cast<const scalar_t*>(x), static_cast<const acc_t*>(offsets),
              static_cast<scalar_t*>(out), d, static_cast<acc_t>(sign));
    detail::check_launch("tin_shift");
  });
}

void launch_offset_grad_terms(DType dtype, const void* grad, const void* x, const void* offsets,
                              void* terms, const Dims& d, void* stream) {
  const int64_t total = total_of(d);
  if (total == 0) return;
  dispatch_floating(dtype, "tin_shift", [&]<typename scalar_t, typename acc_t>() {
    AK_LAUNCH((offset_grad_kernel<scalar_t, acc_t>), dim3(detail::num_blocks(total)),
              dim3(detail::kThreadsPerBlock), static_cast<cudaStream_t>(stream),
              static_cast<const scalar_t*>(grad), static_cast<const scalar_t*>(x),
              static_cast<const acc_t*>(offsets), static_cast<acc_t*>(terms), d);
    detail::check_launch("tin_shift backward");
  });
}

}  // namespace actionkit::kernels::tin_shift::cuda
