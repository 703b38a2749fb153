// Glue between the dispatcher and the CUDA launcher of the fused preprocessing.
#include "preprocess_cuda.h"

#include <ATen/ops/empty.h>
#include <ATen/ops/tensor.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include <vector>

#include "../../common/cuda_glue.h"
#include "preprocess.h"

namespace actionkit::kernels::preprocess {
namespace {

at::Tensor preprocess_cuda(const at::Tensor& frames_in, const at::Tensor& boxes_in,
                           const at::Tensor& flip_in, at::IntArrayRef size,
                           at::ArrayRef<double> mean, at::ArrayRef<double> std,
                           c10::string_view layout, std::optional<at::ScalarType> dtype) {
  const Dims d = check_args(frames_in, boxes_in, flip_in, size, mean, std, layout);
  const c10::cuda::CUDAGuard guard(frames_in.device());
  at::Tensor out = make_output(d, frames_in, dtype);
  if (out.numel() == 0) return out;
  const at::Tensor frames = frames_in.contiguous();
  const at::Tensor boxes = boxes_in.to(at::kFloat).contiguous();
  const at::Tensor flip = flip_in.contiguous();
  std::vector<float> stats(mean.begin(), mean.end());
  for (double s : std) stats.push_back(static_cast<float>(1.0 / s));
  const at::Tensor params =
      at::tensor(stats, at::TensorOptions().dtype(at::kFloat)).to(frames.device());
  cuda::launch(actionkit::cuda::dtype_of(out), frames.const_data_ptr<uint8_t>(),
               boxes.const_data_ptr<float>(), flip.const_data_ptr<bool>(),
               params.const_data_ptr<float>(), params.const_data_ptr<float>() + d.channels,
               out.mutable_data_ptr(), d, actionkit::cuda::current_stream());
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(actionkit, CUDA, m) { m.impl("preprocess", &preprocess_cuda); }

}  // namespace actionkit::kernels::preprocess
