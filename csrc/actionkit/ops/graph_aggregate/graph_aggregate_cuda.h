// The CUDA launchers of graph aggregation. Torch-free, so the .cu stays cheap to compile.
#pragma once

#include <cstdint>

#include "../../common/cuda_dtype.h"
#include "graph_aggregate_math.h"

namespace actionkit::kernels::graph_aggregate::cuda {

using actionkit::cuda::DType;

// out [N, R, V] from x [N, K, R, V] and A [N or 1, K, V, V], all contiguous.
void launch_forward(DType dtype, const void* x, const void* a, void* out, const Dims& d,
                    void* stream);

// grad_x [N, K, R, V] from grad [N, R, V] and A.
void launch_grad_x(DType dtype, const void* grad, const void* a, void* grad_x, const Dims& d,
                   void* stream);

}  // namespace actionkit::kernels::graph_aggregate::cuda
