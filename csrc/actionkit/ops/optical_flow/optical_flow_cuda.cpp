// Glue between the dispatcher and the CUDA launcher of TV-L1 optical flow: checks, the
// workspace, the launch.
#include "optical_flow_cuda.h"

#include <ATen/ops/empty.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "../../common/cuda_glue.h"
#include "optical_flow.h"

namespace actionkit::kernels::optical_flow {
namespace {

at::Tensor optical_flow_tvl1_cuda(const at::Tensor& frames_a, const at::Tensor& frames_b,
                                  double tau, double lambd, double theta, int64_t scales,
                                  int64_t warps, double epsilon, int64_t inner_iterations,
                                  int64_t outer_iterations, double scale_step,
                                  int64_t median_filtering) {
  const Params p = check_args(frames_a, frames_b, tau, lambd, theta, scales, warps, epsilon,
                              inner_iterations, outer_iterations, scale_step, median_filtering);
  TORCH_CHECK(p.pairs <= 65535, "optical_flow_tvl1: at most 65535 pairs per call on CUDA, got ",
              p.pairs);
  const c10::cuda::CUDAGuard guard(frames_a.device());
  at::Tensor out = at::empty({p.pairs, 2, p.height, p.width}, frames_a.options());
  if (p.pairs == 0) return out;
  const at::Tensor a = frames_a.contiguous(), b = frames_b.contiguous();
  cuda::Workspace ws{};
  const auto buffers = allocate_workspace(p, frames_a.options(), ws);
  cuda::launch(a.const_data_ptr<float>(), b.const_data_ptr<float>(), out.mutable_data_ptr<float>(),
               p, ws, actionkit::cuda::current_stream());
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(actionkit, CUDA, m) { m.impl("optical_flow_tvl1", &optical_flow_tvl1_cuda); }

}  // namespace actionkit::kernels::optical_flow
