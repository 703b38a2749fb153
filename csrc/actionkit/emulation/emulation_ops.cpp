// Registers the host-emulated CUDA launchers as torch.ops.actionkit_emu.*, so
// tests can run each .cu file's own kernels on CPU tensors and compare them
// with the reference. Test-only: not part of libactionkit.
#include <ATen/ops/arange.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/full.h>
#include <ATen/ops/zeros.h>
#include <torch/library.h>

#include <string>
#include <string_view>

#include "common/cuda_emulation.h"
#include "emulation/examples/block_examples.h"
#include "ops/bm_sampling/bm_sampling_cuda.h"
#include "ops/nms/nms_cuda.h"
#include "ops/optical_flow/optical_flow.h"
#include "ops/optical_flow/optical_flow_cuda.h"
#include "ops/pose_heatmaps/pose_heatmaps.h"
#include "ops/pose_heatmaps/pose_heatmaps_cuda.h"
#include "ops/preprocess/preprocess_cuda.h"
#include "ops/roi_align3d/roi_align3d_cuda.h"
#include "ops/soft_nms/soft_nms_cuda.h"
#include "ops/temporal_shift/temporal_shift_cuda.h"
#include "ops/tin_shift/tin_shift_cuda.h"

namespace actionkit::emulation {
namespace {

at::Tensor temporal_shift(const at::Tensor& x_in, int64_t batches, int64_t frames, int64_t channels,
                          int64_t fold, bool backward) {
  const at::Tensor x = x_in.contiguous();
  at::Tensor out = at::empty(x.sizes(), x.options());
  const int64_t inner =
      batches * frames * channels == 0 ? 0 : x.numel() / (batches * frames * channels);
  kernels::temporal_shift::cuda::launch_shift(x.const_data_ptr(), out.mutable_data_ptr(),
                                              x.element_size(), batches, frames, channels, inner,
                                              fold, backward, nullptr);
  return out;
}

actionkit::cuda::DType dtype_of(const at::Tensor& t) {
  TORCH_CHECK(t.scalar_type() == at::kFloat || t.scalar_type() == at::kDouble,
              "the emulated kernels run in float32 and float64 only");
  return t.scalar_type() == at::kFloat ? actionkit::cuda::DType::Float
                                       : actionkit::cuda::DType::Double;
}

kernels::roi_align3d::Params roi_params(const at::Tensor& rois, at::IntArrayRef output_size,
                                        double spatial_scale, int64_t sampling_ratio, bool aligned,
                                        double temporal_scale) {
  return {output_size[0], output_size[1], output_size[2], spatial_scale,
          temporal_scale, sampling_ratio, aligned,        rois.size(1) == 7};
}

// The raw kernels, without the strategy choice of the registered op.
at::Tensor roi_align3d_forward(const at::Tensor& features_in, const at::Tensor& rois_in,
                               at::IntArrayRef output_size, double spatial_scale,
                               int64_t sampling_ratio, bool aligned, double temporal_scale) {
  const at::Tensor features = features_in.contiguous();
  const at::Tensor rois = rois_in.to(features.scalar_type()).contiguous();
  const auto p =
      roi_params(rois, output_size, spatial_scale, sampling_ratio, aligned, temporal_scale);
  at::Tensor out =
      at::empty({rois.size(0), features.size(1), p.out_t, p.out_h, p.out_w}, features.options());
  const auto s = features.sizes();
  kernels::roi_align3d::cuda::launch_forward(
      dtype_of(features), features.const_data_ptr(), rois.const_data_ptr(), out.mutable_data_ptr(),
      {s[0], s[1], s[2], s[3], s[4], rois.size(0)}, p, nullptr);
  return out;
}

at::Tensor roi_align3d_backward(const at::Tensor& grad_in, const at::Tensor& rois_in,
                                at::IntArrayRef input_shape, at::IntArrayRef output_size,
                                double spatial_scale, int64_t sampling_ratio, bool aligned,
                                double temporal_scale) {
  const at::Tensor grad = grad_in.contiguous();
  const at::Tensor rois = rois_in.to(grad.scalar_type()).contiguous();
  const auto p =
      roi_params(rois, output_size, spatial_scale, sampling_ratio, aligned, temporal_scale);
  at::Tensor out = at::zeros(input_shape, grad.options());
  const auto s = input_shape;
  kernels::roi_align3d::cuda::launch_backward(
      dtype_of(grad), grad.const_data_ptr(), rois.const_data_ptr(), out.mutable_data_ptr(),
      {s[0], s[1], s[2], s[3], s[4], rois.size(0)}, p, nullptr);
  return out;
}

// input: [N, C, T] (sampling) or [N, C, S, T] (sum).
at::Tensor bm_sampling(const at::Tensor& input_in, int64_t num_samples, int64_t per_bin,
                       double ratio, bool sum) {
  const at::Tensor input = input_in.contiguous();
  const int64_t n = input.size(0), c = input.size(1), t = input.size(-1);
  const kernels::bm_sampling::Params p{t, num_samples, per_bin, ratio};
  at::Tensor out = sum ? at::empty({n, c, t, t}, input.options())
                       : at::empty({n, c, num_samples, t, t}, input.options());
  kernels::bm_sampling::cuda::launch_forward(dtype_of(input), input.const_data_ptr(),
                                             out.mutable_data_ptr(), n * c, p, sum, nullptr);
  return out;
}

// grad: [N, C, S, T, T] (sampling) or [N, C, T, T] (sum).
at::Tensor bm_sampling_backward(const at::Tensor& grad_in, int64_t num_samples, int64_t per_bin,
                                double ratio, bool sum) {
  const at::Tensor grad = grad_in.contiguous();
  const int64_t n = grad.size(0), c = grad.size(1), t = grad.size(-1);
  const kernels::bm_sampling::Params p{t, num_samples, per_bin, ratio};
  at::Tensor gin = sum ? at::zeros({n, c, num_samples, t}, grad.options())
                       : at::zeros({n, c, t}, grad.options());
  kernels::bm_sampling::cuda::launch_backward(dtype_of(grad), grad.const_data_ptr(),
                                              gin.mutable_data_ptr(), n * c, p, sum, nullptr);
  return gin;
}

// rows: [K, 2*dims] float/double, already sorted by score.
at::Tensor nms_mask(const at::Tensor& rows_in, int64_t dims, double threshold) {
  const at::Tensor rows = rows_in.contiguous();
  const int64_t count = rows.size(0);
  at::Tensor bits = at::empty({count, (count + 63) / 64}, rows.options().dtype(at::kLong));
  kernels::nms::cuda::launch_mask(rows.scalar_type() == at::kDouble, rows.const_data_ptr(), count,
                                  dims, threshold, bits.mutable_data_ptr(), nullptr);
  return bits;
}

at::Tensor temporal_iou(const at::Tensor& a_in, const at::Tensor& b_in) {
  const at::Tensor a = a_in.contiguous(), b = b_in.contiguous();
  at::Tensor out = at::empty({a.size(0), b.size(0)}, a.options());
  kernels::nms::cuda::launch_temporal_iou(a.scalar_type() == at::kDouble, a.const_data_ptr(),
                                          b.const_data_ptr(), a.size(0), b.size(0),
                                          out.mutable_data_ptr(), nullptr);
  return out;
}

// Raw runners: boxes [K, 4] and segments [K, 2] as given (segments already
// sorted by score); returns (dets, keep) trimmed to the count the kernel wrote.
std::tuple<at::Tensor, at::Tensor> soft_nms(const at::Tensor& boxes, const at::Tensor& scores,
                                            double threshold, double sigma, double min_score,
                                            int64_t method, int64_t offset) {
  const int64_t n = boxes.size(0);
  at::Tensor cols = boxes.t().clone(at::MemoryFormat::Contiguous);
  at::Tensor score = scores.clone(at::MemoryFormat::Contiguous);
  at::Tensor area = at::empty({n}, cols.options());
  at::Tensor inds = at::arange(n, boxes.options().dtype(at::kLong));
  at::Tensor dets = at::empty({n, 5}, cols.options());
  at::Tensor count = at::zeros({1}, inds.options());
  kernels::soft_nms::cuda::launch_boxes(
      cols.scalar_type() == at::kDouble, cols.mutable_data_ptr(), score.mutable_data_ptr(),
      area.mutable_data_ptr(), inds.mutable_data_ptr<int64_t>(), dets.mutable_data_ptr(), n,
      threshold, sigma, min_score, method, static_cast<double>(offset),
      count.mutable_data_ptr<int64_t>(), nullptr);
  const int64_t kept = count.item<int64_t>();
  return {dets.narrow(0, 0, kept), inds.narrow(0, 0, kept)};
}

std::tuple<at::Tensor, at::Tensor> temporal_soft_nms(const at::Tensor& segments,
                                                     const at::Tensor& scores, double alpha,
                                                     double low, double high, int64_t limit) {
  const int64_t n = segments.size(0);
  at::Tensor cols = segments.t().clone(at::MemoryFormat::Contiguous);
  at::Tensor score = scores.clone(at::MemoryFormat::Contiguous);
  at::Tensor inds = at::arange(n, segments.options().dtype(at::kLong));
  at::Tensor dets = at::empty({n, 3}, cols.options());
  at::Tensor keep = at::empty({n}, inds.options());
  at::Tensor count = at::zeros({1}, inds.options());
  kernels::soft_nms::cuda::launch_temporal(
      cols.scalar_type() == at::kDouble, cols.mutable_data_ptr(), score.mutable_data_ptr(),
      inds.mutable_data_ptr<int64_t>(), dets.mutable_data_ptr(), keep.mutable_data_ptr<int64_t>(),
      n, alpha, low, high, limit, count.mutable_data_ptr<int64_t>(), nullptr);
  const int64_t kept = count.item<int64_t>();
  return {dets.narrow(0, 0, kept), keep.narrow(0, 0, kept)};
}

// The CUDA source's kernel (arguments as the registered op checks them); float32/64 out.
at::Tensor preprocess(const at::Tensor& frames_in, const at::Tensor& boxes_in,
                      const at::Tensor& flip_in, at::IntArrayRef size, at::ArrayRef<double> mean,
                      at::ArrayRef<double> std, c10::string_view layout, at::ScalarType dtype) {
  const at::Tensor frames = frames_in.contiguous();
  const auto s = frames.sizes();
  const kernels::preprocess::Dims d{s[0], s[1],    s[2],    s[3],
                                    s[4], size[0], size[1], layout == "NTCHW"};
  const auto options = frames.options().dtype(dtype);
  at::Tensor out = d.ntchw ? at::empty({d.batch, d.frames, d.channels, d.out_h, d.out_w}, options)
                           : at::empty({d.batch, d.channels, d.frames, d.out_h, d.out_w}, options);
  const at::Tensor boxes = boxes_in.to(at::kFloat).contiguous();
  const at::Tensor flip = flip_in.contiguous();
  std::vector<float> m(mean.begin(), mean.end()), inv;
  for (double v : std) inv.push_back(static_cast<float>(1.0 / v));
  kernels::preprocess::cuda::launch(dtype_of(out), frames.const_data_ptr<uint8_t>(),
                                    boxes.const_data_ptr<float>(), flip.const_data_ptr<bool>(),
                                    m.data(), inv.data(), out.mutable_data_ptr(), d, nullptr);
  return out;
}

// The CUDA source's kernel, one thread per output pixel (the CPU kernel draws windows).
at::Tensor pose_heatmaps(const at::Tensor& keypoints, const at::Tensor& scores,
                         at::IntArrayRef size, double sigma, const at::Tensor& limbs, bool with_kp,
                         bool legacy_merge, double eps,
                         const std::optional<at::Tensor>& flip_order) {
  const auto p = kernels::pose_heatmaps::check_args(keypoints, scores, size, sigma, limbs, with_kp,
                                                    legacy_merge, eps, flip_order);
  at::Tensor out =
      at::empty({p.mirror ? 2 * p.batch : p.batch, p.channels, p.frames, p.height, p.width},
                keypoints.options());
  const at::Tensor kp = keypoints.contiguous(), sc = scores.contiguous(), l = limbs.contiguous();
  const at::Tensor order = p.mirror ? flip_order->contiguous() : l;
  kernels::pose_heatmaps::cuda::launch(kp.const_data_ptr<float>(), sc.const_data_ptr<float>(),
                                       l.const_data_ptr<int64_t>(), order.const_data_ptr<int64_t>(),
                                       out.mutable_data_ptr<float>(), p, nullptr);
  return out;
}

// The CUDA source's kernels and host loop (the pyramid, the per-pair stopping flags read
// back once per outer iteration), on CPU tensors.
at::Tensor optical_flow_tvl1(const at::Tensor& frames_a, const at::Tensor& frames_b, double tau,
                             double lambd, double theta, int64_t scales, int64_t warps,
                             double epsilon, int64_t inner_iterations, int64_t outer_iterations,
                             double scale_step, int64_t median_filtering) {
  namespace of = kernels::optical_flow;
  const of::Params p =
      of::check_args(frames_a, frames_b, tau, lambd, theta, scales, warps, epsilon,
                     inner_iterations, outer_iterations, scale_step, median_filtering);
  at::Tensor out = at::empty({p.pairs, 2, p.height, p.width}, frames_a.options());
  if (p.pairs == 0) return out;
  const at::Tensor a = frames_a.contiguous(), b = frames_b.contiguous();
  of::cuda::Workspace ws{};
  const auto buffers = of::allocate_workspace(p, frames_a.options(), ws);
  of::cuda::launch(a.const_data_ptr<float>(), b.const_data_ptr<float>(),
                   out.mutable_data_ptr<float>(), p, ws, nullptr);
  return out;
}

kernels::tin_shift::Dims tin_dims(const at::Tensor& x, const at::Tensor& offsets) {
  const int64_t inner = x.numel() / std::max<int64_t>(x.size(0) * x.size(1) * x.size(2), 1);
  return {x.size(0), x.size(1), x.size(2), inner, offsets.size(1)};
}

// x [N, T, C, ...] shifted by sign * offsets [N, G] (in x's dtype).
at::Tensor tin_shift(const at::Tensor& x_in, const at::Tensor& offsets_in, double sign) {
  const at::Tensor x = x_in.contiguous();
  const at::Tensor offsets = offsets_in.to(x.scalar_type()).contiguous();
  at::Tensor out = at::empty(x.sizes(), x.options());
  kernels::tin_shift::cuda::launch_shift(dtype_of(x), x.const_data_ptr(), offsets.const_data_ptr(),
                                         out.mutable_data_ptr(), tin_dims(x, offsets), sign,
                                         nullptr);
  return out;
}

// The per-element terms of the offset gradient, [N, T, C, ...] in x's dtype.
at::Tensor tin_shift_offset_terms(const at::Tensor& grad_in, const at::Tensor& x_in,
                                  const at::Tensor& offsets_in) {
  const at::Tensor x = x_in.contiguous(), grad = grad_in.contiguous();
  const at::Tensor offsets = offsets_in.to(x.scalar_type()).contiguous();
  at::Tensor terms = at::empty(x.sizes(), x.options());
  kernels::tin_shift::cuda::launch_offset_grad_terms(
      dtype_of(x), grad.const_data_ptr(), x.const_data_ptr(), offsets.const_data_ptr(),
      terms.mutable_data_ptr(), tin_dims(x, offsets), nullptr);
  return terms;
}

}  // namespace

// The block-cooperative examples (emulation/examples), by name, on float32 x,
// their fibers scheduled from `seed`.
at::Tensor block_example(std::string_view name, const at::Tensor& x_in, int64_t threads,
                         int64_t width, bool sync, int64_t seed) {
  namespace ex = kernels::block_examples::cuda;
  emu::set_schedule_seed(static_cast<uint64_t>(seed));
  const at::Tensor x = x_in.contiguous().to(at::kFloat);
  const int64_t n = x.numel(), t = threads;
  const float* in = x.const_data_ptr<float>();
  const int64_t blocks = (n + t - 1) / t;
  if (name == "block_sum" || name == "warp_sum") {
    const int64_t per_block = name == "block_sum" ? 1 : (t + 31) / 32;
    at::Tensor out = at::zeros({blocks * per_block}, x.options());
    if (name == "block_sum") {
      ex::block_sum(in, out.mutable_data_ptr<float>(), n, t, sync, nullptr);
    } else {
      ex::warp_sum(in, out.mutable_data_ptr<float>(), n, t, nullptr);
    }
    return out;
  }
  if (name == "count_positive") {
    at::Tensor out = at::zeros({1}, x.options().dtype(at::kInt));
    ex::count_positive(in, out.mutable_data_ptr<int>(), n, t, nullptr);
    return out;
  }
  if (name == "segment_scan" || name == "segment_max") {
    at::Tensor out = at::empty({n}, x.options());
    auto run = name == "segment_scan" ? ex::segment_scan : ex::segment_max;
    run(in, out.mutable_data_ptr<float>(), n, t, static_cast<int>(width), nullptr);
    return out;
  }
  if (name == "arrival_order") {
    at::Tensor order = at::full({2 * t}, -1, x.options().dtype(at::kInt));
    at::Tensor counter = at::zeros({1}, x.options().dtype(at::kInt));
    ex::arrival_order(order.mutable_data_ptr<int>(), counter.mutable_data_ptr<int>(), t, nullptr);
    return order;
  }
  at::Tensor out = at::zeros({t}, x.options());
  ex::broken(std::string(name).c_str(), out.mutable_data_ptr<float>(), t, nullptr);
  return out;
}

void set_schedule_seed(int64_t seed) { emu::set_schedule_seed(static_cast<uint64_t>(seed)); }

TORCH_LIBRARY(actionkit_emu, m) {
  m.def("set_schedule_seed(int seed) -> ()", &set_schedule_seed);
  m.def("block_example(str name, Tensor x, int threads, int width, bool sync, int seed) -> Tensor",
        &block_example);
  m.def(
      "temporal_shift(Tensor x, int batches, int frames, int channels, int fold, bool backward) -> "
      "Tensor",
      &temporal_shift);
  m.def("tin_shift(Tensor x, Tensor offsets, float sign) -> Tensor", &tin_shift);
  m.def("tin_shift_offset_terms(Tensor grad, Tensor x, Tensor offsets) -> Tensor",
        &tin_shift_offset_terms);
  m.def(
      "roi_align3d(Tensor features, Tensor rois, int[3] output_size, float spatial_scale, "
      "int sampling_ratio, bool aligned, float temporal_scale) -> Tensor",
      &roi_align3d_forward);
  m.def(
      "roi_align3d_backward(Tensor grad, Tensor rois, int[5] input_shape, int[3] output_size, "
      "float spatial_scale, int sampling_ratio, bool aligned, float temporal_scale) -> Tensor",
      &roi_align3d_backward);
  m.def("bm_sampling(Tensor input, int num_samples, int per_bin, float ratio, bool sum) -> Tensor",
        &bm_sampling);
  m.def(
      "bm_sampling_backward(Tensor grad, int num_samples, int per_bin, float ratio, bool sum) -> "
      "Tensor",
      &bm_sampling_backward);
  m.def("nms_mask(Tensor rows, int dims, float threshold) -> Tensor", &nms_mask);
  m.def("temporal_iou(Tensor a, Tensor b) -> Tensor", &temporal_iou);
  m.def(
      "soft_nms(Tensor boxes, Tensor scores, float threshold, float sigma, float min_score, "
      "int method, int offset) -> (Tensor, Tensor)",
      &soft_nms);
  m.def(
      "temporal_soft_nms(Tensor segments, Tensor scores, float alpha, float low, float high, "
      "int limit) -> (Tensor, Tensor)",
      &temporal_soft_nms);
  m.def(
      "preprocess(Tensor frames, Tensor boxes, Tensor flip, int[2] size, float[] mean, "
      "float[] std, str layout, ScalarType dtype) -> Tensor",
      &preprocess);
  m.def(
      "pose_heatmaps(Tensor keypoints, Tensor scores, int[2] size, float sigma, Tensor limbs, "
      "bool with_kp, bool legacy_merge, float eps, Tensor? flip_order) -> Tensor",
      &pose_heatmaps);
  m.def(
      "optical_flow_tvl1(Tensor frames_a, Tensor frames_b, float tau, float lambd, float theta, "
      "int scales, int warps, float epsilon, int inner_iterations, int outer_iterations, "
      "float scale_step, int median_filtering) -> Tensor",
      &optical_flow_tvl1);
}

}  // namespace actionkit::emulation
