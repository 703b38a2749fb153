// Glue between the dispatcher and the CUDA launchers of soft-NMS.
#include "soft_nms_cuda.h"

#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "../../common/cuda_glue.h"
#include "soft_nms.h"

namespace actionkit::kernels::soft_nms {
namespace {

void run_boxes_cuda(at::Tensor& cols, at::Tensor& score, at::Tensor& area, at::Tensor& inds,
                    at::Tensor& dets, at::Tensor& count, const BoxArgs& a) {
  const c10::cuda::CUDAGuard guard(cols.device());
  cuda::launch_boxes(cols.scalar_type() == at::kDouble, cols.mutable_data_ptr(),
                     score.mutable_data_ptr(), area.mutable_data_ptr(),
                     inds.mutable_data_ptr<int64_t>(), dets.mutable_data_ptr(), score.size(0),
                     a.threshold, a.sigma, a.min_score, a.method, a.offset,
                     count.mutable_data_ptr<int64_t>(), actionkit::cuda::current_stream());
}

void run_temporal_cuda(at::Tensor& cols, at::Tensor& score, at::Tensor& inds, at::Tensor& dets,
                       at::Tensor& keep, at::Tensor& count, const TemporalArgs& a) {
  const c10::cuda::CUDAGuard guard(cols.device());
  cuda::launch_temporal(cols.scalar_type() == at::kDouble, cols.mutable_data_ptr(),
                        score.mutable_data_ptr(), inds.mutable_data_ptr<int64_t>(),
                        dets.mutable_data_ptr(), keep.mutable_data_ptr<int64_t>(), score.size(0),
                        a.alpha, a.low, a.high, a.limit, count.mutable_data_ptr<int64_t>(),
                        actionkit::cuda::current_stream());
}

}  // namespace

TORCH_LIBRARY_IMPL(actionkit, CUDA, m) {
  m.impl("soft_nms", &soft_nms_op<&run_boxes_cuda>);
  m.impl("temporal_soft_nms", &temporal_soft_nms_op<&run_temporal_cuda>);
}

}  // namespace actionkit::kernels::soft_nms
