// The CUDA launchers of soft-NMS. Torch-free, so the .cu stays cheap to compile.
#pragma once

#include <cstdint>

namespace actionkit::kernels::soft_nms::cuda {

// The shared sequential routines run on the device (see soft_nms_math.h); the
// pointers are device memory of float (or double, with is_double) values.
void launch_boxes(bool is_double, void* cols, void* score, void* area, int64_t* inds, void* dets,
                  int64_t n, double threshold, double sigma, double min_score, int64_t method,
                  double offset, int64_t* count, void* stream);

void launch_temporal(bool is_double, void* cols, void* score, int64_t* inds, void* dets,
                     int64_t* keep, int64_t n, double alpha, double low, double high, int64_t limit,
                     int64_t* count, void* stream);

}  // namespace actionkit::kernels::soft_nms::cuda
