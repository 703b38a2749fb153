// CPU runners of soft-NMS: the shared sequential routines, called directly.
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include "../../common/cpu_clones.h"
#include "soft_nms.h"

namespace actionkit::kernels::soft_nms {
namespace {

// The box routine for float and double, cloned per ISA (its decay loop vectorises).
AK_CPU_CLONES int64_t boxes_f32(float* c, float* score, float* area, int64_t* inds, float* dets,
                                int64_t n, const BoxArgs& a) {
  return soft_nms<float>(c, c + n, c + 2 * n, c + 3 * n, score, area, inds, dets, n,
                         static_cast<float>(a.threshold), static_cast<float>(a.sigma),
                         static_cast<float>(a.min_score), a.method, static_cast<float>(a.offset));
}
AK_CPU_CLONES int64_t boxes_f64(double* c, double* score, double* area, int64_t* inds, double* dets,
                                int64_t n, const BoxArgs& a) {
  return soft_nms<double>(c, c + n, c + 2 * n, c + 3 * n, score, area, inds, dets, n, a.threshold,
                          a.sigma, a.min_score, a.method, a.offset);
}

void run_boxes_cpu(at::Tensor& cols, at::Tensor& score, at::Tensor& area, at::Tensor& inds,
                   at::Tensor& dets, at::Tensor& count, const BoxArgs& a) {
  const int64_t n = score.size(0);
  int64_t kept = 0;
  if (cols.scalar_type() == at::kFloat) {
    kept = boxes_f32(cols.mutable_data_ptr<float>(), score.mutable_data_ptr<float>(),
                     area.mutable_data_ptr<float>(), inds.mutable_data_ptr<int64_t>(),
                     dets.mutable_data_ptr<float>(), n, a);
  } else {
    TORCH_CHECK(cols.scalar_type() == at::kDouble, "soft_nms: boxes must be float or double");
    kept = boxes_f64(cols.mutable_data_ptr<double>(), score.mutable_data_ptr<double>(),
                     area.mutable_data_ptr<double>(), inds.mutable_data_ptr<int64_t>(),
                     dets.mutable_data_ptr<double>(), n, a);
  }
  count.mutable_data_ptr<int64_t>()[0] = kept;
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
