// Declarations shared by the optical flow's schema, CPU and CUDA files.
#pragma once

#include <ATen/core/Tensor.h>
#include <ATen/ops/empty.h>
#include <c10/util/Exception.h>

#include <cmath>
#include <utility>

#include "optical_flow_cuda.h"
#include "optical_flow_math.h"

namespace actionkit::kernels::optical_flow {

// Checks the arguments of optical_flow_tvl1 and returns the sizes, constants and pyramid.
inline Params check_args(const at::Tensor& frames_a, const at::Tensor& frames_b, double tau,
                         double lambd, double theta, int64_t scales, int64_t warps, double epsilon,
                         int64_t inner_iterations, int64_t outer_iterations, double scale_step,
                         int64_t median_filtering) {
  TORCH_CHECK(frames_a.scalar_type() == at::kFloat && frames_a.dim() == 3,
              "optical_flow_tvl1: frames_a must be float32 [N, H, W] (grey levels 0..255), got ",
              frames_a.scalar_type(), " ", frames_a.sizes());
  TORCH_CHECK(frames_b.scalar_type() == at::kFloat && frames_b.sizes() == frames_a.sizes(),
              "optical_flow_tvl1: frames_b must be float32 of frames_a's shape ", frames_a.sizes(),
              ", got ", frames_b.scalar_type(), " ", frames_b.sizes());
  TORCH_CHECK(frames_b.device() == frames_a.device(), "optical_flow_tvl1: frames_b is on ",
              frames_b.device(), " but frames_a on ", frames_a.device());
  TORCH_CHECK(frames_a.size(1) > 0 && frames_a.size(2) > 0,
              "optical_flow_tvl1: frames must have at least one pixel, got ", frames_a.sizes());
  TORCH_CHECK(std::isfinite(tau) && tau > 0, "optical_flow_tvl1: tau must be positive, got ", tau);
  TORCH_CHECK(std::isfinite(lambd) && lambd > 0, "optical_flow_tvl1: lambd must be positive, got ",
              lambd);
  TORCH_CHECK(std::isfinite(theta) && theta > 0, "optical_flow_tvl1: theta must be positive, got ",
              theta);
  TORCH_CHECK(std::isfinite(epsilon) && epsilon >= 0,
              "optical_flow_tvl1: epsilon must be >= 0, got ", epsilon);
  TORCH_CHECK(scales >= 1, "optical_flow_tvl1: scales must be >= 1, got ", scales);
  TORCH_CHECK(warps >= 1, "optical_flow_tvl1: warps must be >= 1, got ", warps);
  TORCH_CHECK(inner_iterations >= 1 && outer_iterations >= 1,
              "optical_flow_tvl1: inner_iterations and outer_iterations must be >= 1, got ",
              inner_iterations, " and ", outer_iterations);
  TORCH_CHECK(scale_step > 0 && scale_step < 1,
              "optical_flow_tvl1: scale_step must be in (0, 1), got ", scale_step);
  TORCH_CHECK(median_filtering == 0 || median_filtering == 1 || median_filtering == 3 ||
                  median_filtering == 5,
              "optical_flow_tvl1: median_filtering must be 0 or 1 (off), 3 or 5, got ",
              median_filtering);
  Params p;
  p.pairs = frames_a.size(0);
  p.height = frames_a.size(1);
  p.width = frames_a.size(2);
  p.tau = static_cast<float>(tau);
  p.lambd = static_cast<float>(lambd);
  p.theta = static_cast<float>(theta);
  p.epsilon = epsilon;
  p.scale_step = scale_step;
  p.warps = warps;
  p.inner_iterations = inner_iterations;
  p.outer_iterations = outer_iterations;
  p.median = median_filtering > 1 ? median_filtering : 0;
  TORCH_CHECK(plan_levels(p, scales), "optical_flow_tvl1: more than ", kMaxLevels,
              " pyramid levels; lower scales (", scales, ") or scale_step (", scale_step, ")");
  return p;
}

// epsilon^2 * pixels of level l, OpenCV's stopping threshold for the summed change of u.
inline float scaled_epsilon(const Params& p, int64_t l) {
  return static_cast<float>(p.epsilon * p.epsilon * static_cast<double>(p.h[l] * p.w[l]));
}

// The CUDA launcher's buffers, on the frames' device: one float and one int tensor (kept
// alive by the caller) that ws points into.
inline std::pair<at::Tensor, at::Tensor> allocate_workspace(const Params& p,
                                                            const at::TensorOptions& options,
                                                            cuda::Workspace& ws) {
  const int64_t full = p.pairs * p.height * p.width, pyr = pyramid_size(p);
  at::Tensor floats = at::empty({2 * pyr + cuda::kPlanes * full + p.pairs}, options);
  at::Tensor ints = at::empty({p.pairs}, options.dtype(at::kInt));
  float* f = floats.mutable_data_ptr<float>();
  ws.i0 = f, ws.i1 = f + pyr;
  float** planes[cuda::kPlanes] = {&ws.i1x, &ws.i1y, &ws.ix,  &ws.iy, &ws.grad, &ws.rho_c, &ws.p11,
                                   &ws.p12, &ws.p21, &ws.p22, &ws.u1, &ws.u2,   &ws.t1,    &ws.t2};
  for (int i = 0; i < cuda::kPlanes; ++i) *planes[i] = f + 2 * pyr + i * full;
  ws.error = f + 2 * pyr + cuda::kPlanes * full;
  ws.active = ints.mutable_data_ptr<int>();
  return {floats, ints};
}

}  // namespace actionkit::kernels::optical_flow
