// Declarations shared by the suppression ops' schema, CPU and CUDA files.
#pragma once

#include <ATen/core/Tensor.h>

#include "nms_math.h"

namespace actionkit::kernels::nms {

// A backend's suppression bitmask: sorted [K, 2*dims] rows (float or double,
// contiguous) -> [K, ceil(K/64)] int64 words, row i marking the later rows it
// suppresses (suppression_word).
using MaskFn = at::Tensor (*)(const at::Tensor& sorted, int64_t dims, double threshold);
// A backend's pairwise segment IoU: a [K, 2], b [M, 2] (both float or both
// double, contiguous) -> [K, M].
using IouFn = at::Tensor (*)(const at::Tensor& a, const at::Tensor& b);

// Greedy NMS over rows of `dims` intervals: indices kept, highest score first.
at::Tensor suppress(const at::Tensor& rows, const at::Tensor& scores, double threshold,
                    int64_t dims, const char* op, MaskFn mask);
at::Tensor checked_temporal_iou(const at::Tensor& a, const at::Tensor& b, IouFn iou);

// The registered kernels of a backend.
template <MaskFn mask>
at::Tensor nms_op(const at::Tensor& boxes, const at::Tensor& scores, double iou_threshold) {
  return suppress(boxes, scores, iou_threshold, 2, "nms", mask);
}
template <MaskFn mask>
at::Tensor temporal_nms_op(const at::Tensor& segments, const at::Tensor& scores,
                           double iou_threshold) {
  return suppress(segments, scores, iou_threshold, 1, "temporal_nms", mask);
}
template <IouFn iou>
at::Tensor temporal_iou_op(const at::Tensor& a, const at::Tensor& b) {
  return checked_temporal_iou(a, b, iou);
}

}  // namespace actionkit::kernels::nms
