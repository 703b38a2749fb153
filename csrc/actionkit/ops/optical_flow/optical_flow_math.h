// Per-pixel math of TV-L1 optical flow (Zach, Pock and Bischof 2007, "A duality based
// approach for realtime TV-L1 optical flow"), written once for the CPU and CUDA kernels,
// with the discretisation of OpenCV's DualTVL1OpticalFlow (opencv_contrib optflow), the
// flow two-stream models were trained on:
//   - a pyramid of bilinear resizes by scale_step (OpenCV's resize coordinates:
//     src = (dst + 0.5) * scale - 0.5, edges clamped), coarsest level first;
//   - per warp, I1 and its centred gradient sampled at x + u with bicubic weights
//     (a = -0.75), taps outside the image reading 0 (remap's default constant border;
//     OpenCV 5's remap samples at the exact position, 4.x's rounded it to 1/32 pixel);
//   - per outer iteration, a median filter of the flow (edge pixels replicated);
//   - per inner iteration, the thresholding step for v, u = v + theta div p (the error is
//     the summed squared change of u), then the dual step on p with forward differences.
// Every function reads its neighbours from buffers no other thread writes in the same
// step, so one thread (CUDA) or one loop iteration (CPU) per pixel computes it.
#pragma once

#include <cmath>
#include <cstdint>

#include "../../common/hostdevice.h"
#include "optical_flow_median.h"

namespace actionkit::kernels::optical_flow {

// The most pyramid levels (OpenCV stops at 16 pixels; 0.5^32 of any image is smaller).
constexpr int kMaxLevels = 64;

struct Params {
  int64_t pairs = 0, height = 0, width = 0;
  float tau = 0.25f, lambd = 0.15f, theta = 0.3f;
  double epsilon = 0.01;
  double scale_step = 0.8;
  int64_t warps = 5, inner_iterations = 30, outer_iterations = 10, median = 5;
  // The pyramid: level l is h[l] x w[l]; its planes (one per pair) start at offset[l]
  // in the pyramid buffers (pairs * sum of h*w floats).
  int64_t levels = 0;
  int64_t h[kMaxLevels] = {}, w[kMaxLevels] = {}, offset[kMaxLevels] = {};
};

// OpenCV's resize size for a factor: round(size * step), ties to even.
inline int64_t scaled_size(int64_t size, double step) {
  return static_cast<int64_t>(std::nearbyint(static_cast<double>(size) * step));
}

// The levels OpenCV's DualTVL1 uses for an h x w image: the first `scales`, stopping
// before the first one under 16 pixels on a side. Returns false if too many.
inline bool plan_levels(Params& p, int64_t scales) {
  int64_t h = p.height, w = p.width, total = 0;
  p.levels = 0;
  for (int64_t l = 0; l < scales; ++l) {
    if (l > 0) {
      h = scaled_size(h, p.scale_step), w = scaled_size(w, p.scale_step);
      if (h < 16 || w < 16) break;
    }
    if (l >= kMaxLevels) return false;
    p.h[l] = h, p.w[l] = w, p.offset[l] = total;
    total += p.pairs * h * w;
    p.levels = l + 1;
  }
  return true;
}

inline int64_t pyramid_size(const Params& p) {
  const int64_t last = p.levels - 1;
  return p.offset[last] + p.pairs * p.h[last] * p.w[last];
}

AK_HD inline int64_t clamp_index(int64_t i, int64_t n) { return i < 0 ? 0 : (i >= n ? n - 1 : i); }

// Bilinear resize of one source plane (sh x sw) at destination pixel (y, x), OpenCV's
// INTER_LINEAR: scale = source / destination size (the inverse of the factor asked).
AK_HD inline float resize_linear(const float* src, int64_t sh, int64_t sw, int64_t y, int64_t x,
                                 double scale_y, double scale_x) {
  float fx = static_cast<float>((x + 0.5) * scale_x - 0.5);
  int64_t sx = static_cast<int64_t>(floorf(fx));
  fx -= static_cast<float>(sx);
  if (sx < 0) fx = 0.0f, sx = 0;
  if (sx >= sw - 1) fx = 0.0f, sx = sw - 1;
  const int64_t sx1 = sx + 1 < sw ? sx + 1 : sx;
  float fy = static_cast<float>((y + 0.5) * scale_y - 0.5);
  const int64_t sy = static_cast<int64_t>(floorf(fy));
  fy -= static_cast<float>(sy);
  const float* r0 = src + clamp_index(sy, sh) * sw;
  const float* r1 = src + clamp_index(sy + 1, sh) * sw;
  const float h0 = r0[sx] * (1.0f - fx) + r0[sx1] * fx;
  const float h1 = r1[sx] * (1.0f - fx) + r1[sx1] * fx;
  return h0 * (1.0f - fy) + h1 * fy;
}

// Centred differences, one-sided (halved) at the edges.
AK_HD inline void centered_gradient(const float* src, int64_t h, int64_t w, int64_t y, int64_t x,
                                    float& dx, float& dy) {
  const float* row = src + y * w;
  dx = 0.5f * (row[x + 1 < w ? x + 1 : x] - row[x > 0 ? x - 1 : x]);
  dy = 0.5f * (src[(y + 1 < h ? y + 1 : y) * w + x] - src[(y > 0 ? y - 1 : y) * w + x]);
}

// Keys' cubic convolution weights (a = -0.75, OpenCV's) of the four taps around t.
AK_HD inline void cubic_weights(float t, float c[4]) {
  const float a = -0.75f;
  c[0] = ((a * (t + 1.0f) - 5.0f * a) * (t + 1.0f) + 8.0f * a) * (t + 1.0f) - 4.0f * a;
  c[1] = ((a + 2.0f) * t - (a + 3.0f)) * t * t + 1.0f;
  c[2] = ((a + 2.0f) * (1.0f - t) - (a + 3.0f)) * (1.0f - t) * (1.0f - t) + 1.0f;
  c[3] = 1.0f - c[0] - c[1] - c[2];
}

// The warp of one pixel: I1, I1x, I1y sampled at (x + u1, y + u2) bicubically (remap's
// INTER_CUBIC: the 4 x 4 taps from floor(x + u1) - 1, outside taps 0), then |grad I1w|^2 and the
// constant part of the data term, rho_c = I1w - I1wx u1 - I1wy u2 - I0.
struct Warped {
  float ix, iy, grad, rho_c;
};

AK_HD inline Warped warp_pixel(const float* i0, const float* i1, const float* i1x, const float* i1y,
                               float u1, float u2, int64_t h, int64_t w, int64_t y, int64_t x) {
  const float fx = static_cast<float>(x) + u1, fy = static_cast<float>(y) + u2;
  const float bx = floorf(fx), by = floorf(fy);
  const int64_t sx = static_cast<int64_t>(bx) - 1, sy = static_cast<int64_t>(by) - 1;
  float wx[4], wy[4];
  cubic_weights(fx - bx, wx);
  cubic_weights(fy - by, wy);
  float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f;
  for (int i = 0; i < 4; ++i) {
    const int64_t yy = sy + i;
    if (yy < 0 || yy >= h) continue;
    float r0 = 0.0f, r1 = 0.0f, r2 = 0.0f;
    for (int j = 0; j < 4; ++j) {
      const int64_t xx = sx + j;
      if (xx < 0 || xx >= w) continue;
      const float wt = wy[i] * wx[j];
      const int64_t k = yy * w + xx;
      r0 += i1[k] * wt, r1 += i1x[k] * wt, r2 += i1y[k] * wt;
    }
    s0 += r0, s1 += r1, s2 += r2;
  }
  Warped out;
  out.ix = s1;
  out.iy = s2;
  out.grad = s1 * s1 + s2 * s2;
  out.rho_c = s0 - s1 * u1 - s2 * u2 - i0[y * w + x];
  return out;
}

// The median of the k x k window (k = 3 or 5) around (y, x), edge pixels replicated.
AK_HD inline float median_pixel(const float* src, int64_t h, int64_t w, int64_t y, int64_t x,
                                int k) {
  float v[25];
  const int r = k / 2;
  int n = 0;
  for (int dy = -r; dy <= r; ++dy) {
    const float* row = src + clamp_index(y + dy, h) * w;
    for (int dx = -r; dx <= r; ++dx) v[n++] = row[clamp_index(x + dx, w)];
  }
  return k == 3 ? median_of_9(v) : median_of_25(v);
}

// Divergence of (p1, p2) by backward differences (the adjoint of the forward gradient).
AK_HD inline float divergence(const float* p1, const float* p2, int64_t w, int64_t y, int64_t x) {
  const int64_t k = y * w + x;
  const float d1 = x > 0 ? p1[k] - p1[k - 1] : p1[k];
  const float d2 = y > 0 ? p2[k] - p2[k - w] : p2[k];
  return d1 + d2;
}

// One primal step at a pixel: v by thresholding the linearised data term (l_t = lambda
// theta), then u = v + theta div p, written over u. Returns |u_new - u_old|^2.
AK_HD inline float primal_step(float ix, float iy, float grad, float rho_c, float div1, float div2,
                               float l_t, float theta, float& u1, float& u2) {
  const float rho = rho_c + (ix * u1 + iy * u2);
  float d1 = 0.0f, d2 = 0.0f;
  if (rho < -l_t * grad) {
    d1 = l_t * ix, d2 = l_t * iy;
  } else if (rho > l_t * grad) {
    d1 = -l_t * ix, d2 = -l_t * iy;
  } else if (grad > 1.1920928955078125e-7f) {  // FLT_EPSILON
    const float fi = -rho / grad;
    d1 = fi * ix, d2 = fi * iy;
  }
  const float n1 = (u1 + d1) + theta * div1;
  const float n2 = (u2 + d2) + theta * div2;
  const float e = (n1 - u1) * (n1 - u1) + (n2 - u2) * (n2 - u2);
  u1 = n1, u2 = n2;
  return e;
}

// One dual step at a pixel: forward differences of u (0 past the last row / column),
// p = (p + taut grad u) / (1 + taut |grad u|) per flow component.
AK_HD inline void dual_step(const float* u1, const float* u2, int64_t h, int64_t w, int64_t y,
                            int64_t x, float taut, float& p11, float& p12, float& p21, float& p22) {
  const int64_t k = y * w + x;
  const float u1x = x + 1 < w ? u1[k + 1] - u1[k] : 0.0f;
  const float u1y = y + 1 < h ? u1[k + w] - u1[k] : 0.0f;
  const float u2x = x + 1 < w ? u2[k + 1] - u2[k] : 0.0f;
  const float u2y = y + 1 < h ? u2[k + w] - u2[k] : 0.0f;
  const float ng1 = 1.0f + taut * sqrtf(u1x * u1x + u1y * u1y);
  const float ng2 = 1.0f + taut * sqrtf(u2x * u2x + u2y * u2y);
  p11 = (p11 + taut * u1x) / ng1;
  p12 = (p12 + taut * u1y) / ng1;
  p21 = (p21 + taut * u2x) / ng2;
  p22 = (p22 + taut * u2y) / ng2;
}

}  // namespace actionkit::kernels::optical_flow
