// Glue between the dispatcher and the CUDA launcher of the temporal shift.
#include "temporal_shift_cuda.h"

#include <ATen/ops/empty.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "../../common/cuda_glue.h"
#include "temporal_shift.h"

namespace actionkit::kernels::temporal_shift {
namespace {

at::Tensor shift_cuda(const at::Tensor& x_in, int64_t num_segments, int64_t shift_div,
                      bool backward) {
  const Dims d = check_args(x_in, num_segments, shift_div, backward ? "grad" : "x");
  const c10::cuda::CUDAGuard guard(x_in.device());
  const at::Tensor x = x_in.contiguous();
  at::Tensor out = at::empty(x.sizes(), x.options());
  cuda::launch_shift(x.const_data_ptr(), out.mutable_data_ptr(), x.element_size(), d.batches,
                     d.frames, d.channels, d.inner, d.fold, backward,
                     actionkit::cuda::current_stream());
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(actionkit, CUDA, m) {
  m.impl("temporal_shift", &forward_op<&shift_cuda>);
  m.impl("_temporal_shift_backward", &backward_op<&shift_cuda>);
}

}  // namespace actionkit::kernels::temporal_shift
