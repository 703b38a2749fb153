// Per-element math of the temporal interlace shift (TIN), shared by the CPU and
// CUDA kernels.
//
// Channel group g of sample n is moved `o = offset[n, g]` frames later in time,
// a fractional offset read by linear interpolation between the two whole shifts
// around it, frames past either end giving zeros:
//   out[t] = (1 - f) * x[t - k] + f * x[t - k - 1],  k = floor(o), f = o - k.
// At whole offsets this is mmcv's tin_shift (out[t + shift] = x[t]); at
// fractional ones it is MMAction2's linear_sampler (the two tin_shifts at
// floor(o) and floor(o) + 1 blended by 1 - f and f).
#pragma once

#include <math.h>

#include <cstdint>

#include "../../common/hostdevice.h"

namespace actionkit::kernels::tin_shift {

// x viewed as a contiguous [N, T, C, inner] block, with G offset groups.
struct Dims {
  int64_t batches;
  int64_t frames;
  int64_t channels;
  int64_t inner;
  int64_t groups;
};

AK_HD inline float floor_of(float v) { return floorf(v); }
AK_HD inline double floor_of(double v) { return floor(v); }

// The two source frames of output frame t (-1: none, the value is zero) and
// their weights. A tap whose weight is exactly zero is dropped, so a whole
// offset copies (no 0 * inf = NaN from the unused frame). A non-finite offset
// gives NaN.
template <typename acc_t>
struct Taps {
  int64_t s0, s1;
  acc_t w0, w1;
};

// floor(o) as a frame count, clamped to +-(frames + 1): offsets beyond the clip
// leave every tap outside it, and the conversion stays defined for any finite o.
template <typename acc_t>
AK_HD inline int64_t whole_frames(acc_t k, int64_t frames) {
  const acc_t bound = static_cast<acc_t>(frames + 1);
  return static_cast<int64_t>(k < -bound ? -bound : (k > bound ? bound : k));
}

template <typename acc_t>
AK_HD inline Taps<acc_t> taps(int64_t t, acc_t o, int64_t frames) {
  Taps<acc_t> r{-1, -1, acc_t(0), acc_t(0)};
  if (!(o - o == acc_t(0))) {  // inf or NaN: NaN out, read from frame t (always valid)
    r.s0 = t;
    r.w0 = o - o;
    return r;
  }
  const acc_t k = floor_of(o);
  const acc_t f = o - k;  // in [0, 1]: 1 where o is a tiny negative number
  const int64_t s0 = t - whole_frames(k, frames);
  const int64_t s1 = s0 - 1;
  if (f != acc_t(1) && s0 >= 0 && s0 < frames) {
    r.s0 = s0;
    r.w0 = acc_t(1) - f;
  }
  if (f != acc_t(0) && s1 >= 0 && s1 < frames) {
    r.s1 = s1;
    r.w1 = f;
  }
  return r;
}

// The frames whose difference is d out[t] / d o: x[s1] - x[s0] (-1: outside the
// clip, zero), the derivative of the interpolation between them; `finite` is
// false for a non-finite offset, whose derivative is NaN.
struct Slope {
  int64_t s0, s1;
  bool finite;
};

template <typename acc_t>
AK_HD inline Slope slope(int64_t t, acc_t o, int64_t frames) {
  if (!(o - o == acc_t(0))) return {-1, -1, false};
  const int64_t s0 = t - whole_frames(floor_of(o), frames);
  const int64_t s1 = s0 - 1;
  return {s0 >= 0 && s0 < frames ? s0 : -1, s1 >= 0 && s1 < frames ? s1 : -1, true};
}

// The position of a flat index of a contiguous [N, T, C, inner] tensor.
struct Position {
  int64_t n, t, c, group, rest;  // rest: (t, c, inner) with t's part removed
};

AK_HD inline Position locate(int64_t i, int64_t frames, int64_t channels, int64_t inner,
                             int64_t group_channels) {
  const int64_t row = i / inner;  // (n * T + t) * C + c
  const int64_t c = row % channels;
  const int64_t nt = row / channels;
  const int64_t t = nt % frames;
  const int64_t n = nt / frames;
  return {n, t, c, c / group_channels, i - t * channels * inner};
}

// Element i of the shifted output, with `sign` = -1 for the shift by -offset
// (the adjoint, which carries the gradient back to x).
template <typename acc_t, typename scalar_t>
AK_HD inline acc_t shifted(const scalar_t* x, const acc_t* offset, int64_t i, int64_t frames,
                           int64_t channels, int64_t inner, int64_t groups, acc_t sign) {
  const Position p = locate(i, frames, channels, inner, channels / groups);
  const Taps<acc_t> tp = taps(p.t, sign * offset[p.n * groups + p.group], frames);
  const int64_t step = channels * inner;  // one frame
  acc_t v = acc_t(0);
  if (tp.s0 >= 0) v += tp.w0 * detail::to_acc<acc_t>(x[p.rest + tp.s0 * step]);
  if (tp.s1 >= 0) v += tp.w1 * detail::to_acc<acc_t>(x[p.rest + tp.s1 * step]);
  return v;
}

// Element i's term of the offset gradient: grad[i] * d out[i] / d o, where
// d out[t] / d o = x[t - k - 1] - x[t - k] (zero past the ends); summed over
// the frames, channels and positions of its group it gives grad_offset[n, g].
template <typename acc_t, typename scalar_t>
AK_HD inline acc_t offset_grad_term(const scalar_t* grad, const scalar_t* x, const acc_t* offset,
                                    int64_t i, int64_t frames, int64_t channels, int64_t inner,
                                    int64_t groups) {
  const Position p = locate(i, frames, channels, inner, channels / groups);
  const acc_t o = offset[p.n * groups + p.group];
  const Slope sl = slope(p.t, o, frames);
  if (!sl.finite) return o - o;  // NaN
  const int64_t step = channels * inner;
  acc_t d = acc_t(0);
  if (sl.s1 >= 0) d += detail::to_acc<acc_t>(x[p.rest + sl.s1 * step]);
  if (sl.s0 >= 0) d -= detail::to_acc<acc_t>(x[p.rest + sl.s0 * step]);
  return detail::to_acc<acc_t>(grad[i]) * d;
}

}  // namespace actionkit::kernels::tin_shift
