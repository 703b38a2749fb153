// Glue between the dispatcher and the CUDA launchers of the TIN shift.
#include "tin_shift_cuda.h"

#include <ATen/ops/empty.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "../../common/cuda_glue.h"
#include "tin_shift.h"

namespace actionkit::kernels::tin_shift {
namespace {

at::Tensor shift_cuda(const at::Tensor& x, const at::Tensor& offsets, const Dims& d, double sign) {
  const c10::cuda::CUDAGuard guard(x.device());
  at::Tensor out = at::empty(x.sizes(), x.options());
  cuda::launch_shift(actionkit::cuda::dtype_of(x), x.const_data_ptr(), offsets.const_data_ptr(),
                     out.mutable_data_ptr(), d, sign, actionkit::cuda::current_stream());
  return out;
}

at::Tensor offset_grad_cuda(const at::Tensor& grad, const at::Tensor& x, const at::Tensor& offsets,
                            const Dims& d) {
  const c10::cuda::CUDAGuard guard(x.device());
  at::Tensor terms =
      at::empty({d.batches, d.frames, d.groups, d.channels / d.groups, d.inner}, offsets.options());
  cuda::launch_offset_grad_terms(actionkit::cuda::dtype_of(x), grad.const_data_ptr(),
                                 x.const_data_ptr(), offsets.const_data_ptr(),
                                 terms.mutable_data_ptr(), d, actionkit::cuda::current_stream());
  return terms.sum({1, 3, 4});
}

constexpr Backend kCuda{&shift_cuda, &offset_grad_cuda};

}  // namespace

TORCH_LIBRARY_IMPL(actionkit, CUDA, m) {
  m.impl("tin_shift", &forward_op<kCuda>);
  m.impl("_tin_shift_backward", &backward_op<kCuda>);
}

}  // namespace actionkit::kernels::tin_shift
