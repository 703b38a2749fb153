// Fused clip preprocessing: schema and argument checks. Not differentiable (uint8 in).
#include "preprocess.h"

#include <ATen/ops/empty.h>
#include <torch/library.h>

#include "../../common/cpu_alloc.h"

namespace actionkit::kernels::preprocess {

namespace {

// Boxes outside the frame would read out of bounds: their values are checked (a copy of
// B x 4 numbers to the host for CUDA tensors).
void check_boxes(const at::Tensor& boxes, const Dims& d) {
  const at::Tensor b = boxes.to(at::kCPU, at::kDouble).contiguous();
  const double* v = b.const_data_ptr<double>();
  for (int64_t i = 0; i < d.batch; ++i) {
    const double x1 = v[4 * i], y1 = v[4 * i + 1], x2 = v[4 * i + 2], y2 = v[4 * i + 3];
    TORCH_CHECK(0 <= x1 && x1 < x2 && x2 <= d.width && 0 <= y1 && y1 < y2 && y2 <= d.height,
                "preprocess: boxes[", i, "] = (", x1, ", ", y1, ", ", x2, ", ", y2,
                ") must satisfy 0 <= x1 < x2 <= W = ", d.width,
                " and 0 <= y1 < y2 <= H = ", d.height);
  }
}

}  // namespace

Dims check_args(const at::Tensor& frames, const at::Tensor& boxes, const at::Tensor& flip,
                at::IntArrayRef size, at::ArrayRef<double> mean, at::ArrayRef<double> std,
                c10::string_view layout) {
  TORCH_CHECK(frames.scalar_type() == at::kByte,
              "preprocess: frames must be uint8 [B, T, H, W, C], got dtype ", frames.scalar_type());
  TORCH_CHECK(frames.dim() == 5, "preprocess: frames must have shape [B, T, H, W, C], got ",
              frames.sizes());
  const int64_t batch = frames.size(0), channels = frames.size(4);
  TORCH_CHECK(boxes.dim() == 2 && boxes.size(0) == batch && boxes.size(1) == 4,
              "preprocess: boxes must have shape [B, 4] = [", batch, ", 4] (x1, y1, x2, y2), got ",
              boxes.sizes());
  TORCH_CHECK(at::isFloatingType(boxes.scalar_type()),
              "preprocess: boxes must be a floating-point tensor, got dtype ", boxes.scalar_type());
  TORCH_CHECK(flip.dim() == 1 && flip.size(0) == batch && flip.scalar_type() == at::kBool,
              "preprocess: flip must be a bool tensor of shape [B] = [", batch, "], got ",
              flip.scalar_type(), " ", flip.sizes());
  TORCH_CHECK(boxes.device() == frames.device() && flip.device() == frames.device(),
              "preprocess: boxes (", boxes.device(), ") and flip (", flip.device(),
              ") must be on the device of frames (", frames.device(), ")");
  TORCH_CHECK(size.size() == 2 && size[0] > 0 && size[1] > 0,
              "preprocess: size must be two positive integers (h, w), got ", size);
  TORCH_CHECK(
      static_cast<int64_t>(mean.size()) == channels && static_cast<int64_t>(std.size()) == channels,
      "preprocess: mean and std must have one value per channel (", channels, "), got ",
      mean.size(), " and ", std.size());
  for (double s : std) TORCH_CHECK(s != 0.0, "preprocess: std must not contain zeros, got ", std);
  TORCH_CHECK(layout == "NCTHW" || layout == "NTCHW",
              "preprocess: layout must be 'NCTHW' or 'NTCHW', got '", layout, "'");
  const Dims d{batch,    frames.size(1), frames.size(2), frames.size(3),
               channels, size[0],        size[1],        layout == "NTCHW"};
  check_boxes(boxes, d);
  return d;
}

at::Tensor make_output(const Dims& d, const at::Tensor& frames,
                       std::optional<at::ScalarType> dtype) {
  const auto type = dtype.value_or(at::kFloat);
  TORCH_CHECK(at::isFloatingType(type), "preprocess: dtype must be a floating type, got ", type);
  const auto options = frames.options().dtype(type);
  return d.ntchw ? empty_output({d.batch, d.frames, d.channels, d.out_h, d.out_w}, options)
                 : empty_output({d.batch, d.channels, d.frames, d.out_h, d.out_w}, options);
}

}  // namespace actionkit::kernels::preprocess

TORCH_LIBRARY_FRAGMENT(actionkit, m) {
  m.def(
      "preprocess(Tensor frames, Tensor boxes, Tensor flip, int[2] size, float[] mean, "
      "float[] std, str layout=\"NCTHW\", ScalarType? dtype=None) -> Tensor");
}
