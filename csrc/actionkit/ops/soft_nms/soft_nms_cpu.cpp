// CPU runners of soft-NMS: the shared sequential routines, called directly.
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include "soft_nms.h"

namespace actionkit::kernels::soft_nms {
namespace {

void run_boxes_cpu(at::Tensor& cols, at::Tensor& score, at::Tensor& area, at::Tensor& inds,
                   at::Tensor& dets, at::Tensor& count, const BoxArgs& a) {
  const int64_t n = score.size(0);
  AT_DISPATCH_FLOATING_TYPES(cols.scalar_type(), "soft_nms", [&] {
    scalar_t* c = cols.mutable_data_ptr<scalar_t>();
    count.mutable_data_ptr<int64_t>()[0] =
        soft_nms<scalar_t>(c, c + n, c + 2 * n, c + 3 * n, score.mutable_data_ptr<scalar_t>(),
                           area.mutable_data_ptr<scalar_t>(), inds.mutable_data_ptr<int64_t>(),
                           dets.mutable_data_ptr<scalar_t>(), n, static_cast<scalar_t>(a.threshold),
                           static_cast<scalar_t>(a.sigma), static_cast<scalar_t>(a.min_score),
                           a.method, static_cast<scalar_t>(a.offset));
  });
}

void run_temporal_cpu(at::Tensor& cols, at::Tensor& score, at::Tensor& inds, at::Tensor& dets,
                      at::Tensor& keep, at::Tensor& count, const TemporalArgs& a) {
  const int64_t n = score.size(0);
  AT_DISPATCH_FLOATING_TYPES(cols.scalar_type(), "temporal_soft_nms", [&] {
    scalar_t* c = cols.mutable_data_ptr<scalar_t>();
    count.mutable_data_ptr<int64_t>()[0] = temporal_soft_nms<scalar_t>(
        c, c + n, score.mutable_data_ptr<scalar_t>(), inds.mutable_data_ptr<int64_t>(),
        dets.mutable_data_ptr<scalar_t>(), keep.mutable_data_ptr<int64_t>(), n,
        static_cast<scalar_t>(a.alpha), static_cast<scalar_t>(a.low), static_cast<scalar_t>(a.high),
        a.limit);
  });
}

}  // namespace

TORCH_LIBRARY_IMPL(actionkit, CPU, m) {
  m.impl("soft_nms", &soft_nms_op<&run_boxes_cpu>);
  m.impl("temporal_soft_nms", &temporal_soft_nms_op<&run_temporal_cpu>);
}

}  // namespace actionkit::kernels::soft_nms
