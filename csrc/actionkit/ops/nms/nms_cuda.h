// The CUDA launchers of the suppression ops. Torch-free, so the .cu stays cheap to compile.
#pragma once

#include <cstdint>

namespace actionkit::kernels::nms::cuda {

// bits [count, ceil(count/64)] (uint64) from sorted [count, 2*dims] rows;
// is_double selects double rows, else float.
void launch_mask(bool is_double, const void* sorted, int64_t count, int64_t dims, double threshold,
                 void* bits, void* stream);

// out [k, m] = segment IoU of a [k, 2] and b [m, 2], all float or all double.
void launch_temporal_iou(bool is_double, const void* a, const void* b, int64_t k, int64_t m,
                         void* out, void* stream);

}  // namespace actionkit::kernels::nms::cuda
