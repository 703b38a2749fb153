// Soft-NMS for boxes and temporal proposals: schema, argument checks and the
// device-generic preparation around the backends' sequential runners.
#include "soft_nms.h"

#include <ATen/ops/arange.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/sort.h>
#include <ATen/ops/zeros.h>
#include <torch/library.h>

namespace actionkit::kernels::soft_nms {
namespace {

void check(const at::Tensor& rows, const at::Tensor& scores, int64_t width, const char* op,
           const char* arg) {
  TORCH_CHECK(at::isFloatingType(rows.scalar_type()), op, ": ", arg,
              " must be a floating-point tensor, got dtype ", rows.scalar_type());
  TORCH_CHECK(rows.dim() == 2 && rows.size(1) == width, op, ": ", arg, " must have shape [K, ",
              width, "], got ", rows.sizes());
  TORCH_CHECK(at::isFloatingType(scores.scalar_type()) && scores.dim() == 1 &&
                  scores.size(0) == rows.size(0),
              op, ": scores must be a floating-point tensor of shape [K] = [", rows.size(0),
              "], got ", scores.scalar_type(), " ", scores.sizes());
  TORCH_CHECK(scores.device() == rows.device(), op, ": scores is on ", scores.device(), " but ",
              arg, " is on ", rows.device());
}

at::ScalarType work_dtype(const at::Tensor& t) {
  return t.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
}

int64_t method_code(c10::string_view method) {
  if (method == "naive") return kNaive;
  if (method == "linear") return kLinear;
  if (method == "gaussian") return kGaussian;
  TORCH_CHECK(false, "soft_nms: method must be \"linear\", \"gaussian\" or \"naive\", got \"",
              std::string(method), "\"");
}

}  // namespace

std::tuple<at::Tensor, at::Tensor> boxes(const at::Tensor& b, const at::Tensor& scores,
                                         double iou_threshold, double sigma, double min_score,
                                         c10::string_view method, int64_t offset, BoxRunner run) {
  check(b, scores, 4, "soft_nms", "boxes");
  const int64_t code = method_code(method);
  TORCH_CHECK(code != kGaussian || sigma > 0, "soft_nms: sigma must be positive, got ", sigma);
  TORCH_CHECK(offset == 0 || offset == 1, "soft_nms: offset must be 0 or 1, got ", offset);
  const auto work = work_dtype(b);
  const int64_t n = b.size(0);
  // The runner works in place: always on a copy (t().contiguous() alone may alias the input).
  at::Tensor cols = b.to(work).t().clone(at::MemoryFormat::Contiguous);
  at::Tensor score = scores.to(work).clone(at::MemoryFormat::Contiguous);
  at::Tensor area = at::empty({n}, cols.options());
  at::Tensor inds = at::arange(n, b.options().dtype(at::kLong));
  at::Tensor dets = at::empty({n, 5}, cols.options());
  at::Tensor count = at::zeros({1}, inds.options());
  run(cols, score, area, inds, dets, count,
      {iou_threshold, sigma, min_score, static_cast<double>(offset), code});
  const int64_t kept = count.item<int64_t>();
  return {dets.narrow(0, 0, kept).to(b.scalar_type()), inds.narrow(0, 0, kept)};
}

std::tuple<at::Tensor, at::Tensor> temporal(const at::Tensor& segments, const at::Tensor& scores,
                                            double alpha, double low_threshold,
                                            double high_threshold, int64_t top_k, bool legacy_top_k,
                                            TemporalRunner run) {
  check(segments, scores, 2, "temporal_soft_nms", "segments");
  TORCH_CHECK(alpha > 0, "temporal_soft_nms: alpha must be positive, got ", alpha);
  TORCH_CHECK(top_k >= 0, "temporal_soft_nms: top_k must be non-negative, got ", top_k);
  const auto work = work_dtype(segments);
  const int64_t n = segments.size(0);
  // Sorted by decreasing score, equal scores in input order.
  const at::Tensor order = std::get<1>(scores.sort(/*stable=*/true, 0, /*descending=*/true));
  at::Tensor cols =
      segments.index_select(0, order).to(work).t().clone(at::MemoryFormat::Contiguous);
  at::Tensor score = scores.index_select(0, order).to(work).contiguous();
  at::Tensor inds = order.contiguous().clone();
  at::Tensor dets = at::empty({n, 3}, cols.options());
  at::Tensor keep = at::empty({n}, inds.options());
  at::Tensor count = at::zeros({1}, inds.options());
  // MMAction2's loop runs while it holds at most top_k proposals: top_k + 1 out.
  run(cols, score, inds, dets, keep, count,
      {alpha, low_threshold, high_threshold, legacy_top_k ? top_k + 1 : top_k});
  const int64_t kept = count.item<int64_t>();
  return {dets.narrow(0, 0, kept).to(segments.scalar_type()), keep.narrow(0, 0, kept)};
}

TORCH_LIBRARY_FRAGMENT(actionkit, m) {
  m.def(
      "soft_nms(Tensor boxes, Tensor scores, float iou_threshold=0.3, float sigma=0.5, "
      "float min_score=0.001, str method=\"linear\", int offset=0) -> (Tensor, Tensor)");
  m.def(
      "temporal_soft_nms(Tensor segments, Tensor scores, float alpha=0.4, "
      "float low_threshold=0.5, float high_threshold=0.9, int top_k=100, "
      "bool legacy_top_k=False) -> (Tensor, Tensor)");
}

}  // namespace actionkit::kernels::soft_nms
