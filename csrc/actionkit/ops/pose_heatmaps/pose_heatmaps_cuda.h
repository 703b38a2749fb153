// The CUDA launcher of the pose heatmaps. Torch-free, so the .cu stays cheap to compile.
#pragma once

#include <cstdint>

#include "pose_heatmaps_math.h"

namespace actionkit::kernels::pose_heatmaps::cuda {

// keypoints: contiguous float [N, M, T, V, 2]; scores: float [N, M, T, V]; limbs: int64
// [L, 2] and (p.mirror) flip_order: int64 [C] on the device; out: float [N (2N with
// p.mirror), C, T, H, W], every element written.
void launch(const float* keypoints, const float* scores, const int64_t* limbs,
            const int64_t* flip_order, float* out, const Params& p, void* stream);

}  // namespace actionkit::kernels::pose_heatmaps::cuda
