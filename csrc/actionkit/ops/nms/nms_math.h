// Per-element math of non-maximum suppression and temporal IoU, shared by the
// CPU and CUDA kernels: the overlap of two boxes (x1, y1, x2, y2) or two
// segments (t1, t2), with torchvision's and MMAction2's conventions.
#pragma once

#include <cstdint>

#include "../../common/hostdevice.h"

namespace actionkit::kernels::nms {

using detail::max_of;
using detail::min_of;

// IoU of boxes a and b, each (x1, y1, x2, y2): torchvision's box_iou (areas
// without a +1 offset).
template <typename T>
AK_HD inline T box_iou(const T* a, const T* b) {
  const T w = max_of(T(0), min_of(a[2], b[2]) - max_of(a[0], b[0]));
  const T h = max_of(T(0), min_of(a[3], b[3]) - max_of(a[1], b[1]));
  const T inter = w * h;
  const T area_a = (a[2] - a[0]) * (a[3] - a[1]);
  const T area_b = (b[2] - b[0]) * (b[3] - b[1]);
  return inter / (area_a + area_b - inter);
}

// IoU of segments a and b, each (start, end): MMAction2's temporal_iou.
template <typename T>
AK_HD inline T segment_iou(const T* a, const T* b) {
  const T inter = max_of(T(0), min_of(a[1], b[1]) - max_of(a[0], b[0]));
  const T union_len = (a[1] - a[0]) - inter + (b[1] - b[0]);
  return inter / union_len;
}

// The IoU of rows i and j of a [K, 2*dims] tensor of boxes (dims 2) or segments (dims 1).
template <typename T>
AK_HD inline T iou(const T* rows, int64_t dims, int64_t i, int64_t j) {
  const T* a = rows + i * 2 * dims;
  const T* b = rows + j * 2 * dims;
  return dims == 2 ? box_iou(a, b) : segment_iou(a, b);
}

// Word w of the suppression bitmask of sorted box i: bit b is set when box
// w*64 + b (later in score order) overlaps box i by more than the threshold.
template <typename T>
AK_HD inline uint64_t suppression_word(const T* sorted, int64_t count, int64_t dims, int64_t i,
                                       int64_t w, T threshold) {
  uint64_t bits = 0;
  const int64_t first = w * 64;
  for (int64_t b = 0; b < 64 && first + b < count; ++b) {
    const int64_t j = first + b;
    if (j > i && iou(sorted, dims, i, j) > threshold) bits |= uint64_t(1) << b;
  }
  return bits;
}

}  // namespace actionkit::kernels::nms
