// Glue between the dispatcher and the CUDA launchers of RoIAlign3D.
#include "roi_align3d_cuda.h"

#include <ATen/ops/empty.h>
#include <ATen/ops/zeros.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "../../common/cuda_glue.h"
#include "roi_align3d.h"

namespace actionkit::kernels::roi_align3d {
namespace {

cuda::Shape shape_of(at::IntArrayRef features, int64_t rois) {
  return {features[0], features[1], features[2], features[3], features[4], rois};
}

at::Tensor forward_kernel(const at::Tensor& features, const at::Tensor& rois, const Params& p) {
  const c10::cuda::CUDAGuard guard(features.device());
  at::Tensor out =
      at::empty({rois.size(0), features.size(1), p.out_t, p.out_h, p.out_w}, features.options());
  cuda::launch_forward(actionkit::cuda::dtype_of(features), features.const_data_ptr(),
                       rois.const_data_ptr(), out.mutable_data_ptr(),
                       shape_of(features.sizes(), rois.size(0)), p,
                       actionkit::cuda::current_stream());
  return out;
}

at::Tensor backward_kernel(const at::Tensor& grad, const at::Tensor& rois,
                           at::IntArrayRef input_shape, const Params& p) {
  const c10::cuda::CUDAGuard guard(grad.device());
  at::Tensor grad_features = at::zeros(input_shape, grad.options().dtype(rois.scalar_type()));
  cuda::launch_backward(actionkit::cuda::dtype_of(grad), grad.const_data_ptr(),
                        rois.const_data_ptr(), grad_features.mutable_data_ptr(),
                        shape_of(input_shape, rois.size(0)), p, actionkit::cuda::current_stream());
  return grad_features;
}

}  // namespace

TORCH_LIBRARY_IMPL(actionkit, CUDA, m) {
  m.impl("roi_align3d", &forward_op<&forward_kernel>);
  m.impl("_roi_align3d_backward", &backward_op<&backward_kernel>);
}

}  // namespace actionkit::kernels::roi_align3d
