// Per-element math of the pose heatmaps (PoseC3D's GeneratePoseTarget), shared by the
// CPU and CUDA kernels. The arithmetic follows MMAction2 1.2.0's NumPy code step by
// step in float32 (its windows in float64, as NumPy 1.x computes a float32 scalar minus
// a Python float), so results agree to float32 rounding.
#pragma once

#include <cmath>
#include <cstdint>

#include "../../common/hostdevice.h"

namespace actionkit::kernels::pose_heatmaps {

struct Params {
  int64_t batch, persons, frames, joints, limbs;  // N, M, T, V, L
  int64_t height, width;
  int64_t channels;     // (with_kp ? V : 0) + L
  int64_t limb_offset;  // the channel of limb 0: V after the keypoints, 0 when merged
  bool with_kp;
  float sigma_sq;      // sigma**2 as float32 (NumPy divides a float32 array by it)
  double sigma_sq_d;   // sigma**2 (the limbs' Gaussians are float64 in MMAction2)
  double three_sigma;  // the half-width of the windows, before truncation
  float eps;           // keypoints (limbs) scored below it are left out
  bool mirror;         // also the left-right mirrored maps, as samples N..2N-1
};

// Half-open pixel range [lo, hi).
struct Span {
  int64_t lo, hi;
};

// MMAction2's window: [max(int(lo - 3 sigma), 0), min(int(hi + 3 sigma) + 1, size)).
// int() truncates toward zero; coordinates are clamped first so the cast is defined.
AK_HD inline Span window(double lo, double hi, double three_sigma, int64_t size) {
  const double big = 1e15;
  double a = lo - three_sigma, b = hi + three_sigma;
  a = a < -big ? -big : (a > big ? big : a);
  b = b < -big ? -big : (b > big ? big : b);
  int64_t s = static_cast<int64_t>(a), e = static_cast<int64_t>(b) + 1;
  if (s < 0) s = 0;
  if (e > size) e = size;
  return {s, e};
}

// Both finite (false for NaN and inf; no isfinite overload questions on host or device).
AK_HD inline bool finite2(float x, float y) {
  return fabsf(x) <= 3.4028235e38f && fabsf(y) <= 3.4028235e38f;
}

// exp(-d2 / 2 / sigma^2) * value, in NumPy's order of float32 operations.
AK_HD inline float gaussian(float d2, float value, const Params& p) {
  return expf((-d2 / 2.0f) / p.sigma_sq) * value;
}

// One person's keypoint: its pixel windows and peak (value 0: left out).
struct Peak {
  float x, y, value;
  Span xs, ys;
};

AK_HD inline Peak make_peak(float x, float y, float value, const Params& p) {
  Peak k{x, y, value, {0, 0}, {0, 0}};
  if (!(value >= p.eps) || !finite2(x, y)) {
    k.value = 0.0f;
    return k;
  }
  k.xs = window(static_cast<double>(x), static_cast<double>(x), p.three_sigma, p.width);
  k.ys = window(static_cast<double>(y), static_cast<double>(y), p.three_sigma, p.height);
  return k;
}

AK_HD inline bool inside(const Span& xs, const Span& ys, int64_t x, int64_t y) {
  return xs.lo <= x && x < xs.hi && ys.lo <= y && y < ys.hi;
}

AK_HD inline float peak_value(const Peak& k, int64_t x, int64_t y, const Params& p) {
  const float dx = static_cast<float>(x) - k.x, dy = static_cast<float>(y) - k.y;
  return gaussian(dx * dx + dy * dy, k.value, p);
}

// One person's limb from keypoint a to keypoint b. Shorter than one pixel, it is a's
// keypoint map with a's score (as MMAction2 draws it).
struct Limb {
  float ax, ay, bx, by, value, d2_ab;
  bool point;
  Span xs, ys;
};

AK_HD inline Limb make_limb(float ax, float ay, float bx, float by, float sa, float sb,
                            const Params& p) {
  Limb l{ax, ay, bx, by, sa < sb ? sa : sb, 0.0f, false, {0, 0}, {0, 0}};
  if (!(l.value >= p.eps) || !finite2(ax, ay) || !finite2(bx, by)) {
    l.value = 0.0f;
    return l;
  }
  // float64 in MMAction2 (a float32 scalar squared by NumPy 1.x), float32 where it meets
  // the float32 arrays
  const double dx = ax - bx, dy = ay - by;
  const double d2_ab = dx * dx + dy * dy;
  l.d2_ab = static_cast<float>(d2_ab);
  if (d2_ab < 1.0) {
    l.point = true;
    l.value = sa;
    l.xs = window(ax, ax, p.three_sigma, p.width);
    l.ys = window(ay, ay, p.three_sigma, p.height);
    return l;
  }
  l.xs = window(ax < bx ? ax : bx, ax < bx ? bx : ax, p.three_sigma, p.width);
  l.ys = window(ay < by ? ay : by, ay < by ? by : ay, p.three_sigma, p.height);
  return l;
}

// The squared distance from pixel (x, y) to the segment (float32), then its Gaussian in
// float64: MMAction2 selects the distance with an int64 mask (1 - a - b), which turns
// the rest of its limb arithmetic into float64; the result is rounded to float32.
AK_HD inline float limb_value(const Limb& l, int64_t x, int64_t y, const Params& p) {
  const float fx = static_cast<float>(x), fy = static_cast<float>(y);
  const float sx = fx - l.ax, sy = fy - l.ay, ex = fx - l.bx, ey = fy - l.by;
  if (l.point) return gaussian(sx * sx + sy * sy, l.value, p);
  const float d2_start = sx * sx + sy * sy;
  const float d2_end = ex * ex + ey * ey;
  const float coeff = (d2_start - d2_end + l.d2_ab) / 2.0f / l.d2_ab;
  float d2;
  if (coeff <= 0.0f) {
    d2 = d2_start;
  } else if (coeff >= 1.0f) {
    d2 = d2_end;
  } else {
    const float px = l.ax + coeff * (l.bx - l.ax), py = l.ay + coeff * (l.by - l.ay);
    const float lx = fx - px, ly = fy - py;
    d2 = lx * lx + ly * ly;
  }
  return static_cast<float>(exp((-static_cast<double>(d2) / 2.0) / p.sigma_sq_d) *
                            static_cast<double>(l.value));
}

// What feeds channel c: keypoint `joint` (-1: none) and limb `limb` (-1: none).
struct Sources {
  int64_t joint, limb;
};

AK_HD inline Sources sources_of(int64_t c, const Params& p) {
  Sources s{-1, -1};
  if (p.with_kp && c < p.joints) s.joint = c;
  const int64_t l = c - p.limb_offset;
  if (l >= 0 && l < p.limbs) s.limb = l;
  return s;
}

// The drawn pixel an output pixel shows: itself, or for a mirrored sample (n >= N) the
// pixel (W - 1 - x) of channel flip_order[c] of sample n - N.
struct Pixel {
  int64_t n, c, x;
};

AK_HD inline Pixel source_pixel(int64_t n, int64_t c, int64_t x, const int64_t* flip_order,
                                const Params& p) {
  if (n < p.batch) return {n, c, x};
  return {n - p.batch, flip_order[c], p.width - 1 - x};
}

// Offsets into keypoints [N, M, T, V, 2] and scores [N, M, T, V].
AK_HD inline int64_t score_index(int64_t n, int64_t m, int64_t t, int64_t v, const Params& p) {
  return ((n * p.persons + m) * p.frames + t) * p.joints + v;
}

}  // namespace actionkit::kernels::pose_heatmaps
