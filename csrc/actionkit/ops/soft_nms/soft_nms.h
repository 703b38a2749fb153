// Declarations shared by the soft-NMS ops' schema, CPU and CUDA files.
#pragma once

#include <ATen/core/Tensor.h>

#include <tuple>

#include "soft_nms_math.h"

namespace actionkit::kernels::soft_nms {

struct BoxArgs {
  double threshold, sigma, min_score, offset;
  int64_t method;
};

struct TemporalArgs {
  double alpha, low, high;
  int64_t limit;  // most proposals returned
};

// A backend's runners. Tensors are contiguous, float or double, on the
// backend's device: cols [4, n] (x1, y1, x2, y2) or [2, n] (start, end);
// score [n] and area [n] scratch; inds [n] = 0..n-1; dets [n, 5] or [n, 3];
// keep [n]; count [1] receives the number kept.
using BoxRunner = void (*)(at::Tensor& cols, at::Tensor& score, at::Tensor& area, at::Tensor& inds,
                           at::Tensor& dets, at::Tensor& count, const BoxArgs& args);
using TemporalRunner = void (*)(at::Tensor& cols, at::Tensor& score, at::Tensor& inds,
                                at::Tensor& dets, at::Tensor& keep, at::Tensor& count,
                                const TemporalArgs& args);

std::tuple<at::Tensor, at::Tensor> boxes(const at::Tensor& boxes, const at::Tensor& scores,
                                         double iou_threshold, double sigma, double min_score,
                                         c10::string_view method, int64_t offset, BoxRunner run);
std::tuple<at::Tensor, at::Tensor> temporal(const at::Tensor& segments, const at::Tensor& scores,
                                            double alpha, double low_threshold,
                                            double high_threshold, int64_t top_k, bool legacy_top_k,
                                            TemporalRunner run);

// The registered kernels of a backend.
template <BoxRunner run>
std::tuple<at::Tensor, at::Tensor> soft_nms_op(const at::Tensor& b, const at::Tensor& scores,
                                               double iou_threshold, double sigma, double min_score,
                                               c10::string_view method, int64_t offset) {
  return boxes(b, scores, iou_threshold, sigma, min_score, method, offset, run);
}
template <TemporalRunner run>
std::tuple<at::Tensor, at::Tensor> temporal_soft_nms_op(const at::Tensor& segments,
                                                        const at::Tensor& scores, double alpha,
                                                        double low_threshold, double high_threshold,
                                                        int64_t top_k, bool legacy_top_k) {
  return temporal(segments, scores, alpha, low_threshold, high_threshold, top_k, legacy_top_k, run);
}

}  // namespace actionkit::kernels::soft_nms
