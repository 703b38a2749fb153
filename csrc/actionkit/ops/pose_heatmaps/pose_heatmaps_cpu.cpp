// CPU kernel of the pose heatmaps: parallel over output planes (n, c, t); each plane is
// zeroed, then every person's keypoint (limb) is drawn into its window with a max; with
// the mirrored maps asked for, the finished plane is also written reversed into its
// mirrored place (while it is in cache: the output is written once).
#include <ATen/Parallel.h>
#include <ATen/ops/empty.h>
#include <torch/library.h>

#include <algorithm>
#include <vector>

#include "pose_heatmaps.h"

namespace actionkit::kernels::pose_heatmaps {
namespace {

template <typename Shape>
inline void draw(float* plane, const Shape& shape, const Span& xs, const Span& ys,
                 const Params& p) {
  for (int64_t y = ys.lo; y < ys.hi; ++y) {
    float* row = plane + y * p.width;
    for (int64_t x = xs.lo; x < xs.hi; ++x) {
      const float v = shape(x, y);
      if (v > row[x]) row[x] = v;
    }
  }
}

void draw_planes(const float* kp, const float* sc, const int64_t* limbs, const int64_t* mirror_of,
                 float* out, const Params& p, int64_t begin, int64_t end) {
  const int64_t plane_size = p.height * p.width;
  for (int64_t i = begin; i < end; ++i) {  // i = (n * C + c) * T + t
    const int64_t t = i % p.frames;
    const int64_t c = (i / p.frames) % p.channels;
    const int64_t n = i / (p.frames * p.channels);
    float* plane = out + i * plane_size;
    std::fill(plane, plane + plane_size, 0.0f);
    const Sources src = sources_of(c, p);
    for (int64_t m = 0; m < p.persons; ++m) {
      if (src.joint >= 0) {
        const int64_t s = score_index(n, m, t, src.joint, p);
        const Peak k = make_peak(kp[2 * s], kp[2 * s + 1], sc[s], p);
        if (k.value != 0.0f) {
          draw(
              plane, [&](int64_t x, int64_t y) { return peak_value(k, x, y, p); }, k.xs, k.ys, p);
        }
      }
      if (src.limb >= 0) {
        const int64_t a = score_index(n, m, t, limbs[2 * src.limb], p);
        const int64_t b = score_index(n, m, t, limbs[2 * src.limb + 1], p);
        const Limb l =
            make_limb(kp[2 * a], kp[2 * a + 1], kp[2 * b], kp[2 * b + 1], sc[a], sc[b], p);
        if (l.value != 0.0f) {
          draw(
              plane, [&](int64_t x, int64_t y) { return limb_value(l, x, y, p); }, l.xs, l.ys, p);
        }
      }
    }
    if (p.mirror) {  // channel c shows up mirrored in channel mirror_of[c] of sample N + n
      float* dst = out + (((p.batch + n) * p.channels + mirror_of[c]) * p.frames + t) * plane_size;
      for (int64_t y = 0; y < p.height; ++y) {
        const float* row = plane + y * p.width;
        float* mrow = dst + y * p.width;
        for (int64_t x = 0; x < p.width; ++x) mrow[p.width - 1 - x] = row[x];
      }
    }
  }
}

at::Tensor pose_heatmaps_cpu(const at::Tensor& keypoints_in, const at::Tensor& scores_in,
                             at::IntArrayRef size, double sigma, const at::Tensor& limbs_in,
                             bool with_kp, bool legacy_merge, double eps,
                             const std::optional<at::Tensor>& flip_order) {
  const Params p = check_args(keypoints_in, scores_in, size, sigma, limbs_in, with_kp, legacy_merge,
                              eps, flip_order);
  at::Tensor out =
      at::empty({p.mirror ? 2 * p.batch : p.batch, p.channels, p.frames, p.height, p.width},
                keypoints_in.options());
  if (out.numel() == 0) return out;
  // the inverse of flip_order: the mirrored channel each drawn channel lands in
  std::vector<int64_t> mirror_of(p.channels);
  if (p.mirror) {
    const at::Tensor order = flip_order->contiguous();
    for (int64_t c = 0; c < p.channels; ++c) mirror_of[order.const_data_ptr<int64_t>()[c]] = c;
  }
  const at::Tensor keypoints = keypoints_in.contiguous();
  const at::Tensor scores = scores_in.contiguous();
  const at::Tensor limbs = limbs_in.contiguous();
  const float* kp = keypoints.const_data_ptr<float>();
  const float* sc = scores.const_data_ptr<float>();
  const int64_t* lp = limbs.const_data_ptr<int64_t>();
  float* o = out.mutable_data_ptr<float>();
  const int64_t planes = p.batch * p.channels * p.frames;
  at::parallel_for(0, planes, 16, [&](int64_t begin, int64_t end) {
    draw_planes(kp, sc, lp, mirror_of.data(), o, p, begin, end);
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(actionkit, CPU, m) { m.impl("pose_heatmaps", &pose_heatmaps_cpu); }

}  // namespace actionkit::kernels::pose_heatmaps
