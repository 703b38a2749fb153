// CUDA kernels of the boundary-matching sampling: grid-stride loops over the
// output (forward) or the incoming gradient (backward, atomicAdd into an
// fp32/fp64 buffer), using the shared per-element math.
#include <cstdint>

#include "../../common/cuda_dtype.h"
#include "../../common/cuda_launch.h"
#include "bm_sampling_cuda.h"
#include "bm_sampling_math.h"

namespace actionkit::kernels::bm_sampling::cuda {
using actionkit::cuda::dispatch_floating;

namespace {

// Output element i: (row, s, d, start) for sampling, (row, d, start) for the sum.
template <typename scalar_t, typename acc_t>
__global__ void forward_kernel(const scalar_t* input, scalar_t* out, int64_t rows, Params p,
                               bool sum) {
  const int64_t t_len = p.frames;
  const int64_t total = rows * (sum ? 1 : p.samples) * t_len * t_len;
  AK_GRID_STRIDE_LOOP(i, total) {
    const int64_t start = i % t_len;
    const int64_t d = (i / t_len) % t_len;
    const int64_t rest = i / (t_len * t_len);  // row*S + s, or row
    const int64_t s_first = sum ? 0 : rest % p.samples;
    const int64_t s_end = sum ? p.samples : s_first + 1;
    const int64_t row = sum ? rest : rest / p.samples;
    acc_t v = acc_t(0);
    for (int64_t s = s_first; s < s_end; ++s) {
      const scalar_t* in = input + (sum ? (row * p.samples + s) * t_len : row * t_len);
      for_each_tap(p, s, d, start, [&](int64_t f, double w) {
        v += static_cast<acc_t>(w) * detail::to_acc<acc_t>(in[f]);
      });
    }
    out[i] = detail::from_acc<scalar_t>(v);
  }
}

template <typename scalar_t, typename acc_t>
__global__ void backward_kernel(const scalar_t* grad, acc_t* grad_input, int64_t rows, Params p,
                                bool sum) {
  const int64_t t_len = p.frames;
  const int64_t total = rows * (sum ? 1 : p.samples) * t_len * t_len;
  AK_GRID_STRIDE_LOOP(i, total) {
    const int64_t start = i % t_len;
    const int64_t d = (i / t_len) % t_len;
    const int64_t rest = i / (t_len * t_len);
    const int64_t s_first = sum ? 0 : rest % p.samples;
    const int64_t s_end = sum ? p.samples : s_first + 1;
    const int64_t row = sum ? rest : rest / p.samples;
    const acc_t g = detail::to_acc<acc_t>(grad[i]);
    for (int64_t s = s_first; s < s_end; ++s) {
      acc_t* gin = grad_input + (sum ? (row * p.samples + s) * t_len : row * t_len);
      for_each_tap(p, s, d, start,
                   [&](int64_t f, double w) { atomicAdd(gin + f, static_cast<acc_t>(w) * g); });
    }
  }
}

int64_t total_elements(int64_t rows, const Params& p, bool sum) {
  return rows * (sum ? 1 : p.samples) * p.frames * p.frames;
}

}  // namespace

void launch_forward(DType dtype, const void* input, void* out, int64_t rows, const Params& p,
                    bool sum, void* stream) {
  const int64_t total = total_elements(rows, p, sum);
  if (total == 0) return;
  dispatch_floating(dtype, "bm_sampling", [&]<typename scalar_t, typename acc_t>() {
    AK_LAUNCH((forward_kernel<scalar_t, acc_t>), dim3(detail::num_blocks(total)),
              dim3(detail::kThreadsPerBlock), static_cast<cudaStream_t>(stream),
              static_cast<const scalar_t*>(input), static_cast<scalar_t*>(out), rows, p, sum);
  });
  detail::check_launch("bm_sampling forward");
}

void launch_backward(DType dtype, const void* grad, void* grad_input, int64_t rows, const Params& p,
                     bool sum, void* stream) {
  const int64_t total = total_elements(rows, p, sum);
  if (total == 0) return;
  dispatch_floating(dtype, "bm_sampling", [&]<typename scalar_t, typename acc_t>() {
    AK_LAUNCH((backward_kernel<scalar_t, acc_t>), dim3(detail::num_blocks(total)),
              dim3(detail::kThreadsPerBlock), static_cast<cudaStream_t>(stream),
              static_cast<const scalar_t*>(grad), static_cast<acc_t*>(grad_input), rows, p, sum);
  });
  detail::check_launch("bm_sampling backward");
}

}  // namespace actionkit::kernels::bm_sampling::cuda
