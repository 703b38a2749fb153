// CPU kernels of the suppression bitmask and the temporal IoU, in parallel over rows.
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/ops/empty.h>
#include <torch/library.h>

#include "nms.h"

namespace actionkit::kernels::nms {
namespace {

at::Tensor mask_cpu(const at::Tensor& sorted, int64_t dims, double threshold) {
  const int64_t count = sorted.size(0), words = (count + 63) / 64;
  at::Tensor out = at::empty({count, words}, sorted.options().dtype(at::kLong));
  auto* bits = reinterpret_cast<uint64_t*>(out.mutable_data_ptr<int64_t>());
  AT_DISPATCH_FLOATING_TYPES(sorted.scalar_type(), "nms_mask", [&] {
    const scalar_t* rows = sorted.const_data_ptr<scalar_t>();
    const scalar_t thr = static_cast<scalar_t>(threshold);
    at::parallel_for(0, count, 16, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        for (int64_t w = 0; w < words; ++w) {
          bits[i * words + w] = suppression_word(rows, count, dims, i, w, thr);
        }
      }
    });
  });
  return out;
}

at::Tensor temporal_iou_cpu(const at::Tensor& a, const at::Tensor& b) {
  const int64_t k = a.size(0), m = b.size(0);
  at::Tensor out = at::empty({k, m}, a.options());
  AT_DISPATCH_FLOATING_TYPES(a.scalar_type(), "temporal_iou", [&] {
    const scalar_t* pa = a.const_data_ptr<scalar_t>();
    const scalar_t* pb = b.const_data_ptr<scalar_t>();
    scalar_t* po = out.mutable_data_ptr<scalar_t>();
    at::parallel_for(0, k * m, 4096, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) po[i] = segment_iou(pa + (i / m) * 2, pb + (i % m) * 2);
    });
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(actionkit, CPU, m) {
  m.impl("nms", &nms_op<&mask_cpu>);
  m.impl("temporal_nms", &temporal_nms_op<&mask_cpu>);
  m.impl("temporal_iou", &temporal_iou_op<&temporal_iou_cpu>);
}

}  // namespace actionkit::kernels::nms
