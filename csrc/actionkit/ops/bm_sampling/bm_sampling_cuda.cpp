// Glue between the dispatcher and the CUDA launchers of the boundary-matching sampling.
#include "bm_sampling_cuda.h"

#include <ATen/ops/empty.h>
#include <ATen/ops/zeros.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "../../common/cuda_glue.h"
#include "bm_sampling.h"

namespace actionkit::kernels::bm_sampling {
namespace {

at::Tensor forward_cuda(const at::Tensor& input_in, const Params& p, bool sum) {
  const c10::cuda::CUDAGuard guard(input_in.device());
  const at::Tensor input = input_in.contiguous();
  const int64_t n = input.size(0), c = input.size(1), t = p.frames;
  at::Tensor out = sum ? at::empty({n, c, t, t}, input.options())
                       : at::empty({n, c, p.samples, t, t}, input.options());
  cuda::launch_forward(actionkit::cuda::dtype_of(input), input.const_data_ptr(),
                       out.mutable_data_ptr(), n * c, p, sum, actionkit::cuda::current_stream());
  return out;
}

at::Tensor backward_cuda(const at::Tensor& grad_in, const Params& p, bool sum) {
  const c10::cuda::CUDAGuard guard(grad_in.device());
  const at::Tensor grad = grad_in.contiguous();
  const int64_t n = grad.size(0), c = grad.size(1), t = p.frames;
  const auto acc = grad.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  at::Tensor gin = sum ? at::zeros({n, c, p.samples, t}, grad.options().dtype(acc))
                       : at::zeros({n, c, t}, grad.options().dtype(acc));
  cuda::launch_backward(actionkit::cuda::dtype_of(grad), grad.const_data_ptr(),
                        gin.mutable_data_ptr(), n * c, p, sum, actionkit::cuda::current_stream());
  return gin.to(grad.scalar_type());
}

}  // namespace

TORCH_LIBRARY_IMPL(actionkit, CUDA, m) {
  m.impl("bm_sampling", &sampling_op<&forward_cuda>);
  m.impl("bm_sampling_sum", &sum_op<&forward_cuda>);
  m.impl("_bm_sampling_backward", &sampling_backward_op<&backward_cuda>);
  m.impl("_bm_sampling_sum_backward", &sum_backward_op<&backward_cuda>);
}

}  // namespace actionkit::kernels::bm_sampling
