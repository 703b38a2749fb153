// CUDA kernel of the pose heatmaps: one thread per output pixel (n, c, t, y, x), the max
// over the people whose window holds the pixel (for a mirrored sample: the pixel it
// mirrors), with the shared per-element math.
#include <cstdint>

#include "../../common/cuda_launch.h"
#include "pose_heatmaps_cuda.h"

namespace actionkit::kernels::pose_heatmaps::cuda {
namespace {

__global__ void heatmap_kernel(const float* kp, const float* sc, const int64_t* limbs,
                               const int64_t* flip_order, float* out, Params p, int64_t total) {
  AK_GRID_STRIDE_LOOP(i, total) {
    const int64_t y = (i / p.width) % p.height;
    const int64_t t = (i / (p.width * p.height)) % p.frames;
    const Pixel src_px = source_pixel(i / (p.width * p.height * p.frames * p.channels),
                                      (i / (p.width * p.height * p.frames)) % p.channels,
                                      i % p.width, flip_order, p);
    const int64_t n = src_px.n, x = src_px.x;
    const Sources src = sources_of(src_px.c, p);
    float v = 0.0f;
    for (int64_t m = 0; m < p.persons; ++m) {
      if (src.joint >= 0) {
        const int64_t s = score_index(n, m, t, src.joint, p);
        const Peak k = make_peak(kp[2 * s], kp[2 * s + 1], sc[s], p);
        if (k.value != 0.0f && inside(k.xs, k.ys, x, y)) v = fmaxf(v, peak_value(k, x, y, p));
      }
      if (src.limb >= 0) {
        const int64_t a = score_index(n, m, t, limbs[2 * src.limb], p);
        const int64_t b = score_index(n, m, t, limbs[2 * src.limb + 1], p);
        const Limb l =
            make_limb(kp[2 * a], kp[2 * a + 1], kp[2 * b], kp[2 * b + 1], sc[a], sc[b], p);
        if (l.value != 0.0f && inside(l.xs, l.ys, x, y)) v = fmaxf(v, limb_value(l, x, y, p));
      }
    }
    out[i] = v;
  }
}

}  // namespace

void launch(const float* keypoints, const float* scores, const int64_t* limbs,
            const int64_t* flip_order, float* out, const Params& p, void* stream) {
  const int64_t total = (p.mirror ? 2 : 1) * p.batch * p.channels * p.frames * p.height * p.width;
  if (total == 0) return;
  AK_LAUNCH(heatmap_kernel, dim3(detail::num_blocks(total)), dim3(detail::kThreadsPerBlock),
            static_cast<cudaStream_t>(stream), keypoints, scores, limbs, flip_order, out, p, total);
  detail::check_launch("pose_heatmaps");
}

}  // namespace actionkit::kernels::pose_heatmaps::cuda
