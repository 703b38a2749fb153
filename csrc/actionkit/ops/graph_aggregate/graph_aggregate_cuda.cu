// CUDA kernels of graph aggregation: grid-stride loops over output elements
// using the shared dot-product math.
#include <cstdint>
#include <stdexcept>

#include "../../common/cuda_dtype.h"
#include "../../common/cuda_launch.h"
#include "graph_aggregate_cuda.h"
#include "graph_aggregate_math.h"

namespace actionkit::kernels::graph_aggregate::cuda {
using actionkit::cuda::dispatch_floating;

namespace {

template <typename scalar_t, typename acc_t>
__global__ void forward_kernel(const scalar_t* x, const scalar_t* a, scalar_t* out, Dims d) {
  const int64_t total = d.batches * d.rows * d.joints;
  AK_GRID_STRIDE_LOOP(i, total) {
    const int64_t w = i % d.joints;
    const int64_t r = (i / d.joints) % d.rows;
    const int64_t n = i / (d.joints * d.rows);
    const int64_t base = ((d.per_sample ? n : 0) * d.subsets) * d.joints * d.joints;
    out[i] = detail::from_acc<scalar_t>(
        aggregate<acc_t>(d, x, a + base + w, d.joints * d.joints, d.joints, n, r));
  }
}

template <typename scalar_t, typename acc_t>
__global__ void grad_x_kernel(const scalar_t* grad, const scalar_t* a, scalar_t* gx, Dims d) {
  const int64_t total = d.batches * d.subsets * d.rows * d.joints;
  AK_GRID_STRIDE_LOOP(i, total) {
    const int64_t v = i % d.joints;
    const int64_t r = (i / d.joints) % d.rows;
    const int64_t k = (i / (d.joints * d.rows)) % d.subsets;
    const int64_t n = i / (d.joints * d.rows * d.subsets);
    const int64_t a_row = (((d.per_sample ? n : 0) * d.subsets + k) * d.joints + v) * d.joints;
    gx[i] = detail::from_acc<scalar_t>(grad_x<acc_t>(d, grad, a + a_row, n, r));
  }
}

}  // namespace

void launch_forward(DType dtype, const void* x, const void* a, void* out, const Dims& d,
                    void* stream) {
  const int64_t total = d.batches * d.rows * d.joints;
  if (total == 0) return;
  dispatch_floating(dtype, "graph_aggregate", [&]<typename scalar_t, typename acc_t>() {
    AK_LAUNCH((forward_kernel<scalar_t, acc_t>), dim3(detail::num_blocks(total)),
              dim3(detail::kThreadsPerBlock), static_cast<cudaStream_t>(stream),
              static_cast<const scalar_t*>(x), static_cast<const scalar_t*>(a),
              static_cast<scalar_t*>(out), d);
  });
  detail::check_launch("graph_aggregate forward");
}

void launch_grad_x(DType dtype, const void* grad, const void* a, void* grad_x, const Dims& d,
                   void* stream) {
  const int64_t total = d.batches * d.subsets * d.rows * d.joints;
  if (total == 0) return;
  dispatch_floating(dtype, "graph_aggregate", [&]<typename scalar_t, typename acc_t>() {
    AK_LAUNCH((grad_x_kernel<scalar_t, acc_t>), dim3(detail::num_blocks(total)),
              dim3(detail::kThreadsPerBlock), static_cast<cudaStream_t>(stream),
              static_cast<const scalar_t*>(grad), static_cast<const scalar_t*>(a),
              static_cast<scalar_t*>(grad_x), d);
  });
  detail::check_launch("graph_aggregate grad_x");
}

}  // namespace actionkit::kernels::graph_aggregate::cuda
