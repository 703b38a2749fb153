// Glue between the dispatcher and the CUDA launcher of the pose heatmaps.
#include "pose_heatmaps_cuda.h"

#include <ATen/ops/empty.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "../../common/cuda_glue.h"
#include "pose_heatmaps.h"

namespace actionkit::kernels::pose_heatmaps {
namespace {

at::Tensor pose_heatmaps_cuda(const at::Tensor& keypoints_in, const at::Tensor& scores_in,
                              at::IntArrayRef size, double sigma, const at::Tensor& limbs_in,
                              bool with_kp, bool legacy_merge, double eps,
                              const std::optional<at::Tensor>& flip_order) {
  const Params p = check_args(keypoints_in, scores_in, size, sigma, limbs_in, with_kp, legacy_merge,
                              eps, flip_order);
  const c10::cuda::CUDAGuard guard(keypoints_in.device());
  at::Tensor out =
      at::empty({p.mirror ? 2 * p.batch : p.batch, p.channels, p.frames, p.height, p.width},
                keypoints_in.options());
  if (out.numel() == 0) return out;
  const at::Tensor keypoints = keypoints_in.contiguous();
  const at::Tensor scores = scores_in.contiguous();
  const at::Tensor limbs = limbs_in.contiguous().to(keypoints.device());
  const at::Tensor order =
      p.mirror ? flip_order->contiguous().to(keypoints.device()) : limbs;  // (unread if not)
  cuda::launch(keypoints.const_data_ptr<float>(), scores.const_data_ptr<float>(),
               limbs.const_data_ptr<int64_t>(), order.const_data_ptr<int64_t>(),
               out.mutable_data_ptr<float>(), p, actionkit::cuda::current_stream());
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(actionkit, CUDA, m) { m.impl("pose_heatmaps", &pose_heatmaps_cuda); }

}  // namespace actionkit::kernels::pose_heatmaps
