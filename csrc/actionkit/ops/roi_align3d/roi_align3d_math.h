// Per-element math of RoIAlign3D, shared by the CPU and CUDA kernels: the
// geometry of a RoI and the taps (input offset, weight) of one output bin.
// The bilinear rules are torchvision's roi_align, applied per frame (and,
// for RoIs with a temporal extent, along time as well).
#pragma once

#include <cmath>
#include <cstdint>

#include "../../common/hostdevice.h"

namespace actionkit::kernels::roi_align3d {

// The op's scalar arguments, as every backend receives them.
struct Params {
  int64_t out_t, out_h, out_w;
  double spatial_scale;
  double temporal_scale;
  int64_t sampling_ratio;
  bool aligned;
  bool tube;  // rois have 7 columns
};

// One RoI in feature coordinates. `tube` RoIs (7 columns) have a temporal
// extent sampled like the spatial one; box RoIs (5 columns) average the
// frames of each temporal bin.
template <typename acc_t>
struct Geometry {
  int64_t batch;
  bool tube;
  acc_t t0, y0, x0;
  acc_t bin_t, bin_h, bin_w;
  int64_t grid_t, grid_h, grid_w;
};

template <typename acc_t>
AK_HD inline int64_t grid_size(acc_t extent, int64_t bins, int64_t sampling_ratio) {
  if (sampling_ratio > 0) return sampling_ratio;
  return static_cast<int64_t>(ceil(static_cast<double>(extent / static_cast<acc_t>(bins))));
}

// roi: (batch, x1, y1, x2, y2) or (batch, t1, x1, y1, t2, x2, y2).
template <typename acc_t>
AK_HD inline Geometry<acc_t> geometry(const acc_t* roi, const Params& p) {
  const bool tube = p.tube, aligned = p.aligned;
  const acc_t spatial_scale = static_cast<acc_t>(p.spatial_scale);
  const acc_t temporal_scale = static_cast<acc_t>(p.temporal_scale);
  const int64_t out_t = p.out_t, out_h = p.out_h, out_w = p.out_w;
  const int64_t sampling_ratio = p.sampling_ratio;
  const acc_t offset = aligned ? acc_t(0.5) : acc_t(0);
  const acc_t* box = tube ? roi + 2 : roi + 1;
  const acc_t* box_end = tube ? roi + 5 : roi + 3;
  Geometry<acc_t> g;
  g.batch = static_cast<int64_t>(roi[0]);
  g.tube = tube;
  g.x0 = box[0] * spatial_scale - offset;
  g.y0 = box[1] * spatial_scale - offset;
  acc_t width = box_end[0] * spatial_scale - offset - g.x0;
  acc_t height = box_end[1] * spatial_scale - offset - g.y0;
  acc_t length = acc_t(0);
  if (tube) {
    g.t0 = roi[1] * temporal_scale - offset;
    length = roi[4] * temporal_scale - offset - g.t0;
  } else {
    g.t0 = acc_t(0);
  }
  if (!aligned) {  // the legacy behaviour: RoIs of at least one cell
    width = width > acc_t(1) ? width : acc_t(1);
    height = height > acc_t(1) ? height : acc_t(1);
    length = length > acc_t(1) ? length : acc_t(1);
  }
  g.bin_w = width / static_cast<acc_t>(out_w);
  g.bin_h = height / static_cast<acc_t>(out_h);
  g.bin_t = length / static_cast<acc_t>(out_t);
  g.grid_w = grid_size(width, out_w, sampling_ratio);
  g.grid_h = grid_size(height, out_h, sampling_ratio);
  g.grid_t = tube ? grid_size(length, out_t, sampling_ratio) : 1;
  return g;
}

// The output element at flat index i of [K, C, t, h, w].
struct BinIndex {
  int64_t roi, channel, ti, ph, pw;
};

AK_HD inline BinIndex decode_bin(int64_t i, int64_t channels, const Params& p) {
  BinIndex b;
  b.pw = i % p.out_w;
  b.ph = (i / p.out_w) % p.out_h;
  b.ti = (i / (p.out_w * p.out_h)) % p.out_t;
  const int64_t kc = i / (p.out_t * p.out_h * p.out_w);
  b.channel = kc % channels;
  b.roi = kc / channels;
  return b;
}

// Linear interpolation along one axis with torchvision's border rules: points
// more than one cell outside [0, size) contribute nothing; points in the
// outer half cell are clamped to the border.
template <typename acc_t>
struct Interp {
  bool valid;
  int64_t lo, hi;
  acc_t w_lo, w_hi;
};

template <typename acc_t>
AK_HD inline Interp<acc_t> interpolate(acc_t x, int64_t size) {
  Interp<acc_t> r{false, 0, 0, acc_t(0), acc_t(0)};
  if (x < acc_t(-1) || x > static_cast<acc_t>(size)) return r;
  if (x <= acc_t(0)) x = acc_t(0);
  r.lo = static_cast<int64_t>(x);
  if (r.lo >= size - 1) {
    r.lo = r.hi = size - 1;
    x = static_cast<acc_t>(r.lo);
  } else {
    r.hi = r.lo + 1;
  }
  r.w_hi = x - static_cast<acc_t>(r.lo);
  r.w_lo = acc_t(1) - r.w_hi;
  r.valid = true;
  return r;
}

// The first and one-past-last frame averaged into temporal bin `ti` of a box
// RoI: adaptive average pooling's bins, so t = T keeps frames and t = 1
// averages all.
AK_HD inline int64_t frame_begin(int64_t ti, int64_t frames, int64_t out_t) {
  return (ti * frames) / out_t;
}
AK_HD inline int64_t frame_end(int64_t ti, int64_t frames, int64_t out_t) {
  return ((ti + 1) * frames + out_t - 1) / out_t;
}

// Calls tap(offset, weight) for every input cell that output bin (ti, ph, pw)
// of RoI g reads; offset indexes one channel's [T, H, W] block. The output is
// the weighted sum of the taps, so the backward scatters along the same taps.
template <typename acc_t, typename Tap>
AK_HD inline void for_each_tap(const Geometry<acc_t>& g, int64_t ti, int64_t ph, int64_t pw,
                               int64_t frames, int64_t height, int64_t width, int64_t out_t,
                               Tap&& tap) {
  const int64_t plane = height * width;
  const int64_t f0 = g.tube ? 0 : frame_begin(ti, frames, out_t);
  const int64_t f1 = g.tube ? 1 : frame_end(ti, frames, out_t);
  const int64_t samples = g.grid_t * g.grid_h * g.grid_w;
  if (samples <= 0) return;  // empty RoI: torchvision's output is zero
  const acc_t scale = acc_t(1) / static_cast<acc_t>(samples * (f1 - f0));
  for (int64_t it = 0; it < g.grid_t; ++it) {
    Interp<acc_t> it_t{true, 0, 0, acc_t(1), acc_t(0)};
    if (g.tube) {
      const acc_t t = g.t0 + static_cast<acc_t>(ti) * g.bin_t +
                      static_cast<acc_t>(it + 0.5) * g.bin_t / static_cast<acc_t>(g.grid_t);
      it_t = interpolate(t, frames);
      if (!it_t.valid) continue;
    }
    for (int64_t iy = 0; iy < g.grid_h; ++iy) {
      const acc_t y = g.y0 + static_cast<acc_t>(ph) * g.bin_h +
                      static_cast<acc_t>(iy + 0.5) * g.bin_h / static_cast<acc_t>(g.grid_h);
      const Interp<acc_t> iy_ = interpolate(y, height);
      if (!iy_.valid) continue;
      for (int64_t ix = 0; ix < g.grid_w; ++ix) {
        const acc_t x = g.x0 + static_cast<acc_t>(pw) * g.bin_w +
                        static_cast<acc_t>(ix + 0.5) * g.bin_w / static_cast<acc_t>(g.grid_w);
        const Interp<acc_t> ix_ = interpolate(x, width);
        if (!ix_.valid) continue;
        const int64_t cells[4] = {iy_.lo * width + ix_.lo, iy_.lo * width + ix_.hi,
                                  iy_.hi * width + ix_.lo, iy_.hi * width + ix_.hi};
        const acc_t weights[4] = {iy_.w_lo * ix_.w_lo, iy_.w_lo * ix_.w_hi, iy_.w_hi * ix_.w_lo,
                                  iy_.w_hi * ix_.w_hi};
        if (g.tube) {
          for (int j = 0; j < 4; ++j) {
            tap(it_t.lo * plane + cells[j], weights[j] * it_t.w_lo * scale);
            tap(it_t.hi * plane + cells[j], weights[j] * it_t.w_hi * scale);
          }
        } else {
          for (int64_t f = f0; f < f1; ++f) {
            for (int j = 0; j < 4; ++j) tap(f * plane + cells[j], weights[j] * scale);
          }
        }
      }
    }
  }
}

}  // namespace actionkit::kernels::roi_align3d
