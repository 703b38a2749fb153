// TV-L1 optical flow: the schema (argument checks: optical_flow.h, inline, so the
// host-emulation test module shares them). Not differentiable: a data op.
#include "optical_flow.h"

#include <torch/library.h>

TORCH_LIBRARY_FRAGMENT(actionkit, m) {
  m.def(
      "optical_flow_tvl1(Tensor frames_a, Tensor frames_b, float tau=0.25, float lambd=0.15, "
      "float theta=0.3, int scales=5, int warps=5, float epsilon=0.01, int inner_iterations=30, "
      "int outer_iterations=10, float scale_step=0.8, int median_filtering=5) -> Tensor");
}
