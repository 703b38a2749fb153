// The public C++ API: typed calls through the dispatcher, and build facts.
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include "actionkit/actionkit.h"

#ifndef ACTIONKIT_VERSION
#error "ACTIONKIT_VERSION must be defined by the build"
#endif

// The one TORCH_LIBRARY of the namespace: every op adds its schema with a
// TORCH_LIBRARY_FRAGMENT. A second copy of libactionkit in one process fails
// loudly here instead of registering kernels twice.
TORCH_LIBRARY(actionkit, m) {}

namespace actionkit {
namespace {

template <typename Signature>
c10::TypedOperatorHandle<Signature> find_op(const char* name) {
  return c10::Dispatcher::singleton().findSchemaOrThrow(name, "").typed<Signature>();
}

}  // namespace

at::Tensor temporal_shift(const at::Tensor& x, int64_t num_segments, int64_t shift_div) {
  static const auto op =
      find_op<at::Tensor(const at::Tensor&, int64_t, int64_t)>("actionkit::temporal_shift");
  return op.call(x, num_segments, shift_div);
}

at::Tensor tin_shift(const at::Tensor& x, const at::Tensor& offset) {
  static const auto op =
      find_op<at::Tensor(const at::Tensor&, const at::Tensor&)>("actionkit::tin_shift");
  return op.call(x, offset);
}

at::Tensor roi_align3d(const at::Tensor& features, const at::Tensor& rois,
                       std::array<int64_t, 3> output_size, double spatial_scale,
                       int64_t sampling_ratio, bool aligned, double temporal_scale) {
  static const auto op =
      find_op<at::Tensor(const at::Tensor&, const at::Tensor&, at::IntArrayRef, double, int64_t,
                         bool, double)>("actionkit::roi_align3d");
  return op.call(features, rois, output_size, spatial_scale, sampling_ratio, aligned,
                 temporal_scale);
}

at::Tensor graph_aggregate(const at::Tensor& x, const at::Tensor& a) {
  static const auto op =
      find_op<at::Tensor(const at::Tensor&, const at::Tensor&)>("actionkit::graph_aggregate");
  return op.call(x, a);
}

at::Tensor bm_sampling(const at::Tensor& x, int64_t num_samples, int64_t num_samples_per_bin,
                       double prop_boundary_ratio) {
  static const auto op =
      find_op<at::Tensor(const at::Tensor&, int64_t, int64_t, double)>("actionkit::bm_sampling");
  return op.call(x, num_samples, num_samples_per_bin, prop_boundary_ratio);
}

at::Tensor bm_sampling_sum(const at::Tensor& y, int64_t num_samples_per_bin,
                           double prop_boundary_ratio) {
  static const auto op =
      find_op<at::Tensor(const at::Tensor&, int64_t, double)>("actionkit::bm_sampling_sum");
  return op.call(y, num_samples_per_bin, prop_boundary_ratio);
}

at::Tensor nms(const at::Tensor& boxes, const at::Tensor& scores, double iou_threshold) {
  static const auto op =
      find_op<at::Tensor(const at::Tensor&, const at::Tensor&, double)>("actionkit::nms");
  return op.call(boxes, scores, iou_threshold);
}

at::Tensor batched_nms(const at::Tensor& boxes, const at::Tensor& scores, const at::Tensor& idxs,
                       double iou_threshold) {
  static const auto op =
      find_op<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&, double)>(
          "actionkit::batched_nms");
  return op.call(boxes, scores, idxs, iou_threshold);
}

at::Tensor temporal_nms(const at::Tensor& segments, const at::Tensor& scores,
                        double iou_threshold) {
  static const auto op =
      find_op<at::Tensor(const at::Tensor&, const at::Tensor&, double)>("actionkit::temporal_nms");
  return op.call(segments, scores, iou_threshold);
}

at::Tensor temporal_iou(const at::Tensor& a, const at::Tensor& b) {
  static const auto op =
      find_op<at::Tensor(const at::Tensor&, const at::Tensor&)>("actionkit::temporal_iou");
  return op.call(a, b);
}

std::tuple<at::Tensor, at::Tensor> soft_nms(const at::Tensor& boxes, const at::Tensor& scores,
                                            double iou_threshold, double sigma, double min_score,
                                            const std::string& method, int64_t offset) {
  static const auto op = find_op<std::tuple<at::Tensor, at::Tensor>(
      const at::Tensor&, const at::Tensor&, double, double, double, c10::string_view, int64_t)>(
      "actionkit::soft_nms");
  return op.call(boxes, scores, iou_threshold, sigma, min_score, method, offset);
}

std::tuple<at::Tensor, at::Tensor> temporal_soft_nms(const at::Tensor& segments,
                                                     const at::Tensor& scores, double alpha,
                                                     double low_threshold, double high_threshold,
                                                     int64_t top_k, bool legacy_top_k) {
  static const auto op = find_op<std::tuple<at::Tensor, at::Tensor>(
      const at::Tensor&, const at::Tensor&, double, double, double, int64_t, bool)>(
      "actionkit::temporal_soft_nms");
  return op.call(segments, scores, alpha, low_threshold, high_threshold, top_k, legacy_top_k);
}

at::Tensor preprocess(const at::Tensor& frames, const at::Tensor& boxes, const at::Tensor& flip,
                      std::array<int64_t, 2> size, const std::vector<double>& mean,
                      const std::vector<double>& std, const std::string& layout,
                      std::optional<at::ScalarType> dtype) {
  static const auto op =
      find_op<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&, at::IntArrayRef,
                         at::ArrayRef<double>, at::ArrayRef<double>, c10::string_view,
                         std::optional<at::ScalarType>)>("actionkit::preprocess");
  return op.call(frames, boxes, flip, size, mean, std, layout, dtype);
}

at::Tensor pose_heatmaps(const at::Tensor& keypoints, const at::Tensor& scores,
                         std::array<int64_t, 2> size, double sigma, const at::Tensor& limbs,
                         bool with_kp, bool legacy_merge, double eps,
                         const std::optional<at::Tensor>& flip_order) {
  static const auto op =
      find_op<at::Tensor(const at::Tensor&, const at::Tensor&, at::IntArrayRef, double,
                         const at::Tensor&, bool, bool, double, const std::optional<at::Tensor>&)>(
          "actionkit::pose_heatmaps");
  return op.call(keypoints, scores, size, sigma, limbs, with_kp, legacy_merge, eps, flip_order);
}

at::Tensor optical_flow_tvl1(const at::Tensor& frames_a, const at::Tensor& frames_b, double tau,
                             double lambd, double theta, int64_t scales, int64_t warps,
                             double epsilon, int64_t inner_iterations, int64_t outer_iterations,
                             double scale_step, int64_t median_filtering) {
  static const auto op =
      find_op<at::Tensor(const at::Tensor&, const at::Tensor&, double, double, double, int64_t,
                         int64_t, double, int64_t, int64_t, double, int64_t)>(
          "actionkit::optical_flow_tvl1");
  return op.call(frames_a, frames_b, tau, lambd, theta, scales, warps, epsilon, inner_iterations,
                 outer_iterations, scale_step, median_filtering);
}

namespace detail {

at::Tensor temporal_shift_backward(const at::Tensor& grad, int64_t num_segments,
                                   int64_t shift_div) {
  static const auto op = find_op<at::Tensor(const at::Tensor&, int64_t, int64_t)>(
      "actionkit::_temporal_shift_backward");
  return op.call(grad, num_segments, shift_div);
}

std::tuple<at::Tensor, at::Tensor> tin_shift_backward(const at::Tensor& grad, const at::Tensor& x,
                                                      const at::Tensor& offset) {
  static const auto op = find_op<std::tuple<at::Tensor, at::Tensor>(
      const at::Tensor&, const at::Tensor&, const at::Tensor&)>("actionkit::_tin_shift_backward");
  return op.call(grad, x, offset);
}

at::Tensor roi_align3d_backward(const at::Tensor& grad, const at::Tensor& rois,
                                c10::SymIntArrayRef input_shape, std::array<int64_t, 3> output_size,
                                double spatial_scale, int64_t sampling_ratio, bool aligned,
                                double temporal_scale) {
  static const auto op =
      find_op<at::Tensor(const at::Tensor&, const at::Tensor&, c10::SymIntArrayRef, at::IntArrayRef,
                         double, int64_t, bool, double)>("actionkit::_roi_align3d_backward");
  return op.call(grad, rois, input_shape, output_size, spatial_scale, sampling_ratio, aligned,
                 temporal_scale);
}

at::Tensor graph_aggregate_backward_x(const at::Tensor& grad, const at::Tensor& a) {
  static const auto op = find_op<at::Tensor(const at::Tensor&, const at::Tensor&)>(
      "actionkit::_graph_aggregate_backward_x");
  return op.call(grad, a);
}

at::Tensor graph_aggregate_backward_a(const at::Tensor& grad, const at::Tensor& x,
                                      bool per_sample) {
  static const auto op = find_op<at::Tensor(const at::Tensor&, const at::Tensor&, bool)>(
      "actionkit::_graph_aggregate_backward_a");
  return op.call(grad, x, per_sample);
}

at::Tensor bm_sampling_backward(const at::Tensor& grad, int64_t num_samples,
                                int64_t num_samples_per_bin, double prop_boundary_ratio) {
  static const auto op = find_op<at::Tensor(const at::Tensor&, int64_t, int64_t, double)>(
      "actionkit::_bm_sampling_backward");
  return op.call(grad, num_samples, num_samples_per_bin, prop_boundary_ratio);
}

at::Tensor bm_sampling_sum_backward(const at::Tensor& grad, int64_t num_samples,
                                    int64_t num_samples_per_bin, double prop_boundary_ratio) {
  static const auto op = find_op<at::Tensor(const at::Tensor&, int64_t, int64_t, double)>(
      "actionkit::_bm_sampling_sum_backward");
  return op.call(grad, num_samples, num_samples_per_bin, prop_boundary_ratio);
}

}  // namespace detail

std::string version() { return ACTIONKIT_VERSION; }

bool cuda_compiled() {
#ifdef ACTIONKIT_WITH_CUDA
  return true;
#else
  return false;
#endif
}

std::string cuda_archs() {
#ifdef ACTIONKIT_WITH_CUDA
  return ACTIONKIT_CUDA_ARCHS;
#else
  return "";
#endif
}

std::string cuda_version() {
#ifdef ACTIONKIT_WITH_CUDA
  return ACTIONKIT_CUDA_VERSION;
#else
  return "";
#endif
}

std::string torch_version() { return ACTIONKIT_TORCH_VERSION; }

}  // namespace actionkit
