// Per-element index math of the temporal shift, shared by the CPU and CUDA kernels.
#pragma once

#include <cstdint>

#include "../../common/hostdevice.h"

namespace actionkit::kernels::temporal_shift {

// The frame whose value lands at (frame t, channel c) of the output, or -1 if
// the output there is zero. Forward: channels [0, fold) take frame t+1,
// channels [fold, 2*fold) take frame t-1, the rest frame t. Backward moves the
// gradient the opposite way.
AK_HD inline int64_t source_frame(int64_t t, int64_t c, int64_t num_frames, int64_t fold,
                                  bool backward) {
  int64_t dt = 0;
  if (c < fold) {
    dt = backward ? -1 : 1;
  } else if (c < 2 * fold) {
    dt = backward ? 1 : -1;
  }
  const int64_t s = t + dt;
  return (s < 0 || s >= num_frames) ? -1 : s;
}

// Maps the flat index of a contiguous [N, T, C, inner] output element to the
// flat index of its source element, or -1 for zero.
AK_HD inline int64_t source_index(int64_t i, int64_t num_frames, int64_t channels, int64_t inner,
                                  int64_t fold, bool backward) {
  const int64_t row = i / inner;  // (n * T + t) * C + c
  const int64_t c = row % channels;
  const int64_t nt = row / channels;
  const int64_t t = nt % num_frames;
  const int64_t s = source_frame(t, c, num_frames, fold, backward);
  if (s < 0) return -1;
  return ((nt - t + s) * channels + c) * inner + (i - row * inner);
}

}  // namespace actionkit::kernels::temporal_shift
