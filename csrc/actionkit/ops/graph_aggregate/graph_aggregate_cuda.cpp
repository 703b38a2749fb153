// Glue between the dispatcher and the CUDA launchers of graph aggregation.
#include "graph_aggregate_cuda.h"

#include <ATen/ops/empty.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "../../common/cuda_glue.h"
#include "graph_aggregate.h"

namespace actionkit::kernels::graph_aggregate {
namespace {

at::Tensor forward_cuda(const at::Tensor& x_in, const at::Tensor& a_in) {
  const Dims d = check_args(x_in, a_in);
  const c10::cuda::CUDAGuard guard(x_in.device());
  const at::Tensor x = x_in.contiguous(), a = a_in.contiguous();
  at::Tensor out = at::empty({x.size(0), x.size(2), x.size(3), x.size(4)}, x.options());
  cuda::launch_forward(actionkit::cuda::dtype_of(x), x.const_data_ptr(), a.const_data_ptr(),
                       out.mutable_data_ptr(), d, actionkit::cuda::current_stream());
  return out;
}

at::Tensor backward_x_cuda(const at::Tensor& grad_in, const at::Tensor& a_in) {
  const Dims d = check_grad(grad_in, a_in);
  const c10::cuda::CUDAGuard guard(grad_in.device());
  const at::Tensor grad = grad_in.contiguous(), a = a_in.contiguous();
  at::Tensor gx = at::empty({grad.size(0), d.subsets, grad.size(1), grad.size(2), grad.size(3)},
                            grad.options());
  cuda::launch_grad_x(actionkit::cuda::dtype_of(grad), grad.const_data_ptr(), a.const_data_ptr(),
                      gx.mutable_data_ptr(), d, actionkit::cuda::current_stream());
  return gx;
}

}  // namespace

TORCH_LIBRARY_IMPL(actionkit, CUDA, m) {
  m.impl("graph_aggregate", &forward_cuda);
  m.impl("_graph_aggregate_backward_x", &backward_x_cuda);
}

}  // namespace actionkit::kernels::graph_aggregate
