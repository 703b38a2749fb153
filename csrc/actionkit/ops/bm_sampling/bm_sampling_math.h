// Per-element math of BMN's boundary-matching sampling, shared by the CPU and
// CUDA kernels. Output (sample s, duration d, start t) is a weighted sum of a
// few input frames: exactly the column of the dense mask that MMAction2's
// BMN._get_interp1d_mask builds, computed on the fly.
#pragma once

#include <cmath>
#include <cstdint>

#include "../../common/hostdevice.h"

namespace actionkit::kernels::bm_sampling {

struct Params {
  int64_t frames;   // T
  int64_t samples;  // S, num_samples
  int64_t per_bin;  // P, num_samples_per_bin
  double ratio;     // prop_boundary_ratio
};

// Proposal (start t, duration d) covers frames [t, t + d]; its sampling window
// extends (d + 1) * ratio beyond each end and holds S*P evenly spaced points,
// P per output sample. Returns the window's start and point spacing.
AK_HD inline void window(const Params& p, int64_t duration, int64_t start, double* tmin,
                         double* step) {
  const double center_len = static_cast<double>(duration) + 1.0;
  *tmin = static_cast<double>(start) - center_len * p.ratio;
  const double tmax = static_cast<double>(start + duration) + center_len * p.ratio;
  *step = (tmax - *tmin) / (static_cast<double>(p.samples * p.per_bin) - 1.0);
}

// Calls tap(frame, weight) for every input frame output (s, d, t) reads.
// Mirrors the reference code point by point: the integer part comes from
// modf (truncation toward zero) and the upper neighbour from ceil, so a point
// in (-1, 0) puts its whole weight on frame 0, a point in [T-1, T) keeps only
// its lower share, and proposals that run past the end (t + d >= T) are zero.
template <typename Tap>
AK_HD inline void for_each_tap(const Params& p, int64_t s, int64_t duration, int64_t start,
                               Tap&& tap) {
  if (start + duration >= p.frames) return;
  double tmin, step;
  window(p, duration, start, &tmin, &step);
  const double scale = 1.0 / static_cast<double>(p.per_bin);
  for (int64_t j = s * p.per_bin; j < (s + 1) * p.per_bin; ++j) {
    const double x = tmin + step * static_cast<double>(j);
    double whole;
    const double frac = modf(x, &whole);
    const int64_t down = static_cast<int64_t>(whole);
    const int64_t up = static_cast<int64_t>(ceil(x));
    if (down >= 0 && down < p.frames) tap(down, scale * (1.0 - frac));
    if (up >= 0 && up < p.frames) tap(up, scale * frac);
  }
}

// Point j of a proposal of duration d relative to its start: start + base is
// the frame below it and frac its share of the frame above, for every start
// where the point lies in [0, T-1) (there modf is floor and the taps do not
// depend on the start beyond a shift). Lets the CPU kernel vectorise over starts.
struct RelativePoint {
  int64_t base;
  double frac;
};

AK_HD inline RelativePoint relative_point(const Params& p, int64_t duration, int64_t j) {
  double tmin, step;
  window(p, duration, 0, &tmin, &step);
  const double x = tmin + step * static_cast<double>(j);
  const double base = floor(x);
  return {static_cast<int64_t>(base), x - base};
}

}  // namespace actionkit::kernels::bm_sampling
