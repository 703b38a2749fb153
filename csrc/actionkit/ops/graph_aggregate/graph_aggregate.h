// Declarations shared by graph aggregation's schema, CPU and CUDA files.
#pragma once

#include <ATen/core/Tensor.h>

#include "graph_aggregate_math.h"

namespace actionkit::kernels::graph_aggregate {

// Checks x [N, K, C, T, V] and A [K, V, V] or [N, K, V, V] and returns the dimensions.
Dims check_args(const at::Tensor& x, const at::Tensor& a);

// Checks grad [N, C, T, V] against A and returns the dimensions of the forward call.
Dims check_grad(const at::Tensor& grad, const at::Tensor& a);

}  // namespace actionkit::kernels::graph_aggregate
