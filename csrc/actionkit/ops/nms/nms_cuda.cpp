// Glue between the dispatcher and the CUDA launchers of the suppression ops.
#include "nms_cuda.h"

#include <ATen/ops/empty.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "../../common/cuda_glue.h"
#include "nms.h"

namespace actionkit::kernels::nms {
namespace {

at::Tensor mask_cuda(const at::Tensor& sorted, int64_t dims, double threshold) {
  const c10::cuda::CUDAGuard guard(sorted.device());
  const int64_t count = sorted.size(0);
  at::Tensor bits = at::empty({count, (count + 63) / 64}, sorted.options().dtype(at::kLong));
  cuda::launch_mask(sorted.scalar_type() == at::kDouble, sorted.const_data_ptr(), count, dims,
                    threshold, bits.mutable_data_ptr(), actionkit::cuda::current_stream());
  return bits;
}

at::Tensor temporal_iou_cuda(const at::Tensor& a, const at::Tensor& b) {
  const c10::cuda::CUDAGuard guard(a.device());
  at::Tensor out = at::empty({a.size(0), b.size(0)}, a.options());
  cuda::launch_temporal_iou(a.scalar_type() == at::kDouble, a.const_data_ptr(), b.const_data_ptr(),
                            a.size(0), b.size(0), out.mutable_data_ptr(),
                            actionkit::cuda::current_stream());
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(actionkit, CUDA, m) {
  m.impl("nms", &nms_op<&mask_cuda>);
  m.impl("temporal_nms", &temporal_nms_op<&mask_cuda>);
  m.impl("temporal_iou", &temporal_iou_op<&temporal_iou_cuda>);
}

}  // namespace actionkit::kernels::nms
