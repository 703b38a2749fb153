// The CUDA launcher of TV-L1 optical flow. Torch-free, so the .cu stays cheap to compile.
#pragma once

#include <cstdint>

#include "optical_flow_math.h"

namespace actionkit::kernels::optical_flow::cuda {

// Device buffers the caller allocates: the two pyramids (pyramid_size(p) floats each),
// fourteen work planes (pairs * height * width floats each), and per pair one float
// (the error) and one int (whether it still iterates).
struct Workspace {
  float *i0, *i1;
  float *i1x, *i1y, *ix, *iy, *grad, *rho_c, *p11, *p12, *p21, *p22, *u1, *u2, *t1, *t2;
  float* error;
  int* active;
};

// Number of work planes in a Workspace.
constexpr int kPlanes = 14;

// frames_a, frames_b: contiguous float [N, H, W] on the device; out: float [N, 2, H, W].
// Synchronises with the stream once per outer iteration (to stop when every pair has).
void launch(const float* frames_a, const float* frames_b, float* out, const Params& p,
            const Workspace& ws, void* stream);

}  // namespace actionkit::kernels::optical_flow::cuda
