// Declarations shared by the pose heatmaps' schema, CPU and CUDA files.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

#include <cmath>
#include <optional>

#include "pose_heatmaps_math.h"

namespace actionkit::kernels::pose_heatmaps {

// Checks the arguments of pose_heatmaps and returns the sizes and constants of the op.
inline Params check_args(const at::Tensor& keypoints, const at::Tensor& scores,
                         at::IntArrayRef size, double sigma, const at::Tensor& limbs, bool with_kp,
                         bool legacy_merge, double eps,
                         const std::optional<at::Tensor>& flip_order) {
  TORCH_CHECK(keypoints.scalar_type() == at::kFloat,
              "pose_heatmaps: keypoints must be float32 [N, M, T, V, 2], got dtype ",
              keypoints.scalar_type());
  TORCH_CHECK(keypoints.dim() == 5 && keypoints.size(4) == 2,
              "pose_heatmaps: keypoints must have shape [N, M, T, V, 2] (x, y in pixels), got ",
              keypoints.sizes());
  const int64_t n = keypoints.size(0), m = keypoints.size(1), t = keypoints.size(2),
                v = keypoints.size(3);
  TORCH_CHECK(scores.scalar_type() == at::kFloat && scores.dim() == 4 && scores.size(0) == n &&
                  scores.size(1) == m && scores.size(2) == t && scores.size(3) == v,
              "pose_heatmaps: scores must be float32 [N, M, T, V] = [", n, ", ", m, ", ", t, ", ",
              v, "], got ", scores.scalar_type(), " ", scores.sizes());
  TORCH_CHECK(size.size() == 2 && size[0] > 0 && size[1] > 0,
              "pose_heatmaps: size must be two positive integers (H, W), got ", size);
  TORCH_CHECK(std::isfinite(sigma) && sigma > 0, "pose_heatmaps: sigma must be positive, got ",
              sigma);
  TORCH_CHECK(limbs.scalar_type() == at::kLong && limbs.dim() == 2 && limbs.size(1) == 2,
              "pose_heatmaps: limbs must be int64 [L, 2] (keypoint pairs), got ",
              limbs.scalar_type(), " ", limbs.sizes());
  TORCH_CHECK(limbs.device().is_cpu(), "pose_heatmaps: limbs must be a CPU tensor, got one on ",
              limbs.device());
  TORCH_CHECK(scores.device() == keypoints.device(), "pose_heatmaps: scores are on ",
              scores.device(), " but keypoints on ", keypoints.device());
  const int64_t l = limbs.size(0);
  TORCH_CHECK(with_kp || l > 0,
              "pose_heatmaps: nothing to draw: with_kp is false and no limbs are given");
  const at::Tensor pairs = limbs.contiguous();
  const int64_t* e = pairs.const_data_ptr<int64_t>();
  for (int64_t i = 0; i < 2 * l; ++i) {
    TORCH_CHECK(0 <= e[i] && e[i] < v, "pose_heatmaps: limbs[", i / 2, "] = (", e[i - i % 2], ", ",
                e[i - i % 2 + 1], ") names a keypoint outside [0, V = ", v, ")");
  }
  const int64_t channels = (with_kp ? v : 0) + l;
  if (flip_order.has_value()) {
    const at::Tensor& f = *flip_order;
    TORCH_CHECK(f.scalar_type() == at::kLong && f.dim() == 1 && f.size(0) == channels &&
                    f.device().is_cpu(),
                "pose_heatmaps: flip_order must be an int64 CPU tensor [C] = [", channels,
                "] (the channel each mirrored channel shows), got ", f.scalar_type(), " ",
                f.sizes(), " on ", f.device());
    const at::Tensor order = f.contiguous();
    const int64_t* o = order.const_data_ptr<int64_t>();
    for (int64_t i = 0; i < channels; ++i) {
      TORCH_CHECK(0 <= o[i] && o[i] < channels, "pose_heatmaps: flip_order[", i, "] = ", o[i],
                  " is not a channel in [0, ", channels, ")");
    }
  }
  Params p{};
  p.batch = n;
  p.persons = m;
  p.frames = t;
  p.joints = v;
  p.limbs = l;
  p.height = size[0];
  p.width = size[1];
  p.with_kp = with_kp;
  p.channels = channels;
  p.mirror = flip_order.has_value();
  p.limb_offset = (with_kp && !legacy_merge) ? v : 0;
  p.sigma_sq = static_cast<float>(sigma * sigma);
  p.sigma_sq_d = sigma * sigma;
  p.three_sigma = 3.0 * sigma;
  p.eps = static_cast<float>(eps);
  return p;
}

}  // namespace actionkit::kernels::pose_heatmaps
