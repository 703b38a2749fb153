// Per-element math of the fused clip preprocessing (crop + bilinear resize + flip +
// normalize + layout), shared by the CPU and CUDA kernels.
#pragma once

#include <cstdint>

#include "../../common/hostdevice.h"

namespace actionkit::kernels::preprocess {

// Problem sizes: frames [B, T, H, W, C] uint8 (contiguous) in, out_h x out_w out.
struct Dims {
  int64_t batch, frames, height, width, channels, out_h, out_w;
  bool ntchw;  // output layout [B, T, C, h, w]; otherwise [B, C, T, h, w]
};

// Where output position `o` (of `out_size`) samples the input along one axis of a crop
// [lo, hi) (input pixels): the two neighbours and the weight of the second. It is
// PyTorch's bilinear interpolation with align_corners=False applied to the crop:
// source = lo + (o + 0.5) * (hi - lo) / out_size - 0.5, clamped to the crop's first
// pixel from below and its last pixel (and the image) from above.
struct Tap {
  int64_t i0, i1;
  float w1;
};

AK_HD inline Tap tap(int64_t o, int64_t out_size, float lo, float hi, int64_t in_size) {
  const float scale = (hi - lo) / static_cast<float>(out_size);
  float src = (static_cast<float>(o) + 0.5f) * scale - 0.5f;
  if (src < 0.f) src = 0.f;
  src += lo;
  int64_t last = static_cast<int64_t>(hi);
  if (static_cast<float>(last) < hi) last += 1;  // ceil(hi)
  last = detail::min_of<int64_t>(last, in_size) - 1;
  int64_t i0 = static_cast<int64_t>(src);  // src >= 0: truncation is floor
  float w1 = src - static_cast<float>(i0);
  if (i0 >= last) {
    i0 = last;
    w1 = 0.f;
  }
  return {i0, detail::min_of<int64_t>(i0 + 1, last), w1};
}

// One output value: channel c of the bilinear sample at (y, x) of one HWC frame,
// normalized as (v - mean) * inv_std.
AK_HD inline float sample(const uint8_t* frame, int64_t width, int64_t channels, Tap y, Tap x,
                          int64_t c, float mean, float inv_std) {
  const uint8_t* r0 = frame + y.i0 * width * channels;
  const uint8_t* r1 = frame + y.i1 * width * channels;
  const float top = static_cast<float>(r0[x.i0 * channels + c]) * (1.f - x.w1) +
                    static_cast<float>(r0[x.i1 * channels + c]) * x.w1;
  const float bottom = static_cast<float>(r1[x.i0 * channels + c]) * (1.f - x.w1) +
                       static_cast<float>(r1[x.i1 * channels + c]) * x.w1;
  const float v = top * (1.f - y.w1) + bottom * y.w1;
  return (v - mean) * inv_std;
}

// Flat index of output element (b, c, t, oy, ox) in the chosen layout.
AK_HD inline int64_t out_index(const Dims& d, int64_t b, int64_t c, int64_t t, int64_t oy,
                               int64_t ox) {
  const int64_t plane = (oy * d.out_w + ox);
  const int64_t hw = d.out_h * d.out_w;
  return d.ntchw ? (((b * d.frames + t) * d.channels + c) * hw + plane)
                 : (((b * d.channels + c) * d.frames + t) * hw + plane);
}

}  // namespace actionkit::kernels::preprocess
