// Pose heatmaps (PoseC3D's pseudo heatmaps): the schema (argument checks: pose_heatmaps.h,
// inline, so the host-emulation test module shares them). Not differentiable: a data op.
#include "pose_heatmaps.h"

#include <torch/library.h>

TORCH_LIBRARY_FRAGMENT(actionkit, m) {
  m.def(
      "pose_heatmaps(Tensor keypoints, Tensor scores, int[2] size, float sigma, Tensor limbs, "
      "bool with_kp=True, bool legacy_merge=False, float eps=0.0001, Tensor? flip_order=None) -> "
      "Tensor");
}
