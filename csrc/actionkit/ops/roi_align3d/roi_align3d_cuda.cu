// CUDA kernels of RoIAlign3D: grid-stride loops over output bins using the
// shared tap math; the backward scatters with atomicAdd into an fp32/fp64 buffer.
#include <cstdint>
#include <stdexcept>

#include "../../common/cuda_dtype.h"
#include "../../common/cuda_launch.h"
#include "roi_align3d_cuda.h"
#include "roi_align3d_math.h"

namespace actionkit::kernels::roi_align3d::cuda {
using actionkit::cuda::dispatch_floating;
using actionkit::cuda::DType;

namespace {

template <typename scalar_t, typename acc_t>
__global__ void forward_kernel(const scalar_t* features, const acc_t* rois, scalar_t* out, Shape s,
                               Params p) {
  const int64_t total = s.rois * s.channels * p.out_t * p.out_h * p.out_w;
  const int64_t cols = p.tube ? 7 : 5;
  const int64_t block = s.frames * s.height * s.width;
  AK_GRID_STRIDE_LOOP(i, total) {
    const BinIndex b = decode_bin(i, s.channels, p);
    const Geometry<acc_t> g = geometry(rois + b.roi * cols, p);
    acc_t sum = acc_t(0);
    if (g.batch >= 0 && g.batch < s.batches) {
      const scalar_t* plane = features + (g.batch * s.channels + b.channel) * block;
      for_each_tap(
          g, b.ti, b.ph, b.pw, s.frames, s.height, s.width, p.out_t,
          [&](int64_t offset, acc_t w) { sum += w * detail::to_acc<acc_t>(plane[offset]); });
    }
    out[i] = detail::from_acc<scalar_t>(sum);
  }
}

template <typename scalar_t, typename acc_t>
__global__ void backward_kernel(const scalar_t* grad, const acc_t* rois, acc_t* grad_features,
                                Shape s, Params p) {
  const int64_t total = s.rois * s.channels * p.out_t * p.out_h * p.out_w;
  const int64_t cols = p.tube ? 7 : 5;
  const int64_t block = s.frames * s.height * s.width;
  AK_GRID_STRIDE_LOOP(i, total) {
    const BinIndex b = decode_bin(i, s.channels, p);
    const Geometry<acc_t> g = geometry(rois + b.roi * cols, p);
    if (g.batch < 0 || g.batch >= s.batches) continue;
    const acc_t gy = detail::to_acc<acc_t>(grad[i]);
    acc_t* plane = grad_features + (g.batch * s.channels + b.channel) * block;
    for_each_tap(g, b.ti, b.ph, b.pw, s.frames, s.height, s.width, p.out_t,
                 [&](int64_t offset, acc_t w) { atomicAdd(plane + offset, w * gy); });
  }
}

int64_t total_bins(const Shape& s, const Params& p) {
  return s.rois * s.channels * p.out_t * p.out_h * p.out_w;
}

template <typename scalar_t, typename acc_t>
void forward_typed(const void* features, const void* rois, void* out, const Shape& s,
                   const Params& p, void* stream) {
  const int64_t total = total_bins(s, p);
  if (total == 0) return;
  AK_LAUNCH((forward_kernel<scalar_t, acc_t>), dim3(detail::num_blocks(total)),
            dim3(detail::kThreadsPerBlock), static_cast<cudaStream_t>(stream),
            static_cast<const scalar_t*>(features), static_cast<const acc_t*>(rois),
            static_cast<scalar_t*>(out), s, p);
  detail::check_launch("roi_align3d forward");
}

template <typename scalar_t, typename acc_t>
void backward_typed(const void* grad, const void* rois, void* grad_features, const Shape& s,
                    const Params& p, void* stream) {
  const int64_t total = total_bins(s, p);
  if (total == 0) return;
  AK_LAUNCH((backward_kernel<scalar_t, acc_t>), dim3(detail::num_blocks(total)),
            dim3(detail::kThreadsPerBlock), static_cast<cudaStream_t>(stream),
            static_cast<const scalar_t*>(grad), static_cast<const acc_t*>(rois),
            static_cast<acc_t*>(grad_features), s, p);
  detail::check_launch("roi_align3d backward");
}

}  // namespace

void launch_forward(DType dtype, const void* features, const void* rois, void* out, const Shape& s,
                    const Params& p, void* stream) {
  dispatch_floating(dtype, "roi_align3d", [&]<typename scalar_t, typename acc_t>() {
    forward_typed<scalar_t, acc_t>(features, rois, out, s, p, stream);
  });
}

void launch_backward(DType dtype, const void* grad, const void* rois, void* grad_features,
                     const Shape& s, const Params& p, void* stream) {
  dispatch_floating(dtype, "roi_align3d", [&]<typename scalar_t, typename acc_t>() {
    backward_typed<scalar_t, acc_t>(grad, rois, grad_features, s, p, stream);
  });
}

}  // namespace actionkit::kernels::roi_align3d::cuda
